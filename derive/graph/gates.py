"""The gate kinds of a staged graph: their formulas, exact float evaluation, and their local rules.

Every kind of gate is one line of :data:`GATE_KINDS` (a formula in the local inputs u, v and the constant c).
:func:`local_rule` differentiates a formula with SymPy once per kind; the fused sigmoid gate's textbook closed form
sigma (1 - sigma) is a claim checked against the derivative of its definition before it is used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sympy as sp

from derive.core.proof import Check, prove_equal

__all__ = ["GATE_KINDS", "OUT", "RULES", "LocalRule", "PointError", "c", "float_value", "local_rule",
           "sigmoid_float", "u", "v"]

u, v = sp.symbols("u v", real=True)  # a gate's local inputs
c = sp.Symbol("c", real=True)  # a gate's constant


# ----- Gates: one line per kind (formula in the local inputs u, v and the constant c) -------------------------
GATE_KINDS: dict[str, tuple[int, sp.Expr, str]] = {
    "add": (2, u + v, "u + v"),
    "add-constant": (1, u + c, "u + c"),
    "multiply": (2, u * v, "u * v"),
    "multiply-by-constant": (1, c * u, "c * u"),
    "1/x": (1, 1 / u, "1/u"),
    "power-constant": (1, u ** c, "u^c"),
    "sqrt": (1, sp.sqrt(u), "sqrt(u)"),
    "constant-power": (1, c ** u, "c^u"),
    "power": (2, u ** v, "u^v"),
    "exp": (1, sp.exp(u), "exp(u)"),
    "log": (1, sp.log(u), "log(u)"),
    "tanh": (1, sp.tanh(u), "tanh(u)"),
    "max": (2, sp.Max(u, v), "max(u, v)"),
    "max-constant": (1, sp.Max(u, c), "max(u, c)"),
    "min": (2, sp.Min(u, v), "min(u, v)"),
    "min-constant": (1, sp.Min(u, c), "min(u, c)"),
    "sigmoid": (1, 1 / (1 + sp.exp(-u)), "1/(1 + exp(-u))"),
}


class PointError(ArithmeticError):
    """A value is undefined or not finite at the point (division by zero, log of a negative number, overflow)."""


def _heaviside(x: float, at_zero: float) -> float:
    return 1.0 if x > 0 else 0.0 if x < 0 else at_zero


def _pow(base: float, exp: float) -> float:
    if base == 0 and exp < 0:
        raise PointError("division by zero")
    if base < 0 and exp != int(exp):
        raise PointError("a negative number to a non-integer power")
    try:
        return float(base ** exp)
    except OverflowError:
        raise PointError("overflow in float64") from None


def _log(x: float) -> float:
    if x <= 0:
        raise PointError("log of a non-positive number")
    return math.log(x)


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        raise PointError("exp overflows in float64") from None


_FLOAT_FUNCS: dict[type, Callable[..., float]] = {
    sp.exp: _exp, sp.log: _log, sp.tanh: math.tanh, sp.Max: max, sp.Min: min,
}


def float_value(expr: sp.Expr, env: Mapping[sp.Symbol, float]) -> float:
    """``expr`` evaluated in float64 with ``env`` for its symbols (a tree walk: no lambdify, no exec).

    Raises :class:`PointError` where the value is undefined or overflows.

    >>> x = sp.Symbol("x")
    >>> float_value(1 / (1 + sp.exp(-x)), {x: 0.0})
    0.5
    """
    if isinstance(expr, sp.Symbol):
        return float(env[expr])
    if expr.is_number:
        try:
            value = complex(expr)
        except (TypeError, ValueError):
            raise PointError(f"the constant {expr} is not a number") from None
        if value.imag or not math.isfinite(value.real):
            raise PointError(f"the constant {expr} is not a finite real number")
        return value.real
    args = [float_value(a, env) for a in expr.args]
    if isinstance(expr, sp.Add):
        out = math.fsum(args)
    elif isinstance(expr, sp.Mul):
        out = math.prod(args)
    elif isinstance(expr, sp.Pow):
        out = _pow(*args)
    elif isinstance(expr, sp.Heaviside):
        out = _heaviside(args[0], args[1] if len(args) > 1 else 0.5)
    elif expr.func in _FLOAT_FUNCS:
        out = _FLOAT_FUNCS[expr.func](*args)
    else:
        raise PointError(f"no float64 evaluation for {expr.func.__name__}")
    if not math.isfinite(out):
        raise PointError("overflow in float64")
    return out


def sigmoid_float(x: float) -> float:
    """sigma(x) without overflow: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) below."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    ex = math.exp(x)
    return ex / (1.0 + ex)


@dataclass(frozen=True)
class LocalRule:
    """The derived local gradients of one kind of gate (in u, v, c) and, for sigmoid, the checked closed form.

    :func:`build_graph` takes ``rules={kind: LocalRule(...)}`` to replace a derived rule: the hook the tests use to
    plant a wrong local gradient and see every check catch it.
    """

    derivatives: tuple[sp.Expr, ...]
    closed_form: sp.Expr | None = None  # in terms of the gate's output symbol ``out``
    check: Check | None = None


OUT = sp.Symbol("out", real=True)
#: the derived local rules, per gate kind, filled on first use by :func:`local_rule`
RULES: dict[str, LocalRule] = {}


def local_rule(kind: str) -> LocalRule:
    """SymPy's derivatives of the gate formula with respect to each input (cached per kind)."""
    if kind not in RULES:
        arity, formula, _ = GATE_KINDS[kind]
        derivatives = tuple(sp.diff(formula, s) for s in (u, v)[:arity])
        if kind in ("max-constant", "min-constant"):
            # max(u, 0) is ReLU: ReLU'(0) = 0 (docs/conventions.md), so H(0) = 0 here instead of SymPy's 1/2. Two-input
            # max/min keep H(0) = 1/2, which splits the gradient at a tie (a subgradient, as torch.maximum does).
            derivatives = tuple(d.replace(sp.Heaviside, lambda arg, *_: sp.Heaviside(arg, 0)) for d in derivatives)
        if kind == "sigmoid":
            # Claim sigma' = sigma (1 - sigma), checked against the derivative of the definition before it is used.
            claim = OUT * (1 - OUT)
            check = prove_equal(derivatives[0], claim.xreplace({OUT: formula}))
            RULES[kind] = LocalRule(derivatives, claim, check)
        else:
            RULES[kind] = LocalRule(derivatives)
    return RULES[kind]

