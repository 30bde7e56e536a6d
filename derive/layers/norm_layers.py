"""Batch and layer normalisation as layers, SymPy side: the halves of :class:`numeric.normalisation.BatchNorm` and
:class:`numeric.normalisation.LayerNorm` (paired by ``kind``), their parameters, forms, derivation and TeX.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import sympy as sp

from derive.core.steps import Derivation
from derive.layers.arrays import ArraySymbol
from derive.layers.dense import Param
from derive.layers.norm_forms import STAT_AXIS, backward_forms, forward_forms
from derive.layers.normalisation import derive_normalisation
from numeric.errors import BadInput
from numeric.spec import Layout

__all__ = ["BatchNormSym", "LayerNormSym"]


@dataclass(frozen=True)
class _NormalisationSym:
    """Normalisation of layer ``index`` (``n`` units, an integer or a Symbol); gamma, beta shaped like the bias."""

    kind: ClassVar[str] = ""
    index: Any
    n: Any

    @classmethod
    def of(cls, layer: Any, *, widths: Callable[[Any], Any] | None = None) -> _NormalisationSym:
        """The SymPy half of a :class:`numeric.normalisation.Normalisation`; ``widths(l)`` replaces n by a symbol."""
        if getattr(layer, "kind", None) != cls.kind:
            raise BadInput(f"{cls.__name__} is the SymPy half of a {cls.kind} layer, not of {layer!r}")
        return cls(layer.index, layer.n if widths is None else widths(layer.index))

    @property
    def stat_axis(self) -> int:
        return STAT_AXIS[self.kind]

    @property
    def gamma(self) -> Param:
        return Param("gamma", self.index, sp.IndexedBase("gamma"), 1, self.n, 1)

    @property
    def beta(self) -> Param:
        return Param("beta", self.index, sp.IndexedBase("beta"), 1, self.n, 1)

    @property
    def params(self) -> tuple[Param, ...]:
        """gamma{l}, beta{l}, in the order of :meth:`numeric.normalisation.Normalisation.param_names`."""
        return (self.gamma, self.beta)

    def forward_forms(self) -> list[tuple[ArraySymbol, sp.Expr]]:
        return forward_forms(self.kind)

    def backward_forms(self) -> list[tuple[ArraySymbol, sp.Expr]]:
        return backward_forms(self.kind)

    def derivation(self) -> Derivation:
        return derive_normalisation(self.kind)

    def hat_tex(self) -> str:
        """The normalisation as the book prints it."""
        l = sp.latex(self.index)
        return rf"\hat{{z}}^{{{l}}} = (z^{{{l}}} - \mu^{{{l}}}) / \sqrt{{(\sigma^{{{l}}})^2 + \epsilon}}"

    def stats_tex(self) -> str:
        """mu and sigma^2 as sums along the statistics axis."""
        l = sp.latex(self.index)
        idx, count_tex = ("i", "m") if self.stat_axis == 1 else ("j", f"n_{{{l}}}")
        return (rf"\mu^{{{l}}} = \frac{{1}}{{{count_tex}}} \sum_{{{idx}}} z^{{{l}}}_{{{idx}}}, \quad "
                rf"(\sigma^{{{l}}})^2 = \frac{{1}}{{{count_tex}}} \sum_{{{idx}}} (z^{{{l}}}_{{{idx}}} - \mu^{{{l}}})^2")

    def tex(self, layout: Layout = Layout.COLUMNS) -> str:
        """The output y^l = gamma^l (.) z_hat^l + beta^l (per unit, the same in either layout)."""
        l = sp.latex(self.index)
        return rf"\gamma^{{{l}}} \odot \hat{{z}}^{{{l}}} + \beta^{{{l}}}"


@dataclass(frozen=True)
class BatchNormSym(_NormalisationSym):
    """Batch normalisation, SymPy side: statistics per unit over the samples of the batch."""

    kind: ClassVar[str] = "batchnorm"


@dataclass(frozen=True)
class LayerNormSym(_NormalisationSym):
    """Layer normalisation, SymPy side: statistics per sample over the units of the layer."""

    kind: ClassVar[str] = "layernorm"
