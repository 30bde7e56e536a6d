r"""Judging a BPTT claim of a vanilla RNN (min-char-rnn, CS231n, Goodfellow ch. 10 in matrix notation).

The claim is read by :mod:`derive.claims.shared_names` (``dh = W_{hy}^T dy + dh_{next}``, ``dh_{raw} = (1 - h_t^2)
\odot dh``, ``dW_{hh} = \sum_t dh_{raw,t} h_{t-1}^T``, ...) and both sides are evaluated on the RNN that
:func:`derive.layers.rnn.unrolled_gradients` unrolls at :data:`RNN_SIZES` (T = 3 steps, V = 3 tokens, n_h = 2 hidden
units, m = 2 sequences, its seeded tokens): a forward name (h_t, x_t, y_t the one-hot target, p_t, z_t, a_t, the
parameters) is its value in the unrolled forward pass, a gradient name (dh_t, dh_{raw,t} = da_t, dy_t = dz_t,
dW_{hh}, ...) its true value: ``sympy.diff`` of the unrolled cost (:func:`derive.layers.rnn.direct_gradients`), never
the recursion. ``dh_{next}`` at step t is the gradient that reaches h_t through a_{t+1} = W_{xh} x_{t+1} + W_{hh} h_t
+ b_h, i.e. W_{hh}^T times the true dC/da_{t+1} (0 at t = T; every gradient at step T + 1 is 0: there is no step
after T). A claim about a step is checked at every step t = 1..T; a name without a step is at the claim's t (inside
``\sum_t``: the sum's t).

Each comparison is :func:`derive.layers.rnn.check_form`, entry by entry at a random rational point in 60-digit
arithmetic (numeric evidence, never called a proof). A refuted claim is diagnosed by the classic slips of BPTT: no
dh_next, h_t in place of h_{t-1} in dW_{hh}, no tanh', a missing or stray transpose, a sign, a factor 2; the repair is
re-checked the same way.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from derive.claims.semantics import NotCheckable
from derive.claims.shared_conv import integer
from derive.claims.shared_reader import Ind, Num, Op, Pos, Ref, Sum, to_latex
from derive.layers.rnn import check_form, random_points, unrolled_gradients

__all__ = ["RNN_SIZES", "RnnEvaluator", "judge_rnn", "rnn_instance"]

_STEPPED = {"h", "x", "y", "p", "z", "a", "dh", "da", "dz", "dhnext"}
_PARAMS = ("Wxh", "Whh", "bh", "Why", "by")


class NotFit(Exception):
    """Two arrays of a claim whose shapes do not fit the operation (the claim is wrong as written)."""


#: the unrolled RNN claims are checked on: derive_bptt's steps and sizes, with m = 2 sequences (its default is 1) so
#: that a missing 1/m and a sum over the wrong axis change the values (measured: 9.7 s to unroll and differentiate,
#: once per worker; 2.5 s at m = 1)
RNN_SIZES = {"T": 3, "sizes": (3, 2), "m": 2}


@cache
def rnn_instance():
    """The unrolled RNN, its direct gradients and the random point (at :data:`RNN_SIZES`)."""
    u, direct = unrolled_gradients(RNN_SIZES["T"], RNN_SIZES["sizes"], RNN_SIZES["m"])
    return u, direct, random_points(u)


class RnnEvaluator:
    """A side of a claim on the unrolled RNN at step t (matrices of SymPy expressions)."""

    def __init__(self, u, direct):
        self.u, self.direct = u, direct

    def step(self, ref: Ref, t: int | None) -> int:
        if ref.idx:
            return int(integer(ref.idx[0], {} if t is None else {"t": t}))
        if t is None:
            raise NotCheckable(f"{to_latex(ref)} without a step outside a sum over t")
        return t

    def ref(self, ref: Ref, t: int | None):
        u = self.u
        if ref.name == "m":
            return sp.Integer(u.m)
        if ref.name == "T":
            return sp.Integer(u.T)
        if ref.name == "ones":
            return sp.ones(u.m, 1)
        if ref.name in _PARAMS:
            return u.theta[ref.name]
        if ref.name.startswith("dW") or ref.name in ("dbh", "dby"):
            return self.direct[ref.name[1:]]
        s = self.step(ref, t)
        if ref.name in ("dh", "da", "dz", "dhnext"):
            nxt = s + 1 if ref.name == "dhnext" else s
            if not 1 <= s <= u.T + 1 or nxt > u.T + 1:
                raise NotCheckable(f"{to_latex(ref)} at step {s} of a {u.T}-step sequence")
            if nxt > u.T:  # no step after T: nothing flows back from it
                rows = u.V if ref.name == "dz" else u.n_h
                return sp.zeros(rows, u.m)
            if ref.name == "dhnext":
                return u.theta["Whh"].T * self.direct["a", nxt]
            return self.direct[ref.name[1], s]
        if ref.name == "h" and 0 <= s <= u.T:
            return u.h[s]
        if not 1 <= s <= u.T:
            raise NotCheckable(f"{to_latex(ref)} at step {s} of a {u.T}-step sequence")
        return {"x": u.xs, "y": u.ys, "p": u.p, "z": u.z, "a": u.a}[ref.name][s - 1]

    def value(self, node: object, t: int | None):
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Ref):
            return self.ref(node, t)
        if isinstance(node, Sum):
            return self.total(node)
        if isinstance(node, (Ind, Pos)):
            raise NotCheckable("an indicator in a claim about the recurrent net")
        args = [self.value(a, t) for a in node.args]
        try:
            return _apply(node.op, args)
        except sp.ShapeError as err:
            raise NotFit(f"{to_latex(node)}: {err}") from None

    def total(self, node: Sum):
        if node.letters != ("t",):
            raise NotCheckable("a sum over something other than the steps t (\\sum_t, \\sum_{t=1}^{T})")
        lo = int(integer(node.lo, {})) if node.lo is not None else 1
        hi = int(integer(node.hi.subs(sp.Symbol("T", integer=True), self.u.T), {})) if node.hi is not None \
            else self.u.T
        if (lo, hi) != (1, self.u.T):
            raise NotCheckable(f"a sum over t = {lo}..{hi}: the gradients of shared weights sum over every step, "
                               f"1..T")
        out = None
        for s in range(lo, hi + 1):
            v = self.value(node.body, s)
            out = v if out is None else _apply("+", [out, v])
        return out


def _is_matrix(v) -> bool:
    return isinstance(v, sp.MatrixBase)


def _apply(op: str, args: list):
    a = args[0]
    if op == "neg":
        return -a
    if op == "T":
        if not _is_matrix(a):
            raise NotCheckable("a transpose of a number")
        return a.T
    if op == "sq":
        return a.applyfunc(lambda e: e ** 2) if _is_matrix(a) else a ** 2
    if op == "+":
        mats = [v for v in args if _is_matrix(v)]
        shape = mats[0].shape if mats else None
        out = sp.zeros(*shape) if shape else sp.Integer(0)
        for v in args:
            out = out + (v if _is_matrix(v) or shape is None else v * sp.ones(*shape))
        return out
    b = args[1]
    if op == "div":
        if _is_matrix(b):
            raise NotCheckable("a division by an array")
        return a / b
    if op == "had" and _is_matrix(a) and _is_matrix(b):
        if a.shape != b.shape:
            raise sp.ShapeError(f"element-wise product of {a.shape} and {b.shape}")
        return sp.matrix_multiply_elementwise(a, b)
    return a * b


def _instance_text(u) -> str:
    return (f"the RNN unrolled over T = {u.T} steps, V = {u.V} tokens, n_h = {u.n_h} hidden units, m = {u.m} "
            "(derive.layers.rnn.unrolled_gradients)")


def _check(ev: RnnEvaluator, lhs: Ref, rhs: object, points) -> tuple[bool, str, dict | None]:
    """(holds, method or failure, counterexample) over every step the claim is about."""
    u = ev.u
    stepped = lhs.name in _STEPPED
    steps = [t for t in range(1, u.T + 1) if 1 <= ev.step(lhs, t) <= u.T] if stepped else [None]
    methods, summed = [], False
    for t in steps:
        truth = ev.value(lhs, t)
        try:
            claimed = ev.value(rhs, t)
        except NotFit as err:
            return False, f"shapes: {err}", None
        if not _is_matrix(claimed):
            claimed = claimed * sp.ones(*truth.shape)
        if lhs.name in ("dbh", "dby") and claimed.shape == (truth.rows, u.m) and u.m > 1:
            claimed, summed = claimed * sp.ones(u.m, 1), True  # a column per sequence: the bias is shared by them
        if claimed.shape != truth.shape:
            return False, f"shapes: the right side is {claimed.shape}, {to_latex(lhs)} is {truth.shape}", None
        chk = check_form(truth, claimed, points)
        where = "" if t is None else f" at t = {t}"
        if chk.holds is not True:
            entry = chk.method.split(" at random point")[0]
            return False, (f"counterexample: {entry}{where} differs from sympy.diff of the unrolled cost at a random "
                           f"rational point (60-digit arithmetic)"), chk.counterexample
        methods.append(chk.method)
    at = f", at every step t = 1..{u.T}" if stepped else ""
    columns = f"; the right side's column per sequence summed over the {u.m} sequences (they share the bias)" \
        if summed else ""
    return True, f"{methods[0]}{at}; on {_instance_text(u)}{columns}", None


def _names(node: object) -> set[str]:
    if isinstance(node, Ref):
        return {node.name}
    if isinstance(node, Op):
        return set().union(*(_names(a) for a in node.args))
    if isinstance(node, Sum):
        return _names(node.body)
    return set()


def _shift_state(node: object) -> object:
    """h_t (or h) -> h_{t-1}."""
    if isinstance(node, Ref) and node.name == "h" and (not node.idx or node.idx[0] == sp.Symbol("t", integer=True)):
        return Ref("h", (sp.Symbol("t", integer=True) - 1,), node.stem)
    if isinstance(node, Op):
        return Op(node.op, tuple(_shift_state(a) for a in node.args))
    if isinstance(node, Sum):
        return Sum(node.letters, node.lo, node.hi, _shift_state(node.body))
    return node


def _toggle(node: object, which: int, seen: list[int]) -> object:
    """The ``which``-th weight matrix transposed (or its transpose undone)."""
    if isinstance(node, Op) and node.op == "T" and isinstance(node.args[0], Ref) and node.args[0].name in _PARAMS:
        seen[0] += 1
        return node.args[0] if seen[0] - 1 == which else node
    if isinstance(node, Ref) and node.name in ("Whh", "Wxh", "Why"):
        seen[0] += 1
        return Op("T", (node,)) if seen[0] - 1 == which else node
    if isinstance(node, Op):
        return Op(node.op, tuple(_toggle(a, which, seen) for a in node.args))
    if isinstance(node, Sum):
        return Sum(node.letters, node.lo, node.hi, _toggle(node.body, which, seen))
    return node


def variants(lhs: Ref, rhs: object):
    """(the slip in words, the right side with it undone), the classic slips of BPTT first."""
    names = _names(rhs)
    if lhs.name == "dh" and "dhnext" not in names and "Whh" not in names:
        yield ("BPTT without dh_next: h_t also reaches the cost through a_{t+1} = W_{xh} x_{t+1} + W_{hh} h_t + b_h, "
               "so dh_t = W_{hy}^T dy_t + dh_{next} with dh_{next} = W_{hh}^T dh_{raw,t+1} (0 at t = T)",
               Op("+", (rhs, Ref("dhnext", (), "dh", "next"))))
    if lhs.name == "dWhh" and _shift_state(rhs) != rhs:
        yield "h_t instead of h_{t-1}: at step t, W_{hh} multiplies the previous state h_{t-1}", _shift_state(rhs)
    if lhs.name == "da":
        h = Ref("h", (), "h")
        yield ("missing tanh': dh_{raw} = (1 - h_t^2) \\odot dh_t, the derivative of h_t = tanh(a_t)",
               Op("had", (Op("+", (Num(sp.Integer(1)), Op("neg", (Op("sq", (h,)),)))), rhs)))
    for k in range(8):
        seen = [0]
        flipped = _toggle(rhs, k, seen)
        if seen[0] <= k:
            break
        yield "a transpose: the weight matrix is used the other way round (W^T carries a gradient back)", flipped
    if lhs.name == "dz" and "m" not in names:
        yield ("missing 1/m: the cost averages over the m sequences of the batch, so dy_t = (p_t - y_t)/m",
               Op("div", (rhs, Ref("m", (), "m"))))
    yield "sign: the right side has the wrong sign", Op("neg", (rhs,))
    yield "factor 2: the right side is half the true value", Op("mul", (Num(sp.Integer(2)), rhs))
    yield "factor 2: the right side is twice the true value", Op("div", (rhs, Num(sp.Integer(2))))


def judge_rnn(lhs: object, rhs: object) -> dict:
    """The verdict on ``lhs = rhs`` (read trees) on the unrolled RNN (see the module doc)."""
    if not isinstance(lhs, Ref) or not (lhs.name.startswith("d")):
        raise NotCheckable("the left side is not a gradient (dh, dh_{raw}, dy, dW_{hh}, \\frac{\\partial C}"
                           "{\\partial W_{hh}}, ...): only gradient claims of the recurrent net are checked")
    u, direct, points = rnn_instance()
    ev = RnnEvaluator(u, direct)
    holds, method, ce = _check(ev, lhs, rhs, points)
    if holds and lhs.name == "dhnext":
        return {"verdict": "definition", "reason": "names what step t + 1 sends back to h_t: bpv reads dh_{next} as "
                "W_{hh}^T dC/da_{t+1} (0 at t = T), and this row says the same"}
    if holds:
        return {"verdict": "proven", "reason": "holds", "method": method, "strength": "numeric"}
    for text, fixed in variants(lhs, rhs):
        try:
            ok = _check(ev, lhs, fixed, points)[0]
        except NotCheckable:
            ok = False
        if ok:
            return {"verdict": "refuted", "reason": f"{text}; {method}", "method": "counterexample",
                    "diagnosis": text, "counterexample": ce, "repair": f"{to_latex(lhs)} = {to_latex(fixed)}"}
    return {"verdict": "refuted", "reason": method, "method": "counterexample", "diagnosis": None,
            "counterexample": ce}
