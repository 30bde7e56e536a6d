"""The dense layer, SymPy side: z^l_j = Σ_k w^l_{jk} a^{l-1}_k + b^l_j, the one place derive writes it.

The SymPy half of :class:`numeric.layers.Dense` (paired by ``kind = "dense"``). The forward is given three ways,
each built from the same two accessors (a weight entry, a bias entry), so they cannot drift apart:

* **index form** (:meth:`DenseSym.forward`): a ``Sum`` over the book-indexed ``IndexedBase`` entries, at symbolic
  or concrete widths (the all-widths proof, :mod:`derive.backprop.general_rule`);
* **written out** (:meth:`DenseSym.forward_at`): every unit at concrete widths, over any entries (symbols,
  partially evaluated symbols, 60-digit numbers): :mod:`derive.backprop.fixed_width`,
  :mod:`derive.backprop.compose`, :mod:`derive.backprop.end_to_end`;
* **on a batch** (:meth:`DenseSym.batch_entry`, :meth:`DenseSym.batch_matrix`): the entry (unit, sample) of
  Z^l = W^l A^{l-1} + b^l 𝟙ᵀ (columns) or Z^l = A^{l-1} W^l + 𝟙 b^l (rows), and that matrix expression
  (:mod:`derive.backprop.batch`).

Book indices (docs/conventions.md): w^l_{jk} connects unit k of layer l-1 to unit j of layer l, 1-based; the
layout only decides where an entry is *stored* (:meth:`Param.position`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from derive.core.symbols import b as b_base
from derive.core.symbols import w as w_base
from numeric.spec import Layout

__all__ = ["DenseSym", "Param"]

Expr = sp.Expr


@dataclass(frozen=True)
class Param:
    """One parameter of a layer: ``key`` (``W2``), matrix ``name`` (``W``), book entries ``base[l, ...]``, TeX.

    ``unit_indices`` is how many unit indices an entry takes after the layer index (2 for w^l_{jk}, 1 for b^l_j);
    ``rows``/``cols`` the shape in the columns layout.
    """

    name: str
    layer: Any
    base: sp.IndexedBase
    unit_indices: int
    rows: Any
    cols: Any

    @property
    def key(self) -> str:
        """The parameter's key in a parameter dict (``W2``, ``b2``), as :mod:`numeric.layers` names it."""
        return f"{self.name}{self.layer}"

    @property
    def tex(self) -> str:
        return f"{self.name}^{{{sp.latex(self.layer)}}}"

    def entry(self, *units: Any) -> sp.Indexed:
        """The book-indexed entry (1-based units): ``w[l, j, k]`` or ``b[l, j]``."""
        return self.base[(self.layer, *units)]

    def shape(self, layout: Layout) -> tuple:
        return layout.matrix(self.rows, self.cols) if self.unit_indices == 2 else layout.vector(self.rows)

    def position(self, layout: Layout, *units: int) -> tuple[int, int]:
        """Where the entry of 0-based unit indices is stored in the matrix of ``layout``."""
        pair = units if len(units) == 2 else (units[0], 0)
        return pair if Layout(layout).columns else (pair[1], pair[0])

    def matrix(self, layout: Layout) -> sp.Matrix:
        """The parameter as a matrix of its book-indexed entries, stored in ``layout``."""
        rows, cols = self.shape(layout)
        flip = not Layout(layout).columns

        def at(r: int, c: int) -> sp.Indexed:
            units = (c, r) if flip else (r, c)
            return self.entry(*[u + 1 for u in units[: self.unit_indices]])

        return sp.Matrix(rows, cols, at)


@dataclass(frozen=True)
class DenseSym:
    """Layer ``index`` (an integer or a Symbol) from ``n_in`` to ``n_out`` units (integers or Symbols)."""

    kind: ClassVar[str] = "dense"
    index: Any
    n_in: Any
    n_out: Any
    bias: bool = True

    @classmethod
    def of(cls, layer: Any, *, widths: Callable[[Any], Any] | None = None) -> DenseSym:
        """The SymPy half of a :class:`numeric.layers.Dense`; ``widths(l)`` replaces its widths by symbols."""
        l = layer.index
        if widths is None:
            return cls(l, layer.n_in, layer.n_out, layer.bias)
        return cls(l, widths(l - 1), widths(l), layer.bias)

    # ----- parameters ---------------------------------------------------------------------------------------------
    @property
    def W(self) -> Param:
        return Param("W", self.index, w_base, 2, self.n_out, self.n_in)

    @property
    def b(self) -> Param:
        return Param("b", self.index, b_base, 1, self.n_out, 1)

    @property
    def params(self) -> tuple[Param, ...]:
        """Every parameter, in the order of :meth:`numeric.layers.Dense.param_names`."""
        return (self.W, self.b) if self.bias else (self.W,)

    def param_entries(self) -> list[sp.Indexed]:
        """Every parameter entry, W's row by row (unit j, then k) and then b's."""
        out = [self.W.entry(j, k) for j in range(1, self.n_out + 1) for k in range(1, self.n_in + 1)]
        return out + ([self.b.entry(j) for j in range(1, self.n_out + 1)] if self.bias else [])

    # ----- the forward ----------------------------------------------------------------------------------------------
    def forward(self, unit: Any, previous: Callable[[Any], Expr], k: sp.Symbol) -> Expr:
        """z^l_unit = Σ_{k=1}^{n_in} w^l_{unit,k} previous(k) + b^l_unit (1-based, a ``Sum``)."""
        z = sp.Sum(self.W.entry(unit, k) * previous(k), (k, 1, self.n_in))
        return z + self.b.entry(unit) if self.bias else z

    def forward_at(self, previous: Sequence[Any], *, value: Callable[[sp.Indexed], Any] | None = None,
                   add: Callable[[list], Any] = lambda terms: sp.Add(*terms)) -> list:
        """Every z^l_j (j = 1..n_out) written out over ``previous`` (a^{l-1}_1.. as a 0-based list).

        ``value`` maps each book entry (w[l, j, k], b[l, j]) to what is used for it (default: the symbol itself;
        a partially evaluated leaf, a 60-digit number); ``add`` sums the weighted terms (``sp.Add``; ``mpmath.fsum``).
        """
        value = value or (lambda entry: entry)
        units = []
        for j in range(1, int(self.n_out) + 1):
            terms = [value(self.W.entry(j, k)) * previous[k - 1] for k in range(1, int(self.n_in) + 1)]
            z = add(terms)  # the weighted sum, then the bias (the order 60-digit evaluations have always used)
            units.append(z + value(self.b.entry(j)) if self.bias else z)
        return units

    def batch_entry(self, W: sp.MatrixSymbol, b: sp.MatrixSymbol, previous: Callable[[Any, Any], Expr],
                    unit: Any, sample: Any, k: sp.Symbol, layout: Layout, ones: sp.MatrixSymbol) -> Expr:
        """Entry (unit, sample) of Z^l, 0-based, with W, b stored in ``layout`` and 𝟙 the batch vector ``ones``.

        ``previous(k, sample)`` is entry (k, sample) of A^{l-1} (in the (unit, sample) sense).
        """
        if Layout(layout).columns:
            z = sp.Sum(W[unit, k] * previous(k, sample), (k, 0, self.n_in - 1))
            return z + b[unit, 0] * ones[sample, 0] if self.bias else z
        z = sp.Sum(previous(k, sample) * W[k, unit], (k, 0, self.n_in - 1))
        return z + ones[sample, 0] * b[0, unit] if self.bias else z

    def batch_matrix(self, W: MatrixExpr, A: MatrixExpr, b: MatrixExpr, layout: Layout, m: Any) -> MatrixExpr:
        """Z^l = W^l A^{l-1} + b^l 𝟙ᵀ (columns) or A^{l-1} W^l + 𝟙 b^l (rows), 𝟙 the all-ones batch vector."""
        if Layout(layout).columns:
            lin = W * A
            return lin + b * sp.OneMatrix(1, m) if self.bias else lin
        lin = A * W
        return lin + sp.OneMatrix(m, 1) * b if self.bias else lin

    # ----- printing -----------------------------------------------------------------------------------------------
    def tex(self, layout: Layout = Layout.COLUMNS) -> str:
        """The forward on a batch, as the book prints it."""
        l = sp.latex(self.index)
        prev = sp.latex(self.index - 1)
        if Layout(layout).columns:
            lin = f"W^{{{l}}} A^{{{prev}}}"
            return lin + (rf" + b^{{{l}}} \mathbb{{1}}^{{\mathsf{{T}}}}" if self.bias else "")
        lin = f"A^{{{prev}}} W^{{{l}}}"
        return lin + (rf" + \mathbb{{1}} b^{{{l}}}" if self.bias else "")

    def index_tex(self) -> str:
        """z^l_j = Σ_k w^l_{jk} a^{l-1}_k + b^l_j."""
        l, prev = sp.latex(self.index), sp.latex(self.index - 1)
        text = rf"z^{{{l}}}_j = \sum_{{k}} w^{{{l}}}_{{jk}} a^{{{prev}}}_k"
        return text + (f" + b^{{{l}}}_j" if self.bias else "")
