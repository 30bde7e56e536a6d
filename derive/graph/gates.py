"""The gate kinds of a staged graph: one entry per kind, their exact float evaluation, and their local rules.

Every kind of gate is one :class:`GateKind` in :data:`GATE_KINDS`: its formula in the local inputs u, v and the
constant c, how it is printed and drawn, where it has a kink and which value of Heaviside(0) its derivative takes
there, and (for the fused sigmoid gate) a textbook closed form and an exact float evaluator. Every consumer (the
graph builder, the kink check, the CLI and the TeX) reads these fields; nothing else matches a kind by its name.
:func:`local_rule` differentiates a formula with SymPy once per kind; a closed form such as sigma (1 - sigma) is a
claim checked against the derivative of the definition before it is used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

import sympy as sp

from derive.core.book import book_latex
from derive.core.proof import Check, prove_equal

__all__ = ["CLOSED_FORM_KINDS", "FUSIONS", "GATE_KINDS", "OUT", "RULES", "ClosedForm", "DivisionByZero", "GateKind",
           "Kink", "LocalRule", "PointError", "c", "float_value", "kind_of_node", "local_rule", "sigmoid_argument",
           "sigmoid_float", "u", "v"]

u, v = sp.symbols("u v", real=True)  # a gate's local inputs
c = sp.Symbol("c", real=True)  # a gate's constant
OUT = sp.Symbol("out", real=True)  # a gate's output, in a closed form written from the forward value


class PointError(ArithmeticError):
    """A value is undefined or not finite at the point (division by zero, log of a negative number, overflow)."""


class DivisionByZero(PointError):
    """A division by zero at the point (reported with the gate's inputs rather than as undefined)."""


class Kink(Enum):
    """Where a gate's derivative jumps: the point at which the gradient it passes is a convention, not a limit."""

    NONE = "nowhere"
    TIE = "at a tie of its two inputs"
    AT_CONSTANT = "where its input equals its constant"

    def at(self, values: tuple[float, ...], constant: sp.Expr | None) -> bool:
        """Whether a gate with these input values (and constant) sits at its kink."""
        if self is Kink.TIE:
            return values[0] == values[1]
        if self is Kink.AT_CONSTANT:
            return values[0] == float(constant)  # type: ignore[arg-type]
        return False


@dataclass(frozen=True)
class ClosedForm:
    """A textbook derivative written from the gate's output ``OUT``, and how the check of it is announced."""

    claim: sp.Expr  # in terms of OUT
    text: str  # plain text, for ``bpv graph``
    tex: str  # a LaTeX sentence, for the report


@dataclass(frozen=True)
class GateKind:
    """One kind of gate, defined once: every field is read by the code that needs it."""

    name: str
    arity: int  # how many varying inputs (u, then v)
    formula: sp.Expr  # in u, v and the constant c
    text: str  # the formula as plain text
    tex_label: str | Callable[[sp.Expr], str]  # the text in the gate's circle (a function of the constant)
    node: type | None = None  # the SymPy class the gate computes, where the class alone identifies it
    kink: Kink = Kink.NONE
    heaviside_at_zero: sp.Expr | None = None  # H(0) in the derivative: 0 for ReLU-like, 1/2 splits a tie
    closed_form: ClosedForm | None = None  # a textbook claim, checked against the derivative before use
    evaluate: Callable[..., float] | None = None  # an exact float evaluator, instead of the formula's tree walk
    fuses: Callable[[sp.Expr], sp.Expr | None] | None = None  # the input u when a written tree is this gate

    @property
    def has_constant(self) -> bool:
        return c in self.formula.free_symbols

    def label_tex(self, constant: sp.Expr | None) -> str:
        """The label drawn in the gate's circle."""
        return self.tex_label if isinstance(self.tex_label, str) else self.tex_label(constant)


def sigmoid_float(x: float) -> float:
    """sigma(x) without overflow: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) below."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    ex = math.exp(x)
    return ex / (1.0 + ex)


def sigmoid_argument(tree: sp.Expr) -> sp.Expr | None:
    """u when ``tree`` is 1/(1+exp(-u)) (as written, in either order of the sum), else None."""
    if not (isinstance(tree, sp.Pow) and tree.exp == -1 and isinstance(tree.base, sp.Add)):
        return None
    terms = tree.base.args
    if len(terms) != 2 or sp.Integer(1) not in terms:
        return None
    other = terms[1] if terms[0] == 1 else terms[0]
    if not isinstance(other, sp.exp):
        return None
    arg = other.args[0]
    if isinstance(arg, sp.Mul) and len(arg.args) == 2 and sp.Integer(-1) in arg.args:
        return arg.args[1] if arg.args[0] == -1 else arg.args[0]
    return None


def _signed_term(const: sp.Expr) -> str:
    return f"${'-' if const < 0 else '+'}{book_latex(abs(const))}$"


def _factor(const: sp.Expr) -> str:
    tex = book_latex(const)
    return f"$\\times{'{' + tex + '}' if const < 0 else tex}$"  # x-1 as in the course notes


def _subscript(op: str) -> Callable[[sp.Expr], str]:
    return lambda const: f"$\\{op}_{{{book_latex(const)}}}$"  # max_0 is max(., 0)


_RELU = sp.Integer(0)  # ReLU'(0) = 0 (docs/conventions.md): max/min against a constant passes 0 at the tie
_SPLIT = sp.Rational(1, 2)  # SymPy's Heaviside(0) = 1/2: a tie of two inputs splits the gradient (a subgradient)
_SIGMOID = ClosedForm(
    OUT * (1 - OUT), "sigma' = sigma*(1 - sigma) checked against d/du 1/(1+exp(-u))",
    "The fused sigmoid gate uses $\\sigma' = \\sigma(1-\\sigma)$ from its forward value; that form was checked "
    "against the derivative of $1/(1+e^{-u})$")

# ----- Gates: one entry per kind -------------------------------------------------------------------------------
GATE_KINDS: dict[str, GateKind] = {k.name: k for k in (
    GateKind("add", 2, u + v, "u + v", "$+$", sp.Add),
    GateKind("add-constant", 1, u + c, "u + c", _signed_term, sp.Add),
    GateKind("multiply", 2, u * v, "u * v", "$\\times$", sp.Mul),
    GateKind("multiply-by-constant", 1, c * u, "c * u", _factor, sp.Mul),
    GateKind("1/x", 1, 1 / u, "1/u", "$1/x$"),
    GateKind("power-constant", 1, u ** c, "u^c", lambda const: f"$x^{{{book_latex(const)}}}$"),
    GateKind("sqrt", 1, sp.sqrt(u), "sqrt(u)", "$\\sqrt{\\cdot}$"),
    GateKind("constant-power", 1, c ** u, "c^u", lambda const: f"${book_latex(const)}^x$"),
    GateKind("power", 2, u ** v, "u^v", "$x^y$"),
    GateKind("exp", 1, sp.exp(u), "exp(u)", "exp", sp.exp),
    GateKind("log", 1, sp.log(u), "log(u)", "ln", sp.log),
    GateKind("tanh", 1, sp.tanh(u), "tanh(u)", "tanh", sp.tanh),
    GateKind("max", 2, sp.Max(u, v), "max(u, v)", "max", sp.Max, Kink.TIE, _SPLIT),
    GateKind("max-constant", 1, sp.Max(u, c), "max(u, c)", _subscript("max"), sp.Max, Kink.AT_CONSTANT, _RELU),
    GateKind("min", 2, sp.Min(u, v), "min(u, v)", "min", sp.Min, Kink.TIE, _SPLIT),
    GateKind("min-constant", 1, sp.Min(u, c), "min(u, c)", _subscript("min"), sp.Min, Kink.AT_CONSTANT, _RELU),
    GateKind("sigmoid", 1, 1 / (1 + sp.exp(-u)), "1/(1 + exp(-u))", "$\\sigma$",
             closed_form=_SIGMOID, evaluate=sigmoid_float, fuses=sigmoid_argument),
)}
#: the kinds a written pattern can be fused into (``bpv graph --fuse``)
FUSIONS = tuple(k.name for k in GATE_KINDS.values() if k.fuses is not None)
#: the kinds whose local rule is a checked closed form (each check is reported with the graph)
CLOSED_FORM_KINDS = tuple(k for k in GATE_KINDS.values() if k.closed_form is not None)
_BY_NODE = {(k.node, k.has_constant): k.name for k in GATE_KINDS.values() if k.node is not None}


def kind_of_node(node: type, with_constant: bool) -> str | None:
    """The kind of gate that computes the SymPy class ``node`` (with a constant operand or not), if the class says."""
    return _BY_NODE.get((node, with_constant))


def _heaviside(x: float, at_zero: float) -> float:
    return 1.0 if x > 0 else 0.0 if x < 0 else at_zero


def _pow(base: float, exp: float) -> float:
    if base == 0 and exp < 0:
        raise DivisionByZero("division by zero")
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


@dataclass(frozen=True)
class LocalRule:
    """The derived local gradients of one kind of gate (in u, v, c) and, with a closed form, its check.

    :func:`build_graph` takes ``rules={kind: LocalRule(...)}`` to replace a derived rule: the hook the tests use to
    plant a wrong local gradient and see every check catch it.
    """

    derivatives: tuple[sp.Expr, ...]
    closed_form: sp.Expr | None = None  # in terms of the gate's output symbol ``out``
    check: Check | None = None


#: the derived local rules, per gate kind, filled on first use by :func:`local_rule`
RULES: dict[str, LocalRule] = {}


def local_rule(kind: str) -> LocalRule:
    """SymPy's derivatives of the gate formula with respect to each input (cached per kind)."""
    if kind not in RULES:
        entry = GATE_KINDS[kind]
        derivatives = tuple(sp.diff(entry.formula, s) for s in (u, v)[:entry.arity])
        if entry.heaviside_at_zero is not None:
            at_zero = entry.heaviside_at_zero
            derivatives = tuple(d.replace(sp.Heaviside, lambda arg, *_: sp.Heaviside(arg, at_zero))
                                for d in derivatives)
        if entry.closed_form is not None:
            # the claim is checked against the derivative of the definition before it is used
            claim = entry.closed_form.claim
            check = prove_equal(derivatives[0], claim.xreplace({OUT: entry.formula}))
            RULES[kind] = LocalRule(derivatives, claim, check)
        else:
            RULES[kind] = LocalRule(derivatives)
    return RULES[kind]
