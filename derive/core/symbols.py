"""The names of the mathematics, shared by every derivation and by the printers.

Layer quantities are SymPy ``Indexed`` objects whose **first index is the layer** and whose remaining indices are
unit indices, 1-based as in the book: ``w[l, j, k]`` is w^l_{jk}, ``a[l-1, k]`` is a^{l-1}_k, ``delta[L, j]`` is
δ^L_j. Targets ``y[j]`` have no layer. Concrete widths use integer indices; the all-widths proof uses Symbols.
Matrix quantities of the batch forms are ``MatrixSymbol`` objects named with their layer superscript
(``W^{l}``, ``A^{l-1}``, ``Delta^{l}``); what each stands for (quantity and layer) is
:meth:`derive.backprop.batch_names.Names.index`, so no reader parses a printed name. The parameter entries
``w[l, j, k]`` and ``b[l, j]`` belong to the dense layer (:class:`derive.layers.dense.DenseSym`), which is the one
place z = W a + b is written on the SymPy side.

``sigma`` and ``C`` are undefined functions: with them BP1-BP4 become structural identities that hold for every
differentiable activation and cost.
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "LAYERED",
    "C",
    "a",
    "b",
    "delta",
    "l",
    "sigma",
    "u",
    "w",
    "y",
    "z",
]

w = sp.IndexedBase("w")
b = sp.IndexedBase("b")
z = sp.IndexedBase("z")
a = sp.IndexedBase("a")
delta = sp.IndexedBase("delta")
y = sp.IndexedBase("y")
#: the normalised weighted input u^l_j the activation reads in a normalised layer (a^l = f(u^l))
u = sp.IndexedBase("u")

#: IndexedBase names whose first index is a layer (printed as a superscript).
LAYERED = frozenset({"w", "b", "z", "a", "delta", "u"})

sigma = sp.Function("sigma")
C = sp.Function("C")

l = sp.Symbol("l", integer=True, positive=True)
