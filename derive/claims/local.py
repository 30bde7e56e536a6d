"""Local derivatives ∂u/∂v between quantities of the model (∂a^l/∂z^l, ∂z^l_j/∂w^l_{jk}, ∂z^{l+1}/∂a^l, ...).

The true value is computed, never typed in: the node v (a leaf w^l_{jk}, b^l_j, x_k, or an inner node z^l_j, a^l_j)
is moved by a symbol t in the model's own forward pass (:func:`derive.backprop.compose.compose_model`, through
:meth:`Instance.moved` and :meth:`Instance.moved_hidden`), u is evaluated on that moved forward pass
(:class:`TangentEvaluator`: the evaluator with values that are expressions in t), and ``sympy.diff`` by t at t = 0
gives ∂u/∂v. So ∂z/∂v is the derivative along the computation graph: everything downstream of v moves with it.

Shapes: u a scalar, v an element: a scalar. u a vector (or matrix), v an element: the shape of u. u a scalar, v a
vector or matrix: the shape of v (the gradient, as ∂C/∂a). u and v vectors: the Jacobian, ``numerator`` layout
(J_iq = ∂u_i/∂v_q, the default) or ``denominator`` (its transpose). u a vector, v a matrix (∂z/∂W): a 3-tensor,
written in notes by its one non-zero row: when ∂u_i/∂W_jk = 0 for i ≠ j and every row j has the same
∂u_j/∂W_{j·}, that row (a row vector in the numerator layout, a column in the denominator layout); else not
checkable.
"""

from __future__ import annotations

import sympy as sp

from derive.backprop.compose import ProvenActivation
from derive.backprop.compose import x as x_base
from derive.claims.evaluator import Evaluator
from derive.claims.instance import value_of
from derive.claims.ir import Deriv, Mat
from derive.claims.semantics import NotCheckable
from derive.core.symbols import a as a_base
from derive.core.symbols import b as b_base
from derive.core.symbols import w as w_base
from derive.core.symbols import z as z_base

__all__ = ["Moved", "TangentEvaluator", "has_jacobian", "local_derivative"]

_T = sp.Symbol("t_local")


class Moved:
    """The instance's values with one node moved by t: ``node`` is ("w", l, j, k), ("b", l, j), ("x", k),
    ("z", l, j) or ("a", l, j). z, a and the parameters are expressions in t; anything else is delegated."""

    def __init__(self, inst, p: int, node: tuple):
        self.inst, self.p, self.node = inst, p, node

    def __getattr__(self, name):
        return getattr(self.inst, name)

    def _leaf(self):
        kind = self.node[0]
        if kind == "w":
            return w_base[self.node[1:]]
        if kind == "b":
            return b_base[self.node[1:]]
        if kind == "x":
            return x_base[1, self.node[1]]
        return None

    def _value(self, which: str, p: int, l: int, s: int, j: int):
        if s != 1:
            raise NotCheckable("a local derivative on a batch (write it for one sample)")
        kind, inst = self.node[0], self.inst
        leaf = self._leaf()
        if leaf is not None:
            cm = inst.moved(p, leaf, _T)
        elif kind == "z":
            cm = inst.composed(p, shift=(self.node[1], self.node[2], _T))
        else:
            lv, jv = self.node[1], self.node[2]
            if l < lv or (l == lv and which == "z"):
                return getattr(inst, which)(p, l, s, j)
            if l == lv:
                return inst.a(p, l, s, j) + (_T if j == jv else 0)
            cm, l = inst.moved_hidden(p, lv, jv, _T), l - lv
        return (cm.z if which == "z" else cm.a)[l][0][j - 1]

    def a(self, p: int, l: int, s: int, j: int):
        return self._value("a", p, l, s, j)

    def z(self, p: int, l: int, s: int, j: int):
        return self._value("z", p, l, s, j)

    def param(self, p: int, sym):
        v = self.inst.param(p, sym)
        return v + _T if sym == self._leaf() else v

    def _second(self, *args):
        raise NotCheckable("a derivative of a derivative (only first local derivatives are computed)")

    delta = dC = dC_da_out = dC_dx = dC_da_hidden = cost = _second


class TangentEvaluator(Evaluator):
    """The evaluator on a :class:`Moved` instance: values stay expressions in t (no rounding to numbers)."""

    def num(self, r):
        return r

    def value(self, e):
        if isinstance(e, Deriv):
            raise NotCheckable("a derivative of a derivative (only first local derivatives are computed)")
        return super().value(e)


def _at_zero(v):
    def one(x):
        d = sp.diff(x, _T).xreplace({_T: sp.Integer(0)}) if isinstance(x, sp.Basic) else sp.Integer(0)
        if d.has(ProvenActivation):
            d = d.replace(lambda q: isinstance(q, ProvenActivation), lambda q: q.definition())
        return value_of(d)

    return v.applyfunc(one) if isinstance(v, sp.MatrixBase) else one(v)


def _node(ev: Evaluator, v: sp.Indexed) -> tuple:
    idx = [ev.idx(i) for i in v.indices]
    l = idx[0]
    if v.base == a_base:
        ev.check_layer(l, 0)
        j = ev.check_unit(l, idx[1])
        return ("x", j) if l == 0 else ("a", l, j)
    ev.check_layer(l)
    if v.base == w_base:
        return "w", l, ev.check_unit(l, idx[1]), ev.check_unit(l - 1, idx[2])
    if v.base in (b_base, z_base):
        return ("b" if v.base == b_base else "z"), l, ev.check_unit(l, idx[1])
    raise NotCheckable(f"a derivative with respect to {v.base}")


def _grid(ev: Evaluator, v: Mat) -> list[list[tuple]]:
    """The nodes of a vector or matrix v, in the shape its value has."""
    name = {"x": "a", "W": "w"}.get(v.name, v.name)
    layer = 0 if v.name == "x" else (ev.idx(v.layer) if v.layer is not None else None)
    if layer is None or v.sample is not None or name not in ("a", "z", "b", "w"):
        raise NotCheckable(f"a derivative with respect to {v.name} (understood: a, z, b, W of one layer, or x)")
    ev.check_layer(layer, 0 if name == "a" else 1)
    if name == "w":
        n, q = ev.inst.width(layer), ev.inst.width(layer - 1)
        return [[_node(ev, w_base[layer, j, k]) for k in range(1, q + 1)] for j in range(1, n + 1)]
    base = {"a": a_base, "z": z_base, "b": b_base}[name]
    return [[_node(ev, base[layer, j])] for j in range(1, ev.inst.width(layer) + 1)]


def _tangent(ev: Evaluator, u, node: tuple):
    moved = Moved(ev.inst, ev.p, node)
    return _at_zero(TangentEvaluator(moved, ev.p, ev.bind, ev.reading, ev.layout).value(u))


def local_derivative(ev: Evaluator, e: Deriv):
    """The value of ∂u/∂v on the evaluator's instance and point (see the module doc for the shapes)."""
    u, v = e.args
    if ev.inst.m != 1:
        raise NotCheckable("a local derivative next to batch quantities (write it for one sample)")
    if isinstance(v, sp.Indexed):
        return _tangent(ev, u, _node(ev, v))
    if not isinstance(v, Mat):
        raise NotCheckable("a derivative with respect to something other than a quantity of the model")
    grid = _grid(ev, v)
    cells = [[_tangent(ev, u, node) for node in row] for row in grid]
    first = cells[0][0]
    if not isinstance(first, sp.MatrixBase):  # u a scalar: the gradient, shaped like v
        return sp.Matrix(cells)
    if min(first.shape) != 1:
        raise NotCheckable("a derivative of a matrix by a vector or matrix (a tensor)")
    numerator = ev.reading.jacobian != "denominator"
    if len(grid[0]) == 1:  # v a vector: the Jacobian
        cols = [list(c[0]) for c in cells]
        jac = sp.Matrix(cols).T
        return jac if numerator else jac.T
    return _tensor_row(cells, numerator)


def _tensor_row(cells, numerator: bool) -> sp.Matrix:
    """∂u/∂W with u a vector: the one row notes write (see the module doc), or not checkable."""
    n = len(cells)
    rows = []
    for j, row in enumerate(cells):
        for col in row:
            if len(col) != n or any(col[i] != 0 for i in range(n) if i != j):
                raise NotCheckable("a vector's derivative by a matrix is a 3-tensor (write it for one element, "
                                   "\\partial z_j / \\partial w_{jk})")
        rows.append([col[j] for col in row])
    if any(r != rows[0] for r in rows):
        raise NotCheckable("a vector's derivative by a matrix is a 3-tensor whose rows differ")
    g = sp.Matrix([rows[0]])
    return g if numerator else g.T


def has_jacobian(expr: sp.Basic) -> bool:
    """True when a derivative of a vector by a vector or matrix appears (its layout is a convention)."""
    return any(isinstance(n, Deriv) and not n.args[0].is_commutative and not n.args[1].is_commutative
               for n in sp.preorder_traversal(expr))
