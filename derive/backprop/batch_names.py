"""The matrix names of the batch forms (``W^{2}``, ``A^{1}``, ``Delta^{2}``), per layout, with their layer index.

Every name is a ``MatrixSymbol`` shaped as the spec stores it (docs/conventions.md § Parameters) at symbolic widths
n_l and batch size m. Readers never parse a printed name: :meth:`Names.index` maps each symbol to its
:class:`MatrixName` (quantity and layer), and :meth:`Names.layer_of` reads the layer of any node of a form.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.backprop.batch_nodes import Apply, Gradient
from numeric.spec import Layout

__all__ = ["QUANTITIES", "MatrixName", "Names", "m", "width"]

m = sp.Symbol("m", integer=True, positive=True)

#: the per-layer matrices of the batch forms (Y, the targets, belongs to the output layer)
QUANTITIES = ("W", "b", "Z", "A", "Delta", "E")


def width(l) -> sp.Symbol:
    return sp.Symbol(f"n_{l}", integer=True, positive=True)


@dataclass(frozen=True)
class MatrixName:
    """What a matrix name stands for: ``quantity`` (``W``, ``A``, ``Delta``, ``nabla_W``, ...) of ``layer``."""

    quantity: str
    layer: int

    @property
    def code(self) -> str:
        """The name generated code gives it (``W2``, ``A1``, ``Delta2``, ``nabla_W2``)."""
        return f"{self.quantity}{self.layer}"


@dataclass(frozen=True)
class Names:
    """The MatrixSymbols of one layout, named as the book writes them (``W^{2}``, ``A^{1}``, ``Delta^{2}``)."""

    layout: Layout

    def __post_init__(self) -> None:
        object.__setattr__(self, "layout", Layout(self.layout))

    def _shape(self, rows: sp.Expr, cols: sp.Expr) -> tuple:
        """(rows, cols) as the columns layout writes them, transposed for the rows layout."""
        return (rows, cols) if self.layout.columns else (cols, rows)

    def _batch(self, name: str, l) -> sp.MatrixSymbol:
        return sp.MatrixSymbol(f"{name}^{{{l}}}", *self._shape(width(l), m))

    def W(self, l) -> sp.MatrixSymbol:
        return sp.MatrixSymbol(f"W^{{{l}}}", *self._shape(width(l), width(l - 1)))

    def b(self, l) -> sp.MatrixSymbol:
        return sp.MatrixSymbol(f"b^{{{l}}}", *self._shape(width(l), 1))

    def Z(self, l) -> sp.MatrixSymbol:
        return self._batch("Z", l)

    def A(self, l) -> sp.MatrixSymbol:
        return self._batch("A", l)

    def Delta(self, l) -> sp.MatrixSymbol:
        return self._batch("Delta", l)

    def E(self, l) -> sp.MatrixSymbol:
        return self._batch("E", l)

    def Y(self, L) -> sp.MatrixSymbol:
        return sp.MatrixSymbol("Y", *self._shape(width(L), m))

    def nabla_W(self, l) -> sp.MatrixSymbol:
        return Gradient("W", l, *self.W(l).shape)

    def nabla_b(self, l) -> sp.MatrixSymbol:
        return Gradient("b", l, *self.b(l).shape)

    def entry(self, M: sp.MatrixSymbol, unit, sample):
        """The (unit, sample) entry of a batch matrix stored in this layout."""
        return M[unit, sample] if self.layout.columns else M[sample, unit]

    # ----- what each name stands for --------------------------------------------------------------------------
    def index(self, L: int) -> dict[sp.MatrixSymbol, MatrixName]:
        """Every name of a net with ``L`` layers -> its :class:`MatrixName` (A^0 is the input X)."""
        out: dict[sp.MatrixSymbol, MatrixName] = {self.A(0): MatrixName("A", 0), self.Y(L): MatrixName("Y", L)}
        for l in range(1, L + 1):
            for quantity in QUANTITIES:
                out[getattr(self, quantity)(l)] = MatrixName(quantity, l)
            out[self.nabla_W(l)] = MatrixName("nabla_W", l)
            out[self.nabla_b(l)] = MatrixName("nabla_b", l)
        return out

    def layer_of(self, expr, L: int) -> int:
        """The layer of a name, of a gradient, of an :class:`Apply` (its first operand) or of a transpose."""
        if isinstance(expr, Gradient):
            return expr.layer
        if isinstance(expr, Apply):
            return self.layer_of(expr.operands[0], L)
        if isinstance(expr, sp.Transpose):
            return self.layer_of(expr.arg, L)
        try:
            return self.index(L)[expr].layer
        except KeyError:
            raise KeyError(f"{expr} is not a matrix name of a {L}-layer net") from None
