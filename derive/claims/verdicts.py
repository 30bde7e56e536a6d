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
from dataclasses import dataclass, field

import sympy as sp

from derive.claims.ir import BATCH_NAMES, Act, Had, ISum, Mat, Partial, Tr, is_matrix
from derive.claims.semantics import (
    Context,
    Evaluator,
    Instance,
    NotCheckable,
    OutOfRange,
    ShapeMismatch,
    instance_spec,
)
from derive.core.book import book_text
from derive.core.symbols import delta as delta_base
from derive.core.symbols import z as z_base
from numeric.spec import Layout

__all__ = ["BATCH_M", "TOLERANCE", "Verdict", "diagnose", "free_indices", "instance", "judge"]

#: batch size of the instance for claims about a batch (3: a stray 1/m is not confused with a factor 2)
BATCH_M = 3
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

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "reason": self.reason, "method": self.method, "diagnosis": self.diagnosis,
                "counterexample": self.counterexample}


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
    key = (instance_spec(context.spec), m, seed, context.spec.bias)
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


def _agree(lv, rv) -> tuple[bool, bool]:
    """(equal, exact) for two scalars."""
    if isinstance(lv, sp.Rational) and isinstance(rv, sp.Rational):
        return lv == rv, True
    try:
        lc, rc = complex(lv), complex(rv)
    except TypeError:
        raise NotCheckable("a value that is not a number") from None
    scale = max(1.0, abs(lc), abs(rc))
    return abs(lc - rc) <= float(TOLERANCE) * scale, False


def _show(v) -> str:
    if isinstance(v, sp.MatrixBase):
        return "[" + "; ".join(", ".join(_show(x) for x in v.row(r)) for r in range(v.rows)) + "]"
    try:
        return f"{float(v):.6g}"
    except TypeError:
        return str(v)


def _evaluate(lhs, rhs, inst: Instance, convention: str, indices: list[sp.Symbol], layout: Layout) -> _Outcome:
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
                lv = ev.value(lhs)
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
                out.failure = {**where, "point": p + 1, "lhs": _show(lv), "rhs": f"undefined ({err})"}
                return out
            lm, rm = isinstance(lv, sp.MatrixBase), isinstance(rv, sp.MatrixBase)
            if lm != rm or (lm and lv.shape != rv.shape):
                shape_l = lv.shape if lm else "a scalar"
                shape_r = rv.shape if rm else "a scalar"
                return _Outcome(False, out.bindings, out.exact, None, f"left side is {shape_l}, right side {shape_r}")
            pairs = zip(lv, rv, strict=True) if lm else [(lv, rv)]
            for a_, b_ in pairs:
                ok, exact = _agree(a_, b_)
                out.exact = out.exact and exact
                if not ok:
                    where = {str(k): v for k, v in bind.items()}
                    out.holds = False
                    out.failure = {**where, "point": p + 1, "lhs": _show(lv), "rhs": _show(rv)}
                    return out
        if valid:
            out.bindings += 1
    if out.bindings == 0:
        raise NotCheckable("no index values where every quantity of the equation exists on the model")
    return out


def _holds(lhs, rhs, inst, convention, indices, layout) -> bool:
    try:
        return _evaluate(lhs, rhs, inst, convention, indices, layout).holds
    except (NotCheckable, ShapeMismatch, ZeroDivisionError):
        return False


# ----- near misses ----------------------------------------------------------------------------------------------


def _z_nodes(*exprs) -> list[sp.Basic]:
    found = []
    for e in exprs:
        for n in sp.preorder_traversal(e):
            cand = None
            if (isinstance(n, sp.Indexed) and n.base == z_base) or (isinstance(n, Mat) and n.name in ("z", "Z")):
                cand = n
            elif isinstance(n, sp.Indexed) and n.base == delta_base:
                cand = z_base[n.indices]
            elif isinstance(n, Mat) and n.name in ("delta", "Delta", "dZ") and n.layer is not None:
                cand = Mat(sp.Symbol("z" if n.name == "delta" else "Z"), *n.args[1:])
            if cand is not None and cand not in found:
                found.append(cand)
    return found


def _variants(lhs, rhs, indices, m_symbol):
    """(description, new right side) for each typical slip, in the order they are tried."""
    yield "sign: the right side has the wrong sign", -rhs
    yield "factor 2: the right side is half the true value", 2 * rhs
    yield "factor 2: the right side is twice the true value", rhs / 2
    yield "missing 1/m: the right side lacks the 1/m of the mean over the batch", rhs / m_symbol
    yield "stray 1/m: the right side has a 1/m too many", rhs * m_symbol
    for zn in _z_nodes(lhs, rhs):
        fix = Had(rhs, Act(zn, 1)) if is_matrix(rhs) else rhs * Act(zn, 1)
        yield f"missing sigma': the right side lacks the factor sigma'({book_text(zn)})", fix
    for node in [n for n in sp.preorder_traversal(rhs) if isinstance(n, Act) and n.order == 1]:
        yield f"extra sigma': the factor {book_text(node)} does not belong", rhs.xreplace({node: sp.Integer(1)}) \
            if not is_matrix(node) else _drop_had(rhs, node)
    for node in [n for n in sp.preorder_traversal(rhs) if isinstance(n, (Mat, Tr, Partial)) and is_matrix(n)]:
        if isinstance(node, Tr):
            yield f"transpose: {book_text(node)} should not be transposed", rhs.xreplace({node: node.args[0]})
        elif not isinstance(node.args[0] if isinstance(node, Partial) else node, Tr):
            yield f"transpose: {book_text(node)} should be transposed", rhs.xreplace({node: Tr(node)})
    if is_matrix(rhs):
        yield "transpose: the right side is the transpose of the true value", Tr(rhs)
    for node in [n for n in sp.preorder_traversal(rhs) if isinstance(n, sp.Mul)]:
        c_part = [x for x in node.args if x.is_commutative]
        nc_part = [x for x in node.args if not x.is_commutative]
        if len(nc_part) >= 2:
            swapped = sp.Mul(*c_part) * sp.Mul(*reversed(nc_part))
            yield "order: the matrix product is written in the other order (the other layout's form?)", \
                rhs.xreplace({node: swapped})
    for u, v in itertools.combinations(sorted(indices, key=str), 2):
        yield f"swapped index: {u} and {v} are exchanged on the right side", rhs.xreplace({u: v, v: u})
    for node in [n for n in sp.preorder_traversal(rhs) if isinstance(n, sp.Indexed) and len(n.indices) == 3]:
        swapped = node.base[node.indices[0], node.indices[2], node.indices[1]]
        yield f"swapped index: {book_text(node)} should be {book_text(swapped)}", rhs.xreplace({node: swapped})


def _drop_had(expr, node):
    def fix(h):
        args = [x for x in h.args if x != node]
        return args[0] if len(args) == 1 else h
    return expr.replace(lambda h: isinstance(h, Had) and node in h.args, fix)


def diagnose(lhs, rhs, inst: Instance, convention: str, indices, layout: Layout) -> str | None:
    m_symbol = sp.Symbol("m", integer=True, positive=True)
    for text, fixed in _variants(lhs, rhs, indices, m_symbol):
        if "1/m" in text and inst.m == 1:
            continue
        if _holds(lhs, fixed, inst, convention, indices, layout):
            return text
    return None


# ----- the verdict ----------------------------------------------------------------------------------------------


def _method(out: _Outcome, inst: Instance, indices, points: int) -> str:
    where = f"{out.bindings} index value(s) of {', '.join(sorted(map(str, indices)))}" if indices else "the claim"
    arith = "exact rational arithmetic" if out.exact else "45-digit arithmetic, equal to 25 digits"
    kind = "exact" if out.exact else "numeric"
    return (f"{kind}: both sides equal at {points} random points for {where} on a {inst.spec.net} "
            f"{inst.spec.act_text}/{inst.spec.cost} instance (m = {inst.m}), {arith}")


def judge(lhs: sp.Basic, rhs: sp.Basic, context: Context, seed: int = 0) -> Verdict:
    """The verdict on ``lhs = rhs`` against the derivation on ``context`` (see the module doc)."""
    indices = sorted(free_indices(lhs) | free_indices(rhs), key=str)
    m = BATCH_M if _needs_batch(lhs) or _needs_batch(rhs) else 1
    try:
        inst = instance(context, m, seed)
    except Exception as err:  # a model this instance cannot be built for
        return Verdict("not checkable", f"cannot build the model instance: {err}")
    # batch matrices follow the context's layout; per-sample vectors are the book's columns in every layout
    layout = context.spec.layout if m > 1 else Layout.COLUMNS
    ambiguous_conv = _has_dz(lhs) or _has_dz(rhs)
    if context.dz is not None:
        conventions = [context.dz]
    elif ambiguous_conv and m > 1 and inst.spec.reduction == "mean":
        conventions = ["per_sample", "batch"]
    else:
        conventions = ["per_sample"]
    outcomes = {}
    try:
        for conv in conventions:
            outcomes[conv] = _evaluate(lhs, rhs, inst, conv, indices, layout)
    except NotCheckable as err:
        return Verdict("not checkable", str(err))
    except ShapeMismatch as err:
        conv = conventions[0]
        diag = diagnose(lhs, rhs, inst, conv, indices, layout)
        if diag is None:
            return Verdict("not checkable", f"the shapes do not fit ({err}) and no single slip explains it")
        return Verdict("refuted", f"{diag} (as written the shapes do not fit: {err})", "shapes", diag)
    except ZeroDivisionError:
        return Verdict("not checkable", "division by zero at a sample point")
    n_points = len(inst.points)
    held = [c for c in conventions if outcomes[c].holds]
    if len(held) == len(conventions):
        out = outcomes[conventions[0]]
        reason = "holds"
        if ambiguous_conv and len(conventions) == 1 and context.dz:
            reason += f" (dZ/dA read as {'per-sample dC_x/dZ' if context.dz == 'per_sample' else 'dC/dZ'})"
        return Verdict("proven", reason, _method(out, inst, indices, n_points))
    if held:
        good = held[0]
        bad = next(c for c in conventions if c not in held)
        diag = diagnose(lhs, rhs, inst, bad, indices, layout) or "does not hold"
        names = {"per_sample": "the per-sample dC_x/dZ (course notes)", "batch": "dC/dZ of the batch cost"}
        return Verdict("ambiguous", f"holds if dZ/dA is {names[good]}; if it is {names[bad]}: {diag}",
                       _method(outcomes[good], inst, indices, n_points), diag)
    conv = conventions[0]
    out = outcomes[conv]
    if out.shape:
        diag = diagnose(lhs, rhs, inst, conv, indices, layout)
        if diag is None:
            return Verdict("not checkable", f"the shapes do not fit ({out.shape}) and no single slip explains it")
        return Verdict("refuted", f"{diag} (as written: {out.shape})", "shapes", diag)
    diag = diagnose(lhs, rhs, inst, conv, indices, layout)
    ce = out.failure
    where = ", ".join(f"{k}={v}" for k, v in ce.items() if k not in ("lhs", "rhs", "point"))
    reason = (diag + "; " if diag else "") + f"counterexample{' at ' + where if where else ''}: " \
        f"left {ce['lhs']}, right {ce['rhs']}"
    return Verdict("refuted", reason, f"counterexample at random point {ce['point']}", diag, ce)
