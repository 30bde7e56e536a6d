"""The index symbols and small SymPy-to-TeX pieces the report's sections share.

``j, k, l`` index units and layers, ``x`` a sample of a batch of ``m``; ``L`` is the output layer. Batch matrices
(``W^l``, ``A^{l-1}``, ``Z^l``) are 1 x 1 matrix symbols: only their names and products are printed.
"""

from __future__ import annotations

import sympy as sp

from derive.core.book import book_latex
from numeric.spec import ModelSpec

__all__ = ["L_OUT", "L_SYM", "J", "K", "M", "X", "batch_cost", "batch_z", "inline", "mat", "shape_tex"]

J, K, L_SYM, X = sp.symbols("j k l x", integer=True, positive=True)
M = sp.Symbol("m", integer=True, positive=True)
L_OUT = sp.Symbol("L", integer=True, positive=True)


def inline(expr: sp.Basic) -> str:
    """Inline math of a SymPy object."""
    return f"${book_latex(expr)}$"


def shape_tex(shape: tuple[int | str, ...]) -> str:
    return "$" + " \\times ".join(str(s) for s in shape) + "$"


def mat(name: str) -> sp.MatrixSymbol:
    return sp.MatrixSymbol(name, 1, 1)


def batch_z(spec: ModelSpec) -> sp.Expr:
    """Z^l of a whole batch in the model's layout: W^l A^{l-1} (+ b^l) for columns, A^{l-1} W^l (+ b^l) for rows."""
    W_l, A_prev = mat("W^{l}"), mat("A^{l-1}")
    z_batch = W_l * A_prev if spec.layout.columns else A_prev * W_l
    return z_batch + mat("b^{l}") if spec.bias else z_batch


def batch_cost(spec: ModelSpec) -> sp.Expr:
    """C = (1/m) sum_x C_x, or the sum."""
    total = sp.Sum(sp.IndexedBase("C")[X], (X, 1, M))
    return total / M if spec.reduction == "mean" else total
