"""The batch forms as the book writes them: the layer's forward on a batch, BP1-BP4 for whole batches.

These are *typed-in* forms: the forward Z^l comes from the layer object (:mod:`derive.layers`), the others are the
textbook claims that :mod:`derive.backprop.batch` compares with what it derives, and the forms the element-wise
checks (:mod:`derive.backprop.batch_check`) evaluate.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from derive.backprop.batch_names import Names, m, width
from derive.backprop.batch_nodes import Apply, Fn
from derive.backprop.output_delta import FUSED, derive_output_delta
from derive.layers import symbolic_layer
from derive.layers.dense import DenseSym
from numeric.spec import Layout, ModelSpec

__all__ = ["backprop_form", "bias_form", "dense_at", "layer_at", "output_form", "softmax_jacobian_t", "weight_form",
           "z_form"]


def dense_at(l: int, bias: bool) -> DenseSym:
    """Dense layer ``l`` at the symbolic widths n_{l-1} -> n_l of the batch forms."""
    return DenseSym(l, width(l - 1), width(l), bias)


def layer_at(spec: ModelSpec, l: int) -> DenseSym:
    """The spec's layer ``l``, SymPy side, at the symbolic widths of the batch forms."""
    return symbolic_layer(spec.layers[l - 1], widths=width)


def z_form(N: Names, layer: DenseSym) -> MatrixExpr:
    """Z^l = W^l A^{l-1} + b^l 1^T (columns) or A^{l-1} W^l + 1 b^l (rows): the layer's forward on a batch."""
    l = layer.index
    return layer.batch_matrix(N.W(l), N.A(l - 1), N.b(l), N.layout, m)


def backprop_form(N: Names, l: int, upstream: sp.MatrixSymbol) -> MatrixExpr:
    """((W^{l+1})^T U) (.) sigma'(Z^l) (columns) or (U (W^{l+1})^T) (.) sigma'(Z^l) (rows)."""
    W = N.W(l + 1)
    back = W.T * upstream if N.layout.columns else upstream * W.T
    return sp.HadamardProduct(back, Apply(Fn.DERIVATIVE, N.Z(l)))


def weight_form(N: Names, l: int, err: MatrixExpr, scale: sp.Expr) -> MatrixExpr:
    """scale Delta^l (A^{l-1})^T (columns) or scale (A^{l-1})^T Delta^l (rows)."""
    A = N.A(l - 1)
    prod = err * A.T if N.layout.columns else A.T * err
    return scale * prod if scale != 1 else prod


def bias_form(N: Names, err: MatrixExpr, scale: sp.Expr) -> MatrixExpr:
    """scale Delta^l 1 (columns) or scale 1^T Delta^l (rows)."""
    prod = err * sp.OneMatrix(m, 1) if N.layout.columns else sp.OneMatrix(1, m) * err
    return scale * prod if scale != 1 else prod


def output_form(N: Names, spec: ModelSpec) -> MatrixExpr:
    """Delta^L: A^L - Y where :mod:`derive.backprop.output_delta` proved the fused form, else dC/dA (.) f'(Z^L)
    (BP1)."""
    L = spec.L
    act = spec.activations[-1]
    if (act.name, spec.cost) in FUSED:
        od = derive_output_delta(act, spec.cost)
        if od.fused and od.derivation["out.fused"].holds:
            return N.A(L) - N.Y(L)
    if not act.entry.elementwise:
        # each sample's error is J^T dC/da with J = diag(s) - s s^T (derive.functions.activations)
        return Apply(Fn.VJP, N.A(L), Apply(Fn.COST_GRADIENT, N.A(L), N.Y(L)))
    return sp.HadamardProduct(Apply(Fn.COST_GRADIENT, N.A(L), N.Y(L)), Apply(Fn.DERIVATIVE, N.Z(L)))


def softmax_jacobian_t(layout: Layout) -> Callable[[sp.Matrix, sp.Matrix], sp.Matrix]:
    """Explicit J(s)^T g per sample, J = diag(s) - s s^T: entries s_i (g_i - sum_k s_k g_k)."""
    cols = Layout(layout).columns

    def apply(A: sp.Matrix, G: sp.Matrix) -> sp.Matrix:
        out = A.applyfunc(lambda e: 0)
        samples = A.shape[1] if cols else A.shape[0]
        for x in range(samples):
            s = list(A[:, x]) if cols else list(A[x, :])
            g = list(G[:, x]) if cols else list(G[x, :])
            dot = sum((si * gi for si, gi in zip(s, g, strict=True)), sp.Integer(0))
            for i in range(len(s)):
                out[(i, x) if cols else (x, i)] = s[i] * (g[i] - dot)
        return out

    return apply
