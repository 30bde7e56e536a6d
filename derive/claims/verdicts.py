"""Verdicts on an understood equation: proven, refuted (with a counterexample and the likely slip), ambiguous.

``judge(lhs, rhs, context)`` evaluates both sides (:mod:`derive.claims.semantics`) at random points of a small
instance of the context model, for **every valid value** of the free indices (j, k, l, i): an index value is valid
when every quantity of the equation exists there (``\\delta^l`` with l = 0 does not). The method says what was
done: exact rational arithmetic (a rational identity agreeing at random rational points: Schwartz-Zippel) or
45-digit evaluation agreeing to 25 digits (numerical evidence, not a symbolic proof).

A refuted claim gets a **near-miss diagnosis**: the right side is changed by one typical slip at a time (sign,
factor 2, stray or missing 1/m, missing or extra σ', a transpose, swapped indices) and the first change that makes
the equation hold is named. ``dZ``/``dA`` with no convention are evaluated under both conventions: holding under
one and not the other is **ambiguous**, with both readings said. A claim whose quantities have no value on the
model is *not checkable*, never refuted.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import sympy as sp

from derive.claims.evaluator import Evaluator
from derive.claims.instance import Instance
from derive.claims.ir import BATCH_NAMES, L2_LAMBDA, L2_N, Deriv, ISum, Mat, Partial
from derive.claims.local import has_jacobian
from derive.claims.near_misses import variants
from derive.claims.readings import CrossAmbiguous, Reading
from derive.claims.semantics import Context, NotCheckable, OutOfRange, ShapeMismatch, instance_spec
from derive.claims.symbolic import symbolic_proof
from derive.core.book import book_latex
from derive.core.symbols import w as w_base
from numeric.spec import Layout

__all__ = ["BATCH_M", "TOLERANCE", "Verdict", "agree", "batch_size", "diagnose", "free_indices", "instance", "judge",
           "repair", "show", "unsupported_blocks"]

#: the smallest batch size of the instance for claims about a batch (3: a stray 1/m is not confused with a factor
#: 2); the batch size is the first one from here that is none of the instance's widths (:func:`batch_size`)
BATCH_M = 3


def batch_size(context: Context) -> int:
    """m for a claim about a batch: at least :data:`BATCH_M` and different from every width of the instance, so
    that no batch matrix is square and no product of two of them fits by accident."""
    sizes = set(instance_spec(context.spec).sizes)
    return next(m for m in range(BATCH_M, BATCH_M + 20) if m not in sizes)
TOLERANCE = sp.Float("1e-25", 45)
_INDEX_NAMES = frozenset("ijklpqrstnL")


@dataclass
class Verdict:
    """One verdict: ``proven``, ``refuted``, ``ambiguous``, ``definition``, ``not checkable``, ``unparsed``."""

    verdict: str
    reason: str
    method: str = ""
    diagnosis: str | None = None
    counterexample: dict | None = None
    details: dict = field(default_factory=dict)
    strength: str | None = None  # proven: exact (an instance in exact arithmetic) or numeric (digits stated)
    repair: str | None = None  # refuted: the corrected equation, LaTeX in the document's notation

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "reason": self.reason, "method": self.method, "diagnosis": self.diagnosis,
                "counterexample": self.counterexample, "strength": self.strength, "repair": self.repair}


def unsupported_blocks(context: Context) -> str | None:
    """Why a claim about the whole network cannot be evaluated on this model (None: it can).

    The instance composes the dense network (and adds an L2 term); a normalisation or dropout in the hidden layers
    is not composed, so a claim in the network's names (δ, ∂C/∂w, dW, ...) is *not checkable* there, never proven:
    the dense net's values are not this model's. Claims in a block's own names are judged by
    :mod:`derive.claims.blocks`."""
    spec = context.spec
    blocks = []
    if spec.norm is not None:
        blocks.append(f"{spec.norm} normalisation")
    if spec.keep_prob is not None:
        blocks.append(f"dropout (keep_prob={spec.keep_prob:g})")
    if not blocks:
        return None
    return (f"the model has {' and '.join(blocks)} in its hidden layers, which bpv check does not compose into the "
            "network's cost: claims about the whole network are not evaluated on it (claims in the block's own "
            "names, e.g. dgamma, dbeta, dx of the normalisation or dA = dOut * M / p, are: docs/check.md)")


def free_indices(expr: sp.Basic) -> set[sp.Symbol]:
    """Integer index symbols not bound by a sum (L is the number of layers, not an index)."""
    if isinstance(expr, ISum):
        return free_indices(expr.args[0]) - {expr.args[1]}
    if isinstance(expr, sp.Symbol):
        if expr.is_integer and expr.name in _INDEX_NAMES and expr.name != "L":
            return {expr}
        return set()
    out: set[sp.Symbol] = set()
    for arg in expr.args:
        out |= free_indices(arg)
    return out


def _needs_batch(expr: sp.Basic) -> bool:
    for n in sp.preorder_traversal(expr):
        if isinstance(n, Mat) and (n.name in BATCH_NAMES or n.sample is not None):
            return True
        if isinstance(n, sp.Symbol) and n.name == "m":
            return True
    return False


def _has_dz(expr: sp.Basic) -> bool:
    return any(isinstance(n, Mat) and n.name in ("dZ", "dA") for n in sp.preorder_traversal(expr))


_INSTANCES: dict = {}


def instance(context: Context, m: int, seed: int = 0) -> Instance:
    """The (cached) instance a claim is evaluated on: shared by contexts with the same small instance."""
    # the L2 term changes the true gradients: instances of models with different blocks are not shared
    key = (instance_spec(context.spec), m, seed, context.spec.bias, tuple(sorted(context.spec.extras_dict().items())))
    if key not in _INSTANCES:
        _INSTANCES[key] = Instance(context, m, seed)
    inst = _INSTANCES[key]
    inst.context = context
    return inst


@dataclass
class _Outcome:
    holds: bool
    bindings: int = 0
    exact: bool = True
    failure: dict | None = None
    shape: str | None = None


def agree(lv, rv) -> tuple[bool, bool]:
    """(equal, exact) for two scalars."""
    if isinstance(lv, sp.Rational) and isinstance(rv, sp.Rational):
        return lv == rv, True
    try:
        lc, rc = complex(lv), complex(rv)
    except TypeError:
        raise NotCheckable("a value that is not a number") from None
    scale = max(1.0, abs(lc), abs(rc))
    return abs(lc - rc) <= float(TOLERANCE) * scale, False


def show(v) -> str:
    """A value for a counterexample: 6 significant digits, a matrix row by row."""
    if isinstance(v, sp.MatrixBase):
        return "[" + "; ".join(", ".join(show(x) for x in v.row(r)) for r in range(v.rows)) + "]"
    try:
        return f"{float(v):.6g}"
    except TypeError:
        return str(v)


def _diagonal_reading(lhs, rhs, lv, rv):
    """∂a/∂z = σ'(z), ∂z/∂b = 1: a diagonal Jacobian written as the vector (or scalar) of its diagonal."""
    if not (isinstance(lhs, Deriv) or isinstance(rhs, Deriv)):
        return lv, rv
    for jac, other, swap in ((lv, rv, False), (rv, lv, True)):
        if isinstance(jac, sp.MatrixBase) and jac.is_square and jac.rows > 1 and jac.is_diagonal():
            n = jac.rows
            if isinstance(other, sp.MatrixBase) and other.shape in ((n, 1), (1, n)):
                diag = jac.diagonal().reshape(*other.shape)
            elif not isinstance(other, sp.MatrixBase):
                diag, other = jac.diagonal().reshape(n, 1), sp.Matrix([other] * n)
            else:
                continue
            return (other, diag) if swap else (diag, other)
    return lv, rv


def _left_value(ev: Evaluator, lhs, inst: Instance, p: int, bind: dict, reading, layout):
    """The left side's value, kept on the instance: every near miss of a claim shares its left side."""
    key = ("lhs", lhs, p, tuple(sorted(bind.items(), key=str)), reading, str(layout))
    if key not in inst.values:
        try:
            inst.values[key] = ev.value(lhs)
        except OutOfRange as err:
            inst.values[key] = err
    v = inst.values[key]
    if isinstance(v, OutOfRange):
        raise v
    return v


def _evaluate(lhs, rhs, inst: Instance, convention, indices: list[sp.Symbol], layout: Layout) -> _Outcome:
    top = max(max(inst.spec.sizes), inst.m, inst.L)
    ranges = [range(0, top + 1)] * len(indices)
    # a unit index missing on the right where the left exists is the claim's error, but only when the left side
    # holds every index (else the right side alone says which values are meant)
    rhs_checked_by_lhs = set(indices) <= free_indices(lhs)
    out = _Outcome(True)
    for combo in itertools.product(*ranges):
        bind = dict(zip(indices, combo, strict=True))
        valid = True
        for p in range(len(inst.points)):
            ev = Evaluator(inst, p, bind, convention, layout)
            try:
                lv = _left_value(ev, lhs, inst, p, bind, convention, layout)
            except OutOfRange:
                valid = False
                break
            try:
                rv = ev.value(rhs)
            except OutOfRange as err:
                if err.kind == "layer" or not rhs_checked_by_lhs:
                    valid = False
                    break
                where = {str(k): v for k, v in bind.items()}
                out.holds = False
                out.failure = {**where, "point": p + 1, "lhs": show(lv), "rhs": f"undefined ({err})"}
                return out
            lv, rv = _diagonal_reading(lhs, rhs, lv, rv)
            lm, rm = isinstance(lv, sp.MatrixBase), isinstance(rv, sp.MatrixBase)
            if lm != rm or (lm and lv.shape != rv.shape):
                shape_l = lv.shape if lm else "a scalar"
                shape_r = rv.shape if rm else "a scalar"
                return _Outcome(False, out.bindings, out.exact, None, f"left side is {shape_l}, right side {shape_r}")
            pairs = zip(lv, rv, strict=True) if lm else [(lv, rv)]
            for a_, b_ in pairs:
                ok, exact = agree(a_, b_)
                out.exact = out.exact and exact
                if not ok:
                    where = {str(k): v for k, v in bind.items()}
                    out.holds = False
                    out.failure = {**where, "point": p + 1, "lhs": show(lv), "rhs": show(rv)}
                    return out
        if valid:
            out.bindings += 1
    if out.bindings == 0:
        raise NotCheckable("no index values where every quantity of the equation exists on the model")
    return out


def _holds(lhs, rhs, inst, convention, indices, layout) -> bool:
    try:
        return _evaluate(lhs, rhs, inst, convention, indices, layout).holds
    except (NotCheckable, ShapeMismatch, ZeroDivisionError, CrossAmbiguous):
        return False


# ----- near misses ----------------------------------------------------------------------------------------------


def diagnose(lhs, rhs, inst: Instance, convention: str, indices, layout: Layout) -> str | None:
    found = repair(lhs, rhs, inst, convention, indices, layout)
    return found[0] if found else None


def repair(lhs, rhs, inst: Instance, convention: str, indices, layout: Layout) -> tuple[str, str] | None:
    """(the slip, the corrected equation as LaTeX) for the first typical slip whose fix makes the claim hold."""
    m_symbol = sp.Symbol("m", integer=True, positive=True)
    for text, fixed in (*_l2_variants(lhs, rhs, inst), *variants(lhs, rhs, indices, m_symbol)):
        if "1/m" in text and inst.m == 1:
            continue
        if _holds(lhs, fixed, inst, convention, indices, layout):
            return text, f"{book_latex(lhs)} = {book_latex(fixed)}"
    return None


def _weight_of(lhs) -> sp.Basic | None:
    """The weight (element or matrix) a gradient claim's left side is about: ∂C/∂w^l_{jk}, ∂C/∂W^l, dW^l."""
    if isinstance(lhs, Partial):
        var = lhs.args[1]
        if (isinstance(var, sp.Indexed) and var.base == w_base) or (isinstance(var, Mat) and var.name in ("w", "W")):
            return var
    if isinstance(lhs, Mat) and lhs.name == "dW" and lhs.sample is None:
        return Mat(sp.Symbol("W"), *lhs.args[1:])
    return None


def _l2_variants(lhs, rhs, inst: Instance):
    """The slips of an L2 term (the model has one): its 1/n, or the term left out of a weight's gradient."""
    if inst.l2_scale is None:
        return
    if rhs.has(L2_LAMBDA):
        yield "missing factor 1/n: the L2 term's gradient is (lambda/n) w (n the training-set size, else the batch " \
              "size m)", rhs.xreplace({L2_LAMBDA: L2_LAMBDA / L2_N})
        yield "factor 2 in the L2 term: d/dw (lambda/2n) w^2 = (lambda/n) w", rhs.xreplace({L2_LAMBDA: L2_LAMBDA / 2})
        if inst.l2_n() != inst.m:
            m = sp.Symbol("m", integer=True, positive=True)
            yield f"1/m instead of 1/n in the L2 term: the model's n is the training-set size ({inst.l2_n()}), not " \
                  "the batch size m", rhs.xreplace({L2_LAMBDA: L2_LAMBDA * m / L2_N})
        return
    weight = _weight_of(lhs)
    if weight is not None:
        yield "missing L2 term: the gradient of (lambda/2n) sum w^2 adds (lambda/n) w", rhs + L2_LAMBDA / L2_N * weight


# ----- the verdict ----------------------------------------------------------------------------------------------


def _method(out: _Outcome, inst: Instance, indices, points: int) -> str:
    where = f"{out.bindings} index value(s) of {', '.join(sorted(map(str, indices)))}" if indices else "the claim"
    arith = "exact rational arithmetic" if out.exact else "45-digit arithmetic, equal to 25 digits"
    kind = "exact" if out.exact else "numeric"
    return (f"{kind}: both sides equal at {points} random points for {where} on a {inst.spec.net} "
            f"{inst.spec.act_text}/{inst.spec.cost} instance (m = {inst.m}), {arith}")


def judge(lhs: sp.Basic, rhs: sp.Basic, context: Context, seed: int = 0, diagnose: bool = True) -> Verdict:
    """The verdict on ``lhs = rhs`` against the derivation on ``context`` (see the module doc).

    ``diagnose=False``: no near-miss search (a caller that only needs to know whether the claim holds)."""
    unsupported = unsupported_blocks(context)
    if unsupported:
        return Verdict("not checkable", unsupported)
    indices = sorted(free_indices(lhs) | free_indices(rhs), key=str)
    # an L2 term whose n is the batch size: a claim with lambda in it is checked on a batch (n = m = 1 would hide a
    # missing 1/n)
    batch_l2 = context.spec.penalty is not None and context.spec.penalty.n is None and \
        (lhs.has(L2_LAMBDA) or rhs.has(L2_LAMBDA))
    m = batch_size(context) if _needs_batch(lhs) or _needs_batch(rhs) or batch_l2 else 1
    try:
        inst = instance(context, m, seed)
    except Exception as err:  # a model this instance cannot be built for
        return Verdict("not checkable", f"cannot build the model instance: {err}")
    # batch matrices follow the context's layout; per-sample vectors are the book's columns in every layout
    layout = context.spec.layout if m > 1 else Layout.COLUMNS
    readings = _readings(lhs, rhs, context, inst)
    case = _Case(lhs, rhs, inst, indices, layout, context.declared, diagnose)
    outcomes: dict[Reading, _Outcome] = {}
    try:
        for reading in list(readings):
            try:
                outcomes[reading] = _evaluate(lhs, rhs, inst, reading, indices, layout)
            except CrossAmbiguous:  # both products fit: each reading of × is a convention of its own
                readings.remove(reading)
                for cross in ("matrix", "elementwise"):
                    r = replace(reading, cross=cross)
                    readings.append(r)
                    outcomes[r] = _evaluate(lhs, rhs, inst, r, indices, layout)
    except NotCheckable as err:
        return Verdict("not checkable", str(err))
    except ShapeMismatch as err:
        other = _other_layout(lhs, rhs, inst, readings[0], indices, layout, context)
        if other is not None:
            return case.ambiguous(other[0], readings[0], other[1])
        return case.shapes(readings[0], f"as written the shapes do not fit: {err}")
    except ZeroDivisionError:
        return Verdict("not checkable", "division by zero at a sample point")
    held = [r for r in readings if outcomes[r].holds]
    other = None if held else _other_layout(lhs, rhs, inst, readings[0], indices, layout, context)
    if other is not None:
        return case.ambiguous(other[0], readings[0], other[1])
    if len(held) == len(readings):
        return _proven(lhs, rhs, context, inst, indices, readings, outcomes[readings[0]])
    if held:
        return case.ambiguous(held[0], next(r for r in readings if r not in held), outcomes[held[0]])
    return case.refuted(readings[0], outcomes[readings[0]])


def _proven(lhs, rhs, context: Context, inst: Instance, indices, readings: list[Reading], out: _Outcome) -> Verdict:
    """The verdict on a claim that holds under every reading: the reading said where it matters, the strength of the
    proof (symbolic where a proof for every size applies)."""
    fields = tuple(f for f, used in (("dz", _has_dz(lhs) or _has_dz(rhs)),
                                     ("jacobian", has_jacobian(lhs) or has_jacobian(rhs)),
                                     ("cross", readings[0].cross is not None)) if used)
    said = readings[0].describe(fields) if len(readings) == 1 and fields else ""
    reason = "holds" + (f" (read with {said})" if said else "")
    method = _method(out, inst, indices, len(inst.points))
    # the symbolic proofs are of the dense layer's index form: not of a cost with an L2 term
    every_size = symbolic_proof(lhs, rhs, context) if context.spec.penalty is None else None
    if every_size:
        return Verdict("proven", reason, f"{every_size}; {method}", strength="symbolic")
    return Verdict("proven", reason, method, strength="exact" if out.exact else "numeric")


def _other_layout(lhs, rhs, inst, reading: Reading, indices, layout, context: Context):
    """(reading, outcome) when the claim holds with its Jacobians in the denominator layout (not declared)."""
    if context.jacobian is not None or not (has_jacobian(lhs) or has_jacobian(rhs)):
        return None
    other = replace(reading, jacobian="denominator")
    try:
        out = _evaluate(lhs, rhs, inst, other, indices, layout)
    except (NotCheckable, ShapeMismatch, ZeroDivisionError, CrossAmbiguous):
        return None
    return (other, out) if out.holds else None


def _readings(lhs, rhs, context: Context, inst: Instance) -> list[Reading]:
    """The conventions the claim is evaluated under: the declared ones, else every common one it depends on."""
    if context.dz is not None:
        dzs = [context.dz]
    elif (_has_dz(lhs) or _has_dz(rhs)) and inst.m > 1 and inst.spec.reduction == "mean":
        dzs = ["per_sample", "batch"]
    else:
        dzs = ["per_sample"]
    return [Reading(dz, context.jacobian or "numerator") for dz in dzs]


@dataclass
class _Case:
    """One claim on one instance: the verdicts that need a diagnosis (near misses and their repairs).

    ``declared``: the model is the document's own (flags, directive, its definitions), so a claim whose shapes
    cannot fit is refuted; on a model only inferred it is not checkable."""

    lhs: sp.Basic
    rhs: sp.Basic
    inst: Instance
    indices: list
    layout: Layout
    declared: bool = False
    diagnose: bool = True

    def repair(self, reading: Reading) -> tuple[str, str] | None:
        if not self.diagnose:
            return None
        return repair(self.lhs, self.rhs, self.inst, reading, self.indices, self.layout)

    def shapes(self, reading: Reading, what: str) -> Verdict:
        found = self.repair(reading)
        if found is not None:
            return Verdict("refuted", f"{found[0]} ({what})", "shapes", found[0], repair=found[1])
        if self.declared:
            return Verdict("refuted", f"shapes: {what} on the {self.inst.spec.net} instance, whose widths and batch "
                           "size all differ, so no other sizes of this model make them fit", "shapes",
                           f"shapes: {what}")
        return Verdict("not checkable", f"{what}, and no single slip explains it (the model was inferred, not "
                       "declared: give --net/--layout or a bpv directive to have shapes judged)")

    def ambiguous(self, good: Reading, bad: Reading, out: _Outcome) -> Verdict:
        found = self.repair(bad)
        diag = found[0] if found else "does not hold"
        fields = tuple(f for f in ("dz", "jacobian", "cross") if getattr(good, f) != getattr(bad, f))
        return Verdict("ambiguous", f"holds with {good.describe(fields)}; with {bad.describe(fields)}: {diag}",
                       _method(out, self.inst, self.indices, len(self.inst.points)), diag)

    def refuted(self, reading: Reading, out: _Outcome) -> Verdict:
        if out.shape:
            return self.shapes(reading, f"as written: {out.shape}")
        found = self.repair(reading)
        diag = found[0] if found else None
        ce = out.failure
        where = ", ".join(f"{k}={v}" for k, v in ce.items() if k not in ("lhs", "rhs", "point"))
        reason = (diag + "; " if diag else "") + f"counterexample{' at ' + where if where else ''}: " \
            f"left {ce['lhs']}, right {ce['rhs']}"
        return Verdict("refuted", reason, f"counterexample at random point {ce['point']}", diag, ce,
                       repair=found[1] if found else None)
