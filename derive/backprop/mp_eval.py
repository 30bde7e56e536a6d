"""Evaluating a SymPy expression at numbers in mpmath arithmetic, once per distinct subexpression.

The end-to-end check differentiates the composed cost with ``sympy.diff`` and then needs the derivative's value at
the point. ``expr.xreplace(values)`` followed by ``sp.N`` rebuilds the whole tree with numbers in it (every node
re-evaluated through SymPy's constructors and assumptions) before evaluating it: ~1 s of the cold regression run.
This walks the same tree once, memoised by node (SymPy trees share subexpressions: the composed net holds one
object per unit), and evaluates each node in mpmath at the working precision. Nothing is simplified or
rewritten: the value is that of the expression as ``sympy.diff`` returned it.

Node types without a rule here (none in today's composed nets) are evaluated by SymPy itself, ``sp.N`` of the
node with its arguments' values substituted, so an unknown node costs time, never correctness.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import mpmath
import sympy as sp

__all__ = ["evaluate"]


def _number(e: sp.Expr, dps: int) -> mpmath.mpf:
    return mpmath.mpf(sp.Float(e, dps)._mpf_) if not isinstance(e, sp.Float) else mpmath.mpf(e._mpf_)


def _heaviside(v: mpmath.mpf, at_zero: mpmath.mpf | None) -> mpmath.mpf:
    if v > 0:
        return mpmath.mpf(1)
    if v < 0:
        return mpmath.mpf(0)
    if at_zero is None:
        raise ValueError("Heaviside(0) without a value at 0")
    return at_zero


def _piecewise(e: sp.Piecewise, ev) -> mpmath.mpf:
    for piece, cond in e.args:
        if cond is sp.true or _condition(cond, ev):
            return ev(piece)
    raise ValueError(f"no branch of {e} applies")


def _condition(cond, ev) -> bool:
    """A relational between evaluated sides (the branch conditions of the registry's activations)."""
    ops = {sp.StrictGreaterThan: lambda p, q: p > q, sp.GreaterThan: lambda p, q: p >= q,
           sp.StrictLessThan: lambda p, q: p < q, sp.LessThan: lambda p, q: p <= q}
    for kind, op in ops.items():
        if isinstance(cond, kind):
            return bool(op(ev(cond.lhs), ev(cond.rhs)))
    raise TypeError(f"condition {cond} not evaluated here")


_u = sp.Dummy("u")


@functools.cache
def _definition_at_u(cls: type, param: sp.Expr | None) -> sp.Expr:
    """An opaque activation's definition at a placeholder (evaluated per value: never rebuilt at a big argument)."""
    return (cls(_u) if param is None else cls(_u, param)).definition()


def evaluate(expr: sp.Expr, values: Mapping[sp.Expr, sp.Expr], dps: int) -> sp.Float:
    """The value of ``expr`` with the leaves in ``values`` replaced, evaluated at ``dps`` digits (module doc)."""
    with mpmath.workdps(dps):
        return sp.Float(_walk(expr, {k: _number(v, dps) for k, v in values.items()}, dps), dps)


def _walk(expr: sp.Expr, leaf: Mapping[sp.Expr, mpmath.mpf], dps: int) -> mpmath.mpf:
    """The mpmath value of ``expr`` at ``leaf``, each distinct node evaluated once."""
    from derive.backprop.compose import ProvenActivation

    memo: dict[int, tuple[sp.Basic, mpmath.mpf]] = {}  # the node is kept so that its id stays its own

    def ev(e: sp.Basic) -> mpmath.mpf:
        key = id(e)
        if key in memo:
            return memo[key][1]
        if e in leaf:
            out = leaf[e]
        elif e.is_Number or e.is_NumberSymbol:
            out = _number(e, dps)
        elif e.is_Add:
            out = mpmath.fsum(ev(t) for t in e.args)
        elif e.is_Mul:
            out = mpmath.fprod(ev(t) for t in e.args)
        elif e.is_Pow:
            base, exp = e.args
            out = ev(base) ** (int(exp) if exp.is_Integer else ev(exp))
        elif isinstance(e, sp.exp):
            out = mpmath.exp(ev(e.args[0]))
        elif isinstance(e, sp.log):
            out = mpmath.log(ev(e.args[0]))
        elif isinstance(e, sp.tanh):
            out = mpmath.tanh(ev(e.args[0]))
        elif isinstance(e, ProvenActivation):
            param = e.args[1] if len(e.args) > 1 else None
            out = _walk(_definition_at_u(e.func, param), {_u: ev(e.args[0])}, dps)
        elif isinstance(e, sp.Heaviside):
            out = _heaviside(ev(e.args[0]), ev(e.args[1]) if len(e.args) > 1 else None)
        elif isinstance(e, sp.Max):
            out = max(ev(t) for t in e.args)
        elif isinstance(e, sp.Min):
            out = min(ev(t) for t in e.args)
        elif isinstance(e, sp.Piecewise):
            out = _piecewise(e, ev)
        else:  # no rule: SymPy evaluates the node over its arguments' values
            args = {a: sp.Float(ev(a), dps) for a in e.args if isinstance(a, sp.Expr) and not a.is_Number}
            out = mpmath.mpf(sp.N(e.xreplace(args), dps)._mpf_)
        memo[key] = (e, out)
        return out

    return ev(expr)
