"""A vanilla RNN unrolled over T steps, SymPy side: backpropagation through time proven from the unrolled cost.

The SymPy half of :mod:`numeric.rnn` (paired by ``kind``). At concrete sizes (T steps, V tokens, n_h hidden units,
m sequences) and concrete token data, the forward pass is written out from the definitions:

    a_t = W_xh x_t + W_hh h_{t-1} + b_h,  h_t = tanh(a_t),  z_t = W_hy h_t + b_y,
    C = (1/m) sum_s sum_t C_x(softmax(z_t[:, s]), onehot(y_t[s])),

tanh as the repo's opaque proven function (:func:`derive.backprop.compose.activation_function`: its derivative is
the already derived and checked 1 - tanh^2), softmax from its index-form definition and C_x from the derived
definition of the ``cce`` cost (:func:`derive.functions.costs.derive_cost`). h_0 is a matrix of free symbols
(any given initial state); the tokens x_t, y_t are data (one-hot columns of numbers).

Each BPTT form is a **claim**: dz_t = (p_t - onehot(y_t)) / m, dh_t = W_hy^T dz_t + W_hh^T da_{t+1},
da_t = (1 - h_t^2) * dh_t, and the parameter gradients summed over time, every one built by the recursion (each
claim from the *claimed* forms after it). Each is compared, entry by entry, with ``sympy.diff`` of the unrolled cost,
which never goes through the recursion: a parameter's gradient is the derivative of C itself; the gradient with
respect to an intermediate (z_t, h_t or a_t) is the derivative of the cost composed with that quantity replaced
by free symbols from step t on, evaluated at its forward value.

How an entry is decided: an entry whose two sides are the same SymPy tree (the softmax entries of a non-target
token, the zero columns of W_xh for a token never seen) is identical; otherwise a symbolic difference of these
nested tanh/exp trees takes minutes to expand, so both sides are evaluated at a random rational point (denominator
997, :func:`derive.core.proof.sample_point`) in 60-digit arithmetic and :func:`derive.core.proof.prove_equal`
compares the values to 30 digits. The Check then says ``numeric``: evidence, never called a proof. A wrong form
(:data:`MISTAKES`) is refuted by the same function with the point as its counterexample.

Measured: ``derive_bptt()`` (T = 3, V = 3, n_h = 2, m = 1) in about 8 s on this machine, most of it
``sympy.diff`` of the unrolled cost (4 s) and the evaluation of the derivatives at the point (3 s).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import sympy as sp

from derive.backprop.compose import activate, activation_function
from derive.core.proof import Check, Strength, prove_equal, sample_point
from derive.core.steps import Derivation, Role, Step, StepKind
from derive.core.symbols import a as a_base
from derive.core.symbols import y as y_base
from derive.functions.costs import L as L_cost
from derive.functions.costs import derive_cost, n_out
from numeric.errors import BadInput
from numeric.spec import ActSpec

__all__ = ["CUTS", "MISTAKES", "PARAM_NAMES", "Unrolled", "bptt_forms", "check_form", "derive_bptt",
           "direct_gradients", "random_points", "unroll", "unrolled_gradients"]

PARAM_NAMES = ("Wxh", "Whh", "bh", "Why", "by")

#: the intermediates a BPTT claim is about: the output pre-activation z_t, the state h_t, the pre-activation a_t
CUTS = ("z", "h", "a")


@dataclass
class Unrolled:
    """The unrolled forward pass at concrete sizes, and its cost (see the module doc).

    ``theta`` holds the parameter matrices (entries ``Whh_12`` = W_hh[1, 2], 1-based), ``h0`` the initial state's
    symbols, ``xs``/``ys`` the one-hot input/target columns (V x m) per step; ``a``, ``h``, ``z``, ``p`` the forward
    quantities per step (``h[0]`` is h_0), each an (n x m) Matrix; ``cost`` the scalar C.
    """

    T: int
    V: int
    n_h: int
    m: int
    x_tokens: tuple[tuple[int, ...], ...]
    y_tokens: tuple[tuple[int, ...], ...]
    theta: dict[str, sp.Matrix]
    h0: sp.Matrix
    xs: list[sp.Matrix]
    ys: list[sp.Matrix]
    a: list[sp.Matrix] = field(default_factory=list)
    h: list[sp.Matrix] = field(default_factory=list)
    z: list[sp.Matrix] = field(default_factory=list)
    p: list[sp.Matrix] = field(default_factory=list)
    cost: sp.Expr = sp.S.Zero


def _matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}", real=True))


def _one_hot(tokens: tuple[int, ...], V: int) -> sp.Matrix:
    return sp.Matrix(V, len(tokens), lambda i, s: 1 if tokens[s] == i else 0)


@cache
def _cce_definition(V: int) -> sp.Expr:
    """C_x of one sample at width V, from the cce cost's derived index-form definition."""
    return derive_cost("cce").C.subs(n_out, V).doit()


def _sample_cost(p_col: list[sp.Expr], y_col: list[sp.Expr]) -> sp.Expr:
    V = len(p_col)
    table = {a_base[L_cost, k + 1]: p_col[k] for k in range(V)}
    table.update({y_base[k + 1]: y_col[k] for k in range(V)})
    return _cce_definition(V).xreplace(table)


def _tokens(rng: random.Random, T: int, m: int, V: int) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(rng.randrange(V) for _ in range(m)) for _ in range(T))


def _run(u: Unrolled, cut: tuple[str, int, sp.Matrix] | None = None) -> tuple[list, list, list, list, sp.Expr]:
    """The forward pass and C; ``cut = (kind, t, free)`` replaces the quantity ``kind`` at step t by ``free``
    (the steps before t are then irrelevant to C, and are not composed)."""
    tanh = activation_function("tanh")
    softmax = ActSpec.parse("softmax")
    th = u.theta
    ones = sp.ones(1, u.m)
    start = 1 if cut is None else cut[1]
    h_prev = u.h0 if cut is None else None
    a_all, h_all, z_all, p_all = [], [u.h0], [], []
    cost = sp.S.Zero
    for t in range(start, u.T + 1):
        here = cut if cut is not None and cut[1] == t else None
        if here is not None and here[0] == "z":  # z_t feeds nothing later: the state goes on at its forward value
            a_t, h_t = u.a[t - 1], u.h[t]
        elif here is not None and here[0] == "h":
            a_t, h_t = None, here[2]
        else:
            a_t = here[2] if here is not None else th["Wxh"] * u.xs[t - 1] + th["Whh"] * h_prev + th["bh"] * ones
            h_t = a_t.applyfunc(tanh)
        z_t = here[2] if here is not None and here[0] == "z" else th["Why"] * h_t + th["by"] * ones
        p_t = sp.Matrix.hstack(*[sp.Matrix(activate(softmax, list(z_t[:, s]))) for s in range(u.m)])
        cost += sum(_sample_cost(list(p_t[:, s]), list(u.ys[t - 1][:, s])) for s in range(u.m))
        a_all.append(a_t)
        h_all.append(h_t)
        z_all.append(z_t)
        p_all.append(p_t)
        h_prev = h_t
    return a_all, h_all, z_all, p_all, cost / u.m


def unroll(T: int = 3, sizes: tuple[int, int] = (3, 2), m: int = 1, *, seed: int = 0) -> Unrolled:
    """The RNN unrolled over ``T`` steps at ``sizes = (V, n_h)`` for ``m`` sequences of seeded random tokens."""
    V, n_h = sizes
    if T < 1 or V < 2 or n_h < 1 or m < 1:
        raise BadInput(f"derive_bptt needs T >= 1, V >= 2, n_h >= 1, m >= 1; got T={T}, sizes={sizes}, m={m}")
    rng = random.Random(seed)
    x_tok, y_tok = _tokens(rng, T, m, V), _tokens(rng, T, m, V)
    shapes = {"Wxh": (n_h, V), "Whh": (n_h, n_h), "bh": (n_h, 1), "Why": (V, n_h), "by": (V, 1)}
    theta = {k: _matrix(k, *s) for k, s in shapes.items()}
    u = Unrolled(T, V, n_h, m, x_tok, y_tok, theta, _matrix("h0", n_h, m),
                 [_one_hot(x_tok[t], V) for t in range(T)], [_one_hot(y_tok[t], V) for t in range(T)])
    u.a, u.h, u.z, u.p, u.cost = _run(u)
    return u


def _forward_value(u: Unrolled, kind: str, t: int) -> sp.Matrix:
    return {"z": u.z, "h": u.h[1:], "a": u.a}[kind][t - 1]


@cache
def unrolled_gradients(T: int = 3, sizes: tuple[int, int] = (3, 2), m: int = 1, seed: int = 0
                       ) -> tuple[Unrolled, dict]:
    """:func:`unroll` and :func:`direct_gradients`, once per arguments (read them, do not modify them)."""
    u = unroll(T, tuple(sizes), m, seed=seed)
    return u, direct_gradients(u)


def direct_gradients(u: Unrolled) -> dict:
    """The independent side: sympy.diff of C by every parameter entry, and of the cut cost by z_t, h_t, a_t.

    Keys: a parameter name (a Matrix of its shape), or ``(kind, t)`` with kind in :data:`CUTS`.
    """
    out: dict = {k: M.applyfunc(lambda e: sp.diff(u.cost, e)) for k, M in u.theta.items()}
    for kind in CUTS:
        rows = u.V if kind == "z" else u.n_h
        for t in range(1, u.T + 1):
            free = _matrix(f"cut_{kind}{t}", rows, u.m)
            cost = _run(u, (kind, t, free))[4]
            at = dict(zip(free, _forward_value(u, kind, t), strict=True))
            out[kind, t] = free.applyfunc(lambda e, c=cost, at=at: sp.diff(c, e).xreplace(at))
    return out


def bptt_forms(u: Unrolled, *, dh_next: bool = True, previous_state: bool = True) -> dict:
    """The BPTT claims built by the recursion, from step T down to 1, with the keys of :func:`direct_gradients`.

    ``dh_next=False`` drops the W_hh^T da_{t+1} term from dh_t; ``previous_state=False`` uses h_t in place of
    h_{t-1} in dW_hh: the two classic BPTT mistakes, for showing that the same checks refute them.
    """
    th, m = u.theta, u.m
    ones = sp.ones(u.m, 1)
    forms: dict = {k: sp.zeros(*M.shape) for k, M in th.items()}
    carry = sp.zeros(u.n_h, m)
    for t in range(u.T, 0, -1):
        dz = (u.p[t - 1] - u.ys[t - 1]) / m
        dh = th["Why"].T * dz + (carry if dh_next else sp.zeros(u.n_h, m))
        h_t = u.h[t]
        da = sp.matrix_multiply_elementwise(sp.ones(u.n_h, m) - sp.matrix_multiply_elementwise(h_t, h_t), dh)
        forms["z", t], forms["h", t], forms["a", t] = dz, dh, da
        forms["Why"] += dz * h_t.T
        forms["by"] += dz * ones
        forms["Whh"] += da * (u.h[t - 1] if previous_state else h_t).T
        forms["Wxh"] += da * u.xs[t - 1].T
        forms["bh"] += da * ones
        carry = th["Whh"].T * da
    return forms


#: digits of the arithmetic the random points are evaluated in (prove_equal then compares to 30 digits)
DIGITS = 60


def random_points(u: Unrolled, n: int = 1, *, seed: int = 0) -> list[dict[sp.Symbol, sp.Float]]:
    """``n`` random rational points for every free symbol (parameters and h_0), as ``DIGITS``-digit Floats.

    Numbers, not symbols: tanh(number) and exp(number) evaluate at once, where the symbolic difference of two
    entries takes minutes to expand. The values are rationals with denominator 997 (:func:`sample_point`).
    """
    symbols = [s for M in (*u.theta.values(), u.h0) for s in M]
    rng = random.Random(seed)
    return [{k: sp.Float(v, DIGITS) for k, v in sample_point(symbols, rng).items()} for _ in range(n)]


def check_form(direct: sp.Matrix, claimed: sp.Matrix, points: list[dict[sp.Symbol, sp.Float]]) -> Check:
    """Every entry of ``claimed`` against ``direct`` at every point, each pair of values decided by prove_equal."""
    if direct.shape != claimed.shape:
        return Check(False, f"shape {claimed.shape} instead of {direct.shape}", strength=Strength.EXACT)
    identical = 0
    for r in range(direct.rows):
        for c in range(direct.cols):
            if direct[r, c] == claimed[r, c]:
                identical += 1  # the same tree (both zero for a token never seen, say): nothing to evaluate
                continue
            for k, point in enumerate(points, start=1):
                chk = prove_equal(direct[r, c].xreplace(point), claimed[r, c].xreplace(point))
                if chk.holds is not True:
                    return Check(chk.holds, f"entry ({r + 1},{c + 1}) at random point {k}: {chk.method}", chk.detail,
                                 counterexample=chk.counterexample, strength=chk.strength)
    n = direct.rows * direct.cols
    if identical == n:
        return Check(True, f"symbolic: each of the {n} entries is the same expression as sympy.diff of the cost",
                     strength=Strength.SYMBOLIC)
    where = "a random rational point" if len(points) == 1 else f"{len(points)} random rational points"
    return Check(True, f"numeric: each of the {n} entries equals sympy.diff of the cost at {where} ({DIGITS}-digit "
                       "arithmetic, agreement to 30 digits)",
                 f"{identical} of them the same expression; tanh and exp make the rest transcendental: numerical "
                 "evidence, not a proof", strength=Strength.NUMERIC)


def _show(name: str, rows: int, cols: int) -> sp.MatrixSymbol:
    return sp.MatrixSymbol(name, rows, cols)


def _claim_texts(u: Unrolled, t: int) -> dict[str, tuple[sp.Expr, str]]:
    """The textbook forms at step t, for display (the checked values are :func:`bptt_forms`)."""
    V, n_h, m = u.V, u.n_h, u.m
    Why, Whh = _show("W_hy", V, n_h), _show("W_hh", n_h, n_h)
    dz, dh = _show(f"dz_{t}", V, m), _show(f"dh_{t}", n_h, m)
    p_t, y_t = _show(f"p_{t}", V, m), _show(f"Y_{t}", V, m)
    nxt = Whh.T * _show(f"da_{t + 1}", n_h, m) if t < u.T else sp.ZeroMatrix(n_h, m)
    return {
        "z": ((p_t - y_t) / m, "softmax and cross-entropy: p_t minus the one-hot targets, over m"),
        "h": (Why.T * dz + nxt, "h_t reaches C through z_t and through a_{t+1} (dh_next; none after T)"),
        "a": (sp.HadamardProduct(_show(f"tanh'(a_{t})", n_h, m), dh),
              "tanh'(a_t) = 1 - h_t^2, the proven derivative of the opaque tanh, element-wise"),
    }


def _param_texts(u: Unrolled) -> dict[str, tuple[sp.Expr, str]]:
    V, n_h, m = u.V, u.n_h, u.m
    t = sp.Symbol("t", integer=True, positive=True)
    da, dz = _show("da_t", n_h, m), _show("dz_t", V, m)
    h_t, h_prev, x_t = _show("h_t", n_h, m), _show("h_{t-1}", n_h, m), _show("X_t", V, m)
    ones = _show("1_m", m, 1)

    def total(e: sp.Expr) -> sp.Expr:
        return sp.Sum(e, (t, 1, u.T))

    return {
        "Why": (total(dz * h_t.T), "the output layer of each step, summed over time"),
        "by": (total(dz * ones), "summed over time and sequences"),
        "Whh": (total(da * h_prev.T), "W_hh multiplies h_{t-1} at step t"),
        "Wxh": (total(da * x_t.T), "x_t one-hot: a column of W_xh per token"),
        "bh": (total(da * ones), "summed over time and sequences"),
    }


@cache
def derive_bptt(T: int = 3, sizes: tuple[int, int] = (3, 2), m: int = 1, *, seed: int = 0) -> Derivation:
    """BPTT for a vanilla RNN at ``T`` steps, ``sizes = (V, n_h)``, ``m`` sequences (see the module doc)."""
    u, direct = unrolled_gradients(T, tuple(sizes), m, seed)
    V, n_h = u.V, u.n_h
    d = Derivation(f"vanilla RNN: backpropagation through time from the unrolled cost (T = {T}, V = {V}, "
                   f"n_h = {n_h}, m = {m})", role=Role.OTHER, subject="rnn",
                   summary=f"tokens x = {list(u.x_tokens)}, targets y = {list(u.y_tokens)} (one tuple per step); "
                           "every claim is compared with sympy.diff of the unrolled cost, entry by entry")
    C = sp.Symbol("C")
    show = _show
    t = sp.Symbol("t", integer=True, positive=True)
    ones = show("1_m", 1, m)
    h_t, h_prev, z_t, p_t = show("h_t", n_h, m), show("h_{t-1}", n_h, m), show("z_t", V, m), show("p_t", V, m)
    d.define("rnn.a", show("a_t", n_h, m),
             show("W_xh", n_h, V) * show("X_t", V, m) + show("W_hh", n_h, n_h) * h_prev + show("b_h", n_h, 1) * ones,
             "the pre-activation of step t (X_t: one-hot columns of the input tokens; h_0 given, free symbols)")
    d.define("rnn.h", h_t, sp.Function("tanh")(show("a_t", n_h, m)),
             "tanh element-wise: the opaque function whose derivative 1 - tanh^2 is already proven",
             note="uses tanh.def, tanh.diff, tanh.closed")
    d.define("rnn.z", z_t, show("W_hy", V, n_h) * h_t + show("b_y", V, 1) * ones, "the output pre-activation")
    d.define("rnn.p", p_t, sp.Function("softmax")(z_t), "softmax of each column, from its index-form definition",
             note="uses softmax.def")
    d.define("rnn.C", C, sp.Sum(sp.Function("C_x")(p_t, show("Y_t", V, m)), (t, 1, T)) / m,
             "the cce cost's derived definition C_x = -sum_j y_j ln a_j for each sequence and step, summed over time "
             "and averaged over the m sequences (Y_t: one-hot targets)",
             note=f"uses cce.def; written out at these sizes ({sp.count_ops(u.cost)} operations) and differentiated "
                  "as written: the recursion is never used")
    forms = bptt_forms(u)
    points = random_points(u, seed=seed)
    for step in range(T, 0, -1):
        texts = _claim_texts(u, step)
        for kind in CUTS:
            rhs, why = texts[kind]
            lhs = sp.Derivative(C, show(f"{kind}_{step}", *forms[kind, step].shape), evaluate=False)
            depends = {"z": ("rnn.C",), "h": (f"rnn.dz{step}",), "a": (f"rnn.dh{step}",)}[kind]
            if kind == "h" and step < T:
                depends = (*depends, f"rnn.da{step + 1}")
            d.add(Step(f"rnn.d{kind}{step}", lhs, rhs, StepKind.CLAIM,
                       f"{why}; against sympy.diff of the cost with {kind}_{step} cut free",
                       check_form(direct[kind, step], forms[kind, step], points), depends))
    for name, (rhs, why) in _param_texts(u).items():
        lhs = sp.Derivative(C, show(name, *u.theta[name].shape), evaluate=False)
        uses = "z" if name in ("Why", "by") else "a"
        d.add(Step(f"rnn.d{name}", lhs, rhs, StepKind.CLAIM, f"{why}; against sympy.diff of the unrolled cost",
                   check_form(direct[name], forms[name], points), tuple(f"rnn.d{uses}{s}" for s in range(1, T + 1))))
    return d


#: what a planted BPTT mistake is called, and how :func:`bptt_forms` builds it
MISTAKES: dict[str, Callable[[Unrolled], dict]] = {
    "no dh_next": lambda u: bptt_forms(u, dh_next=False),
    "h_t in dWhh": lambda u: bptt_forms(u, previous_state=False),
}
