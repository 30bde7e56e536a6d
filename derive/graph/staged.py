"""Staged backprop through a computational graph of gates, as the CS231n notes teach it.

An expression parsed by :mod:`derive.graph.exprparse` is cut into **gates** (add, multiply, max, exp, 1/x, add-constant,
multiply-by-constant, ... and, with ``fuse=("sigmoid",)``, one sigmoid gate for every ``1/(1+exp(-u))``). Then

* **forward**: every gate computes its output from its inputs (float64, as the course's Python does);
* **local gradients**: for every kind of gate, SymPy differentiates the gate's formula (``diff(u*v, u) = v``) and
  the result is evaluated at the gate's inputs. The fused sigmoid gate's derivative is derived from its definition
  and the textbook form sigma (1 - sigma) is a claim checked against it (:func:`derive.core.proof.prove_equal`) before
  it
  is used, with the forward value, as the numerically stable form;
* **backward**: in reverse order, every gate multiplies its upstream gradient by its local gradients and sends the
  products (downstream) to its inputs, where they are **added** (``+=``) when a variable is used more than once.

The final gradients are checked two independent ways: against ``sympy.diff`` of the whole expression (evaluated with
30 digits at the exact point) and against central finite differences of the expression in float64. At a tie of a
max/min gate (a kink) the finite-difference check also accepts any value between the one-sided derivatives. Ties
follow one convention on both sides of the check: a max/min of two inputs splits the gradient 1/2 : 1/2 (SymPy's
Heaviside(0) = 1/2), a max/min against a constant is ReLU-like and passes 0 (ReLU'(0) = 0, docs/conventions.md);
the sympy.diff reference is taken of :func:`relu_convention` of the expression, the same function written so that
its derivative follows that convention.

The gate kinds and their local rules are :mod:`derive.graph.gates`; the matrix gate D = W X is
:mod:`derive.graph.matmul`.

This module is not an autodiff engine: graphs are trees of scalar gates built from one expression (every written
occurrence of a sub-expression is its own gate; only variables are shared), small enough to print gate by gate.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

import sympy as sp

from derive.core.proof import Check
from derive.graph.exprparse import ParsedExpression, parse_at, parse_expression
from derive.graph.gates import (
    CLOSED_FORM_KINDS,
    FUSIONS,
    GATE_KINDS,
    OUT,
    DivisionByZero,
    GateKind,
    LocalRule,
    PointError,
    c,
    float_value,
    kind_of_node,
    local_rule,
    u,
    v,
)
from numeric.errors import BadInput
from numeric.metrics import block_relative_error

__all__ = [
    "FD_TOLERANCE", "FUSIONS", "SYMPY_TOLERANCE", "Gate", "GraphBuilder", "StagedGraph", "VariableGradient", "Wire",
    "build_graph", "relu_convention",
]

#: vs central finite differences.
SYMPY_TOLERANCE = 1e-10
FD_TOLERANCE = 1e-7

# ----- The graph -----------------------------------------------------------------------------------------------
@dataclass
class Wire:
    """A value in the circuit: an input variable or a gate's output, with its forward value and gradient."""

    name: str
    tree: sp.Expr  # the sub-expression it carries, as written
    value: float
    is_input: bool
    grad: float = 0.0
    contributions: list[tuple[str, int, float]] = field(default_factory=list)  # (gate, input slot, amount)


@dataclass
class Gate:
    """One gate: ``output = formula(inputs)``, its local gradients, and the gradients that flow through it."""

    name: str  # also the name of its output wire
    kind: str
    inputs: tuple[str, ...]
    constant: sp.Expr | None
    input_values: tuple[float, ...]
    output_value: float
    local_exprs: tuple[sp.Expr, ...]  # d output / d input_i in terms of the input (and output) names
    local_values: tuple[float, ...]
    upstream: float = 0.0
    downstream: tuple[float, ...] = ()
    kink: bool = False

    @property
    def entry(self) -> GateKind:
        """The gate's kind: its formula, labels, kink and local rule (:data:`derive.graph.gates.GATE_KINDS`)."""
        return GATE_KINDS[self.kind]

    @property
    def formula(self) -> sp.Expr:
        """The gate's formula in the names of its inputs (``g1*z``)."""
        f = self.entry.formula
        names = {s: sp.Symbol(n, real=True) for s, n in zip((u, v), self.inputs, strict=False)}
        if self.constant is not None:
            names[c] = self.constant
        return f.xreplace(names)

    def to_dict(self) -> dict:
        return {
            "gate": self.name, "kind": self.kind, "inputs": list(self.inputs),
            "constant": None if self.constant is None else str(self.constant),
            "formula": str(self.formula), "input_values": list(self.input_values), "output": self.output_value,
            "local_gradients": [str(e) for e in self.local_exprs], "local_values": list(self.local_values),
            "upstream": self.upstream, "downstream": list(self.downstream), "kink": self.kink,
        }


@dataclass
class VariableGradient:
    """df/dvariable by backprop (a sum of contributions) and its two independent checks."""

    name: str
    value: float
    contributions: list[tuple[str, float]]  # (gate, amount), in the order backprop added them
    sympy_derivative: sp.Expr
    sympy_value: float
    fd_value: float | None
    fd_interval: tuple[float, float] | None = None  # one-sided derivatives at a kink

    def to_dict(self) -> dict:
        return {
            "variable": self.name, "backprop": self.value,
            "contributions": [{"gate": g, "amount": a} for g, a in self.contributions],
            "sympy_diff": str(self.sympy_derivative), "sympy_value": self.sympy_value,
            "finite_difference": self.fd_value,
            "one_sided": None if self.fd_interval is None else list(self.fd_interval),
        }


@dataclass
class StagedGraph:
    """The forward and backward pass of one expression at one point, gate by gate, with the checks."""

    parsed: ParsedExpression
    point: dict[str, Fraction]
    fuse: tuple[str, ...]
    wires: dict[str, Wire]
    gates: list[Gate]
    output: str
    output_value: float
    output_reference: float
    gradients: list[VariableGradient]
    closed_form_checks: dict[str, Check] = field(default_factory=dict)  # per gate kind used with a closed form
    warnings: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.parsed.text

    @property
    def sympy_error(self) -> float:
        """Block-relative error of the backprop gradients against sympy.diff (and of f against its evaluation)."""
        return max(block_relative_error([g.value for g in self.gradients], [g.sympy_value for g in self.gradients]),
                   block_relative_error([self.output_value], [self.output_reference]))

    @property
    def fd_error(self) -> float:
        """Block-relative error against finite differences (0 for a value inside the one-sided interval at a kink)."""
        got, ref = [], []
        for g in self.gradients:
            if g.fd_value is None:
                continue
            got.append(g.value)
            ref.append(self._fd_reference(g))
        return block_relative_error(got, ref)

    @staticmethod
    def _fd_reference(g: VariableGradient) -> float:
        if g.fd_interval is not None:
            lo, hi = sorted(g.fd_interval)
            return min(max(g.value, lo), hi)  # inside the interval: a valid subgradient
        return g.fd_value  # type: ignore[return-value]

    @property
    def sympy_agrees(self) -> bool:
        return self.sympy_error <= SYMPY_TOLERANCE

    @property
    def fd_agrees(self) -> bool:
        return self.fd_error <= FD_TOLERANCE

    @property
    def closed_forms_hold(self) -> bool:
        return all(check.holds for check in self.closed_form_checks.values())

    @property
    def holds(self) -> bool:
        return self.sympy_agrees and self.fd_agrees and self.closed_forms_hold

    @property
    def kinks(self) -> list[str]:
        return [g.name for g in self.gates if g.kink]

    def gradient(self, name: str) -> float:
        for g in self.gradients:
            if g.name == name:
                return g.value
        raise KeyError(name)

    def to_dict(self) -> dict:
        return {
            "expression": self.text,
            "at": {k: str(val) for k, val in self.point.items()},
            "fuse": list(self.fuse),
            "output": self.output_value,
            "output_sympy": self.output_reference,
            "gates": [g.to_dict() for g in self.gates],
            "gradients": [g.to_dict() for g in self.gradients],
            "checks": {
                "sympy_diff": {"block_relative_error": self.sympy_error, "bound": SYMPY_TOLERANCE,
                               "agrees": self.sympy_agrees},
                "finite_differences": {"block_relative_error": self.fd_error, "bound": FD_TOLERANCE,
                                       "agrees": self.fd_agrees, "method": "central, h = eps^(1/3) max(1, |x|)"},
                **{f"{k.name}_closed_form": None if k.name not in self.closed_form_checks
                   else self.closed_form_checks[k.name].to_dict() for k in CLOSED_FORM_KINDS},
            },
            "kinks": self.kinks,
            "warnings": self.warnings,
            "holds": self.holds,
        }


# ----- Building the gates from the tree as written ------------------------------------------------------------
def _classify(tree: sp.Expr, fuse: tuple[str, ...]) -> tuple[str, list[sp.Expr], sp.Expr | None]:
    """(gate kind, input sub-trees, constant) for one node of the tree."""
    for name in fuse:
        arg = GATE_KINDS[name].fuses(tree)  # type: ignore[misc]
        if arg is not None:
            return name, [arg], None
    if isinstance(tree, sp.Pow):
        return _classify_power(tree)
    args = list(tree.args)
    consts = [a for a in args if a.is_number]
    varying = [a for a in args if not a.is_number]
    kind = kind_of_node(tree.func, False)
    if kind is None:
        raise BadInput(f"no gate for {tree.func.__name__}")
    if GATE_KINDS[kind].arity == 1:
        return kind, args, None
    if len(args) != 2:
        raise BadInput(f"internal: expected two operands in {tree}")
    if consts:  # the same operation with a constant operand is its own kind (add-constant, max-constant, ...)
        return kind_of_node(tree.func, True), varying, consts[0]  # type: ignore[return-value]
    return kind, args, None


def _classify_power(tree: sp.Pow) -> tuple[str, list[sp.Expr], sp.Expr | None]:
    """The power gates: 1/x, sqrt, x^c, c^x and x^y (one SymPy class, told apart by which operand is constant)."""
    base, exp = tree.args
    if exp.is_number:
        if exp == -1:
            return "1/x", [base], None
        if exp == sp.Rational(1, 2):
            return "sqrt", [base], None
        return "power-constant", [base], exp
    if base.is_number:
        return "constant-power", [exp], base
    return "power", [base, exp], None


class GraphBuilder:
    """Cuts an expression into gates (``build``), evaluates them forward, and runs the backward pass (``backward``).

    ``rules`` replaces the derived local rule of a gate kind (see :class:`LocalRule`); a subclass passed to
    :func:`build_graph` as ``builder`` may change a pass (the tests plant a backward pass that forgets to add).
    """

    def __init__(self, parsed: ParsedExpression, env: dict[sp.Symbol, float], fuse: tuple[str, ...],
                 rules: Mapping[str, LocalRule] | None = None):
        self.parsed, self.env, self.fuse = parsed, env, fuse
        self.rules = dict(rules or {})
        self.wires: dict[str, Wire] = {}
        self.gates: list[Gate] = []

    def point_text(self) -> str:
        return ", ".join(f"{s.name}={_fmt(val)}" for s, val in self.env.items())

    def build(self, tree: sp.Expr) -> str:
        if isinstance(tree, sp.Symbol):
            if tree.name not in self.wires:
                self.wires[tree.name] = Wire(tree.name, tree, self.env[tree], True)
            return tree.name
        kind, inputs, constant = _classify(tree, self.fuse)
        names = tuple(self.build(a) for a in inputs)
        return self.add_gate(tree, kind, names, constant)

    def next_name(self) -> str:
        """g1, g2, ... skipping any name the expression uses for a variable."""
        k = len(self.gates) + 1
        used = {s.name for s in self.parsed.variables} | set(self.wires)
        while f"g{k}" in used:
            k += 1
        return f"g{k}"

    def add_gate(self, tree: sp.Expr, kind: str, names: tuple[str, ...], constant: sp.Expr | None) -> str:
        name = self.next_name()
        entry = GATE_KINDS[kind]
        values = tuple(self.wires[n].value for n in names)
        local = {s: val for s, val in zip((u, v), values, strict=False)}
        if constant is not None:
            local[c] = constant  # exact: float_value evaluates the constant itself
        rule = self.rules[kind] if kind in self.rules else local_rule(kind)
        where = f"the {kind} gate {name} = {tree}"
        inputs = ", ".join(f"{n} = {_fmt(val)}" for n, val in zip(names, values, strict=True))
        try:
            out = entry.evaluate(*values) if entry.evaluate is not None else float_value(entry.formula, local)
        except DivisionByZero:
            raise BadInput(f"division by zero at the point {self.point_text()}: {where} gets {inputs}") from None
        except PointError as err:
            raise BadInput(f"{where} is undefined at the point {self.point_text()} ({err}; its inputs: {inputs})") \
                from None
        try:
            local_values = _local_values(rule, local, out)
        except PointError as err:
            raise BadInput(f"{where} is not differentiable at the point {self.point_text()} (its local gradient "
                           f"{', '.join(map(str, rule.derivatives))}: {err}; its inputs: {inputs})") from None
        exprs = _local_exprs(rule, name, names, constant)
        kink = entry.kink.at(values, constant)
        self.gates.append(Gate(name, kind, names, constant, values, out, exprs, local_values, kink=kink))
        self.wires[name] = Wire(name, tree, out, False)
        return name

    def backward(self, output: str) -> None:
        self.wires[output].grad = 1.0
        for gate in reversed(self.gates):
            gate.upstream = self.wires[gate.name].grad
            gate.downstream = tuple(gate.upstream * loc for loc in gate.local_values)
            for slot, (name, amount) in enumerate(zip(gate.inputs, gate.downstream, strict=True)):
                wire = self.wires[name]
                wire.grad += amount  # += : a wire used more than once collects every contribution
                wire.contributions.append((gate.name, slot, amount))


def _local_values(rule: LocalRule, local: dict[sp.Symbol, object], out: float) -> tuple[float, ...]:
    """The local gradients at the gate's inputs (a closed form: from its forward value ``out``)."""
    if rule.closed_form is not None:
        return tuple(float_value(rule.closed_form, {OUT: out}) for _ in rule.derivatives)
    return tuple(float_value(d, local) for d in rule.derivatives)  # type: ignore[arg-type]


def _local_exprs(rule: LocalRule, name: str, names: tuple[str, ...], constant: sp.Expr | None) -> tuple[sp.Expr, ...]:
    """The local gradients as printed: in the names of the gate's inputs (a closed form: of its output)."""
    if rule.closed_form is not None:
        return tuple(rule.closed_form.xreplace({OUT: sp.Symbol(name, real=True)}) for _ in rule.derivatives)
    shown: dict[sp.Symbol, sp.Expr] = {s: sp.Symbol(n, real=True) for s, n in zip((u, v), names, strict=False)}
    if constant is not None:
        shown[c] = constant
    return tuple(d.xreplace(shown) for d in rule.derivatives)


def _fmt(x: float) -> str:
    return f"{float(x):.6g}"


def _finite_difference(expr: sp.Expr, env: dict[sp.Symbol, float], var: sp.Symbol, one_sided: bool):
    """Central difference with h = eps^(1/3) max(1, |x|); with ``one_sided`` also (f(x+h)-f(x))/h and the left one."""
    x0 = env[var]
    h = sys.float_info.epsilon ** (1 / 3) * max(1.0, abs(x0))

    def f(x: float) -> float:
        return float_value(expr, {**env, var: x})

    try:
        fp, fm = f(x0 + h), f(x0 - h)
        central = (fp - fm) / (2 * h)
        if not one_sided:
            return central, None
        # one-sided with a smaller step to stay on one side of the kink, first-order accurate
        hs = h * 1e-2
        f0 = f(x0)
        return central, ((f0 - f(x0 - hs)) / hs, (f(x0 + hs) - f0) / hs)
    except PointError:
        return None, None


def build_graph(expression: str | ParsedExpression, at: Mapping[str, object] | str,
                fuse: Iterable[str] = (), *, rules: Mapping[str, LocalRule] | None = None,
                builder: type[GraphBuilder] = GraphBuilder) -> StagedGraph:
    """Cut ``expression`` into gates, run forward and backward at the point ``at``, and check the gradients.

    ``at`` maps every variable to a number (or is ``"x=-2,y=5"`` text); ``fuse`` may contain ``"sigmoid"``.
    Raises BadInput for a syntax error, a variable with no value, an unknown fusion, or a gate undefined at the
    point (division by zero, log of a non-positive number, overflow). ``rules`` and ``builder`` are the hooks of
    :class:`GraphBuilder` (to plant a bug and watch the checks catch it).

    >>> g = build_graph("(x+y)*z", "x=-2,y=5,z=-4")
    >>> [g.gradient(n) for n in "xyz"], g.holds
    ([-4.0, -4.0, 3.0], True)
    """
    parsed = parse_expression(expression) if isinstance(expression, str) else expression
    point = parse_at(at) if isinstance(at, str) else {k: Fraction(str(val)) for k, val in at.items()}
    fuse = tuple(dict.fromkeys(fuse))
    for name in fuse:
        if name not in FUSIONS:
            raise BadInput(f"cannot fuse '{name}': known fusions are {', '.join(FUSIONS)}")
    missing = [s.name for s in parsed.variables if s.name not in point]
    if missing:
        given = ", ".join(point) or "none"
        many = len(missing) > 1
        raise BadInput(f"variable{'s' if many else ''} {', '.join(missing)} ha{'ve' if many else 's'} no value: "
                       f"add {missing[0]}=... to --at (values given: {given})")
    if not parsed.variables:
        raise BadInput(f"'{parsed.text}' has no variables: there is nothing to differentiate")
    warnings = [f"--at gives {k}, which the expression does not use" for k in point
                if k not in {s.name for s in parsed.variables}]
    env = {s: float(point[s.name]) for s in parsed.variables}
    exact = {s: sp.Rational(point[s.name].numerator, point[s.name].denominator) for s in parsed.variables}

    passes = builder(parsed, env, fuse, rules)
    output = passes.build(parsed.tree)
    passes.backward(output)
    gates, wires = passes.gates, passes.wires
    reference = _exact_value(parsed.expr, exact)
    reference_expr = relu_convention(parsed.expr)

    kink = any(g.kink for g in gates)
    gradients = []
    for s in parsed.variables:
        wire = wires[s.name]
        derivative = sp.diff(reference_expr, s)
        fd, interval = _finite_difference(parsed.tree, env, s, kink)
        gradients.append(VariableGradient(
            s.name, wire.grad, [(g, a) for g, _, a in wire.contributions], derivative,
            _exact_value(derivative, exact), fd, interval))
    used = {g.kind for g in gates}
    checks = {k.name: local_rule(k.name).check for k in CLOSED_FORM_KINDS if k.name in used}
    if kink:
        warnings.append(f"kink: {', '.join(g.name for g in gates if g.kink)} has a tie at this point; a max/min of "
                        "two inputs splits the gradient 1/2 : 1/2 (SymPy's Heaviside(0) = 1/2), a max/min with a "
                        "constant passes 0 (ReLU'(0) = 0); both are subgradients")
    return StagedGraph(parsed, point, fuse, wires, gates, output, wires[output].value, reference, gradients,
                       checks, warnings)  # type: ignore[arg-type]


def relu_convention(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every max/min against a constant written as a Piecewise with a strict inequality.

    The same function, but ``sympy.diff`` then gives 0 at the tie (ReLU'(0) = 0, as the max-constant gate does)
    instead of Heaviside(0) = 1/2, so the reference and the gates follow one convention.

    >>> x = sp.Symbol("x", real=True)
    >>> sp.diff(relu_convention(sp.Max(x, 0)), x).subs(x, 0)
    0
    """
    def rewrite(node: sp.Expr) -> sp.Expr:
        consts = [a for a in node.args if a.is_number]
        rest = [a for a in node.args if not a.is_number]
        if not consts or not rest:
            return node
        inner = rest[0] if len(rest) == 1 else node.func(*rest)
        const = consts[0]  # SymPy merges several numeric arguments of Max/Min into one
        cond = inner > const if isinstance(node, sp.Max) else inner < const
        return sp.Piecewise((inner, cond), (const, True))

    return expr.replace(lambda n: isinstance(n, (sp.Max, sp.Min)), rewrite)


def _exact_value(expr: sp.Expr, point: dict[sp.Symbol, sp.Rational]) -> float:
    """``expr`` at the exact point, evaluated with 30 digits (the sympy.diff reference)."""
    value = sp.N(expr.xreplace(point), 30)
    try:
        out = complex(value)
    except TypeError:
        return math.nan
    return out.real if not out.imag else math.nan
