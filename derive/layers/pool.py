"""Max-pooling, SymPy side: the gradient of a 2 x 2, stride 2 max-pool derived by ``sympy.diff`` of ``Max``, and the
tie convention (the first maximum in row-major order gets the gradient: ReLU'(0) = 0's rule extended).

Split from :mod:`derive.layers.conv` (the convolution); see there for how the checks decide.
"""

from __future__ import annotations

import random
from functools import cache

import sympy as sp

from derive.core.proof import Check, Strength
from derive.core.steps import Derivation, Role, Step, StepKind
from derive.layers.conv import G, P, X

__all__ = ["POOL_SHAPE", "derive_maxpool", "route_form"]

#: the max-pooling input (rows, columns); windows 2 x 2 with stride 2
POOL_SHAPE = (4, 6)

_C = sp.Symbol("C")


def _d(f: sp.Basic, x: sp.Basic) -> sp.Derivative:
    return sp.Derivative(f, x, evaluate=False)


# ----- max-pooling ------------------------------------------------------------------------------------------------
def _window(i: int, j: int) -> list[tuple[int, int]]:
    """The 2 x 2 window of output (i, j), in row-major order (the order the tie convention refers to)."""
    return [(2 * i + r, 2 * j + c) for r in range(2) for c in range(2)]


def _pool_outputs() -> list[tuple[int, int]]:
    rows, cols = POOL_SHAPE
    return [(i, j) for i in range(rows // 2) for j in range(cols // 2)]


def _pool_inputs() -> list[tuple[int, int]]:
    rows, cols = POOL_SHAPE
    return [(h, w) for h in range(rows) for w in range(cols)]


def _owner(h: int, w: int) -> tuple[int, int]:
    """The one window holding input (h, w): 2 x 2 windows with stride 2 tile the input."""
    return h // 2, w // 2


@cache
def _pool_cost() -> sp.Expr:
    return sp.Add(*[G[i, j] * sp.Max(*[X[e] for e in _window(i, j)]) for i, j in _pool_outputs()])


def _x_symbols() -> list[sp.Indexed]:
    return [X[e] for e in _pool_inputs()]


def _distinct_point(rng: random.Random) -> dict[sp.Basic, sp.Rational]:
    """Distinct rational input values (no ties) and random G values."""
    values = rng.sample(range(-500, 500), len(_pool_inputs()))
    point: dict[sp.Basic, sp.Rational] = {x: sp.Rational(v, 97) for x, v in zip(_x_symbols(), values, strict=True)}
    point.update({G[e]: sp.Rational(rng.randint(-300, 300), 89) for e in _pool_outputs()})
    return point


def _difference_check(raw: dict[tuple[int, int], sp.Expr], points: int = 4) -> Check:
    """Each derived entry against an exact central difference of C at points with distinct inputs.

    C is piecewise linear in X and linear between ties, so with a step smaller than half the smallest gap between
    input values the central difference is the derivative exactly (rational arithmetic).
    """
    cost = _pool_cost()
    rng = random.Random(14)
    h_step = sp.Rational(1, 10**6)  # the values are multiples of 1/97: gaps >= 1/97
    for _ in range(points):
        point = _distinct_point(rng)
        for e, expr in raw.items():
            x = X[e]
            up = cost.xreplace({**point, x: point[x] + h_step})
            down = cost.xreplace({**point, x: point[x] - h_step})
            fd = (up - down) / (2 * h_step)
            value = expr.xreplace(point)
            if value != fd:
                return Check(False, f"exact: dX{list(e)}: the central difference disagrees",
                             counterexample={"derived": str(value), "central difference": str(fd)},
                             strength=Strength.EXACT)
    return Check(True, f"exact: every one of the {len(raw)} entries equals an exact central difference of C at "
                       f"{points} points with distinct inputs (C is linear between ties)", strength=Strength.EXACT)


def _first_max(h: int, w: int) -> sp.Expr:
    """dX[h,w] under the tie convention: G of its window if X[h,w] beats every earlier entry strictly and every
    later entry or ties it (Heaviside(., 0) is strict, Heaviside(., 1) is not)."""
    window = _window(*_owner(h, w))
    t = window.index((h, w))
    x = X[h, w]
    factors = [sp.Heaviside(x - X[e], 0) for e in window[:t]] + [sp.Heaviside(x - X[e], 1) for e in window[t + 1:]]
    return G[_owner(h, w)] * sp.Mul(*factors)


def route_form(values: dict[tuple[int, int], sp.Expr], h: int, w: int) -> sp.Expr:
    """The textbook routing, by plain Python on concrete values: G of the window at its first argmax, 0 elsewhere."""
    window = _window(*_owner(h, w))
    best = window[0]
    for e in window[1:]:
        if values[e] > values[best]:  # strictly greater: an equal later value does not take the gradient
            best = e
    return G[_owner(h, w)] if best == (h, w) else sp.Integer(0)


#: inputs with ties, where the conventions decide: all equal, and pairs tied at the top of each window
_TIE_POINTS = (
    {e: sp.Integer(1) for e in _pool_inputs()},
    {(h, w): sp.Integer(3 - (h % 2) if w % 2 == 0 else 3 - ((h + 1) % 2)) for h, w in _pool_inputs()},
    {(h, w): sp.Integer(2 if (h + w) % 2 else 5) for h, w in _pool_inputs()},
)


def _route_check(tie_form: dict[tuple[int, int], sp.Expr]) -> Check:
    """The tie-convention form against the plain-Python routing at random distinct points and at tie points."""
    rng = random.Random(41)
    points = [_distinct_point(rng) for _ in range(4)]
    count = 0
    for point in points + [{X[e]: v for e, v in tie.items()} for tie in _TIE_POINTS]:
        values = {e: point[X[e]] for e in _pool_inputs()}
        for e, expr in tie_form.items():
            got = expr.xreplace(point)
            want = route_form(values, *e).xreplace(point)
            if sp.expand(got - want) != 0:
                return Check(False, f"exact: dX{list(e)} at {values}: the routing disagrees",
                             counterexample={"derived": str(got), "routed": str(want)}, strength=Strength.EXACT)
            count += 1
    return Check(True, f"exact: the {count} entries at 4 random points with distinct inputs and {len(_TIE_POINTS)} "
                       "points with ties (all equal, tied pairs) agree", strength=Strength.EXACT)


def _agree_away_from_ties(left: dict, right: dict, points: int = 6) -> Check:
    """Both forms at random points with distinct inputs (no ties), exact rational arithmetic, every entry.

    Piecewise expressions: agreement at points is evidence, not a proof (prove_equal's symbolic attempts on
    Heaviside of Max took ~20 s here and decided nothing more).
    """
    rng = random.Random(23)
    for _ in range(points):
        point = _distinct_point(rng)
        for e in _pool_inputs():
            lv, rv = left[e].xreplace(point), right[e].xreplace(point)
            if lv != rv:
                return Check(False, f"exact: dX{list(e)} differs at a point with distinct inputs",
                             counterexample={"lhs": str(lv), "rhs": str(rv)}, strength=Strength.EXACT)
    return Check(True, f"numeric: every one of the {len(left)} entries agrees exactly at {points} random points with "
                       "distinct inputs (away from ties)", "piecewise: evidence at points, not a proof",
                 strength=Strength.NUMERIC)


@cache
def derive_maxpool() -> Derivation:
    """The backward of 2 x 2, stride-2 max-pooling on a 4 x 6 input (see the module doc)."""
    rows, cols = POOL_SHAPE
    d = Derivation("max-pooling (2 x 2, stride 2): the backward derived from the definition", role=Role.OTHER,
                   subject="maxpool2d",
                   summary=f"one {rows} x {cols} channel, {rows // 2} x {cols // 2} windows; sympy.diff of Max, every "
                           "entry checked; the tie convention of torch (first maximum in row-major order)")
    i, j = sp.symbols("i j", integer=True, nonnegative=True)
    d.define("pool.P", P[i, j], sp.Max(X[2 * i, 2 * j], X[2 * i, 2 * j + 1], X[2 * i + 1, 2 * j],
                                       X[2 * i + 1, 2 * j + 1]),
             "the maximum of each 2 x 2 window, windows stride 2 (they tile the input)")
    d.define("pool.cost", _C, sp.Sum(G[i, j] * P[i, j], (i, 0, rows // 2 - 1), (j, 0, cols // 2 - 1)),
             "a cost with gradient G = dC/dP")
    cost = _pool_cost()
    raw = {e: sp.diff(cost, X[e]) for e in _pool_inputs()}
    show = (1, 1)
    d.add(Step("pool.dX.diff", _d(_C, X[show]), raw[show], StepKind.DERIVED,
               f"sympy.diff of C with P written out as Max of each window, by every X[h,w] (shown: X{list(show)}); "
               "SymPy's Heaviside has H(0) = 1/2", _difference_check(raw), ("pool.P", "pool.cost")))
    strict = {e: r.replace(lambda t: isinstance(t, sp.Heaviside), lambda t: sp.Heaviside(t.args[0], 0))
              for e, r in raw.items()}
    d.convention("pool.dX.h0", _d(_C, X[show]), strict[show], _agree_away_from_ties(strict, raw),
                 "Heaviside(x) rewritten to Heaviside(x, 0), as ReLU'(0) = 0",
                 note="equal to the raw derivative where the window's maximum is unique; at a tie it gives no "
                      "entry the gradient (H(0) = 0 for each), so a tie convention is needed")
    tie = {e: _first_max(*e) for e in _pool_inputs()}
    d.convention("pool.dX.ties", _d(_C, X[show]), tie[show], _agree_away_from_ties(tie, strict),
                 "tie convention (torch): the first maximum of a window in row-major order gets G, the others 0: "
                 "strictly above the earlier entries (H(., 0)), at least the later ones (H(., 1))",
                 note="agrees with the derivative wherever the maximum is unique; at a tie any convex combination of "
                      "the tied entries is a subgradient, and torch picks the first")
    h, w = sp.symbols("h w", integer=True, nonnegative=True)
    owner = (sp.floor(h / 2), sp.floor(w / 2))
    argmax = sp.Function("argmax_first")(P[owner])  # where in its window P was taken, read off the values
    routed = sp.Piecewise((G[owner], sp.Eq(sp.Tuple(h, w), argmax)), (0, True))
    d.add(Step("pool.dX.route", _d(_C, X[h, w]), routed, StepKind.CLAIM,
               "the gradient routes to the (first) argmax of each window, 0 elsewhere; the argmax found by plain "
               "Python on the values", _route_check(tie), ("pool.dX.ties",)))
    return d

