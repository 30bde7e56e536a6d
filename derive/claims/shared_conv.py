r"""Judging a claim about a 2-D convolution or a 2 x 2 max-pool in index notation, against what SymPy derived.

**Convolution.** The claim ``\frac{\partial C}{\partial K_{o,c,u,v}} = \sum_{n,i,j} \delta_{n,o,i,j}
X_{n,c,i s+u-p, j s+v-p}`` (or ``db_o = ...``, ``dX_{n,c,h,w} = ...``) becomes a *form* (size, entry) -> SymPy
expression in the Indexed entries X, K, b, G of :mod:`derive.layers.conv`, handed to
:func:`~derive.layers.conv.check_dk_form`, :func:`~derive.layers.conv.check_db_form` or
:func:`~derive.layers.conv.check_dx_form`: they compare it, entry by entry, with ``sympy.diff`` of the cost written
out at the derivation's sizes (:data:`~derive.layers.conv.CONV_SIZES`), exhaustively (the difference of two
polynomials expands to 0, or the first entry that differs is the counterexample). Conventions of the reading: indices
are 0-based; an array entry outside the array (an index below 0 or past the end, or not an integer, as in
``(h+p-u)/s``) is 0: the zero padding of X, the full convolution's zero border of G, the dilated G of a strided
layer; a sum ``\sum_{o,u,v}`` without bounds runs over every index where its terms are defined.

*Scope.* A claim written with the stride ``s`` or the padding ``p`` is a claim for every stride and padding: it is
checked at all four sizes (stride 1 and 2, padding 0 and 1), ``s``, ``p``, ``k`` bound at each. One without them is
a claim about the model's layer: checked at the sizes with the model's stride and padding; at the other sizes the
check is handed the derivation's own proven form (so only the claim's sizes decide, and the reason says which).

**Max-pool** (2 x 2 windows, stride 2, one channel ``X_{h,w}``, as :func:`derive.layers.pool.derive_maxpool`): the
claim is evaluated exactly at random points with distinct inputs against ``sympy.diff`` of the cost with each window
written as ``Max``, and at points with ties against torch's convention (the first maximum gets G), whose routing
form derive_maxpool checks. ``\mathbb{1}[X_{h,w} = P_{i,j}]`` gives every tied maximum G: true away from ties only
(ambiguous); ``[(h,w) = \operatorname{argmax} P_{i,j}]`` is the first maximum.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction
from functools import cache

import sympy as sp

from derive.claims.semantics import NotCheckable
from derive.claims.shared_reader import Ind, Num, Op, Pos, Ref, Sum, letter
from derive.layers import conv
from derive.layers.conv import CONV_SIZES, ConvSize
from derive.layers.pool import POOL_SHAPE, derive_maxpool, route_form

__all__ = ["CONSTANTS", "MAX_TERMS", "Evaluator", "claim_letters", "conv_scope", "conv_sizes", "integer",
           "pool_entries", "pool_sizes", "pool_truth", "refs"]

#: the most terms a sum may enumerate before pruning (the flipped-kernel dX has 3 x 25 x 25)
MAX_TERMS = 200_000

#: the letters that are sizes unless the claim uses them as indices: stride, padding, kernel size
CONSTANTS = ("s", "p", "k")


def refs(node: object) -> list[Ref]:
    """Every array reference of a claim's tree."""
    if isinstance(node, Ref):
        return [node]
    if isinstance(node, Op):
        return [r for a in node.args for r in refs(a)]
    if isinstance(node, Sum):
        return refs(node.body)
    if isinstance(node, Ind):
        return refs(node.left) + refs(node.right)
    return []


def claim_letters(node: object) -> tuple[set[str], set[str]]:
    """(letters used in indices and bounds, letters bound by sums)."""
    used: set[str] = set()
    bound: set[str] = set()

    def walk(n: object) -> None:
        if isinstance(n, Ref):
            used.update(str(s) for e in n.idx for s in e.free_symbols)
        elif isinstance(n, Op):
            for a in n.args:
                walk(a)
        elif isinstance(n, Sum):
            bound.update(n.letters)
            for e in (n.lo, n.hi):
                if e is not None:
                    used.update(str(s) for s in e.free_symbols)
            walk(n.body)
        elif isinstance(n, Ind):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Pos):
            used.update(str(s) for e in n.idx for s in e.free_symbols)

    walk(node)
    return used, bound


def integer(expr: sp.Expr, env: dict[str, int]) -> Fraction:
    """An index expression's value (Fractions: a non-integer index is an entry outside the array)."""
    if expr.is_Integer:
        return Fraction(int(expr))
    if expr.is_Rational:
        return Fraction(int(expr.p), int(expr.q))
    if expr.is_Symbol:
        if expr.name not in env:
            raise NotCheckable(f"the index letter {expr.name} is neither summed over nor on the left side")
        return Fraction(env[expr.name])
    if expr.is_Add:
        return sum((integer(a, env) for a in expr.args), Fraction(0))
    if expr.is_Mul:
        out = Fraction(1)
        for a in expr.args:
            out *= integer(a, env)
        return out
    if isinstance(expr, sp.floor):
        v = integer(expr.args[0], env)
        return Fraction(v.numerator // v.denominator)
    if expr.is_Pow and expr.exp.is_Integer:
        return integer(expr.base, env) ** int(expr.exp)
    raise NotCheckable(f"the index {sp.latex(expr)}")


def conv_sizes(size: ConvSize) -> dict[str, tuple[int, ...]]:
    """The shapes of X, K, b, G at one size of the convolution derivation."""
    return {"X": (size.m, size.c_in, size.h, size.w), "K": (size.c_out, size.c_in, size.k, size.k),
            "b": (size.c_out,), "G": (size.m, size.c_out, size.out_h, size.out_w)}


def pool_sizes() -> dict[str, tuple[int, ...]]:
    """The shapes of X, G and the pooled P of the max-pool derivation (one channel, 2 x 2 windows, stride 2)."""
    rows, cols = POOL_SHAPE
    return {"X": (rows, cols), "G": (rows // 2, cols // 2), "P": (rows // 2, cols // 2)}


class Evaluator:
    """A claim's side at one size: Indexed entries (convolution) or values at a point (``values``: max-pool)."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], constants: dict[str, int], values: dict | None = None):
        self.shapes, self.constants, self.values = shapes, constants, values
        self.reach = 2 * max(max(s) for s in shapes.values()) + 2

    def position(self, ref: Ref, env: dict[str, int]) -> tuple[int, ...] | None:
        shape = self.shape(ref)
        at = [integer(e, env) for e in ref.idx]
        if any(v.denominator != 1 or not 0 <= v < n for v, n in zip(at, shape, strict=True)):
            return None
        return tuple(int(v) for v in at)

    def shape(self, ref: Ref) -> tuple[int, ...]:
        if ref.name not in self.shapes:
            raise NotCheckable(f"{ref.stem} is not an array of this claim's layer")
        shape = self.shapes[ref.name]
        if len(ref.idx) != len(shape):
            raise NotCheckable(f"{ref.stem} with {len(ref.idx)} indices; here it has {len(shape)} "
                               f"({'n,c,h,w / o,c,u,v / n,o,i,j' if len(shape) == 4 else 'one per axis'})")
        return shape

    def entry(self, ref: Ref, env: dict[str, int]) -> sp.Expr:
        at = self.position(ref, env)
        if at is None:
            return sp.Integer(0)
        if self.values is None:
            return {"X": conv.X, "K": conv.K, "b": conv.b, "G": conv.G}[ref.name][at]
        if ref.name == "P":
            return max(self.values["X"][e] for e in _window(at))
        return self.values[ref.name][at]

    def value(self, node: object, env: dict[str, int]) -> sp.Expr:
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Ref):
            return self.entry(node, env)
        if isinstance(node, Sum):
            return self.total(node, env)
        if isinstance(node, Ind):
            return sp.Integer(1 if self.indicator(node, env) else 0)
        if isinstance(node, Pos):
            raise NotCheckable("a position (h, w) outside an indicator")
        args = [self.value(a, env) for a in node.args]
        if node.op == "+":
            return sp.Add(*args)
        if node.op in ("mul", "had"):
            return args[0] * args[1]
        if node.op == "neg":
            return -args[0]
        if node.op == "sq":
            return args[0] ** 2
        if node.op == "div":
            if not args[1].is_number or args[1] == 0:
                raise NotCheckable("a division by something other than a nonzero number")
            return args[0] / args[1]
        raise NotCheckable("a transpose in an index-notation claim (each entry is a number)")

    def indicator(self, node: Ind, env: dict[str, int]) -> bool:
        if node.argmax:
            if not (isinstance(node.right, Ref) and node.right.name == "P" and isinstance(node.left, Pos)):
                raise NotCheckable("argmax: read as [(h, w) = \\operatorname{argmax} P_{i,j}], the first maximum of "
                                   "the window of P_{i,j}")
            at = self.position(node.right, env)
            here = tuple(integer(e, env) for e in node.left.idx)
            return at is not None and here == _first_argmax(self.values["X"], at)
        if isinstance(node.left, Pos):
            raise NotCheckable("a position (h, w) compared with something other than an argmax")
        return self.value(node.left, env) == self.value(node.right, env)

    def total(self, node: Sum, env: dict[str, int]) -> sp.Expr:
        letters = sorted(node.letters, key=lambda x: self.bare_range(node.body, x) is None)
        ranges = [self.letter_range(node, x, env) for x in letters]
        if math.prod(len(r) for r in ranges) > MAX_TERMS:
            raise NotCheckable(f"a sum over {', '.join(letters)} with more than {MAX_TERMS} terms to enumerate (give "
                               "each summed letter as a bare index of some array, or bounds)")
        factors = _factor_refs(node.body)
        checks = []
        for k in range(len(letters)):
            known = set(env) | set(letters[:k + 1])
            checks.append([(r, p) for r in factors for p, e in enumerate(r.idx)
                           if letters[k] in {s.name for s in e.free_symbols}
                           and {s.name for s in e.free_symbols} <= known])
        terms: list[sp.Expr] = []

        def run(level: int, bound: dict[str, int]) -> None:
            if level == len(letters):
                terms.append(self.value(node.body, bound))
                return
            for v in ranges[level]:
                here = {**bound, letters[level]: v}
                if all(self.inside(r, p, here) for r, p in checks[level]):
                    run(level + 1, here)

        run(0, dict(env))
        return sp.Add(*terms)

    def inside(self, ref: Ref, p: int, env: dict[str, int]) -> bool:
        v = integer(ref.idx[p], env)
        return v.denominator == 1 and 0 <= v < self.shape(ref)[p]

    def bare_range(self, body: object, name: str) -> range | None:
        for r in _factor_refs(body):
            for p, e in enumerate(r.idx):
                if e == letter(name):
                    return range(self.shape(r)[p])
        return None

    def letter_range(self, node: Sum, name: str, env: dict[str, int]) -> range:
        if node.lo is not None or node.hi is not None:
            ctx = {**self.constants, **env}
            lo = integer(node.lo, ctx) if node.lo is not None else Fraction(0)
            hi = integer(node.hi, ctx) if node.hi is not None else Fraction(self.reach)
            return range(int(lo), int(hi) + 1)
        return self.bare_range(node.body, name) or range(-self.reach, self.reach + 1)


def _factor_refs(node: object) -> list[Ref]:
    """The references that multiply the whole term (an entry outside its array makes the term 0)."""
    if isinstance(node, Ref):
        return [node]
    if isinstance(node, Op) and node.op in ("mul", "had"):
        return _factor_refs(node.args[0]) + _factor_refs(node.args[1])
    if isinstance(node, Op) and node.op in ("neg", "div"):
        return _factor_refs(node.args[0])
    return []


def _window(at: tuple[int, ...]) -> list[tuple[int, int]]:
    i, j = at
    return [(2 * i + r, 2 * j + c) for r in range(2) for c in range(2)]


def _first_argmax(x: dict, at: tuple[int, ...]) -> tuple[int, int]:
    best = _window(at)[0]
    for e in _window(at)[1:]:
        if x[e] > x[best]:
            best = e
    return best


# ----- max-pool: the truth at points ------------------------------------------------------------------------------
@cache
def pool_truth() -> tuple[list[dict], list[dict[tuple[int, int], sp.Expr]], int]:
    """Points (X and G values), the true dX at each, and how many of them (the first ones) have distinct inputs.

    Distinct inputs: sympy.diff of C = sum G[i,j] Max(window) evaluated there (exact). Ties: torch's convention, the
    routing form :func:`derive.layers.pool.route_form`, which derive_maxpool checks against its derived tie form.
    """
    rows, cols = POOL_SHAPE
    inputs = [(h, w) for h in range(rows) for w in range(cols)]
    outputs = [(i, j) for i in range(rows // 2) for j in range(cols // 2)]
    cost = sp.Add(*[conv.G[o] * sp.Max(*[conv.X[e] for e in _window(o)]) for o in outputs])
    raw = {e: sp.diff(cost, conv.X[e]) for e in inputs}
    route = next(s for s in derive_maxpool().steps if s.label == "pool.dX.route")
    if route.holds is not True:
        raise NotCheckable("the max-pool routing convention did not check in derive_maxpool")
    rng = random.Random(5)
    points, truths = [], []
    for _ in range(4):
        xs = dict(zip(inputs, [sp.Rational(v, 97) for v in rng.sample(range(-500, 500), len(inputs))], strict=True))
        gs = {o: sp.Rational(rng.randint(-300, 300) or 1, 89) for o in outputs}
        sub = {**{conv.X[e]: v for e, v in xs.items()}, **{conv.G[o]: v for o, v in gs.items()}}
        points.append({"X": xs, "G": gs})
        truths.append({e: raw[e].xreplace(sub) for e in inputs})
    ties = ({e: sp.Integer(1) for e in inputs}, {(h, w): sp.Integer(2 + (w % 2)) for h, w in inputs},
            {(h, w): sp.Integer(5 if (h + w) % 2 else 2) for h, w in inputs})
    for xs in ties:
        gs = {o: sp.Rational(rng.randint(1, 300), 89) for o in outputs}
        points.append({"X": xs, "G": gs})
        truths.append({e: route_form(xs, *e).xreplace({conv.G[o]: v for o, v in gs.items()}) for e in inputs})
    return points, truths, 4


def pool_entries() -> list[tuple[int, int]]:
    """Every input position of the max-pool derivation."""
    rows, cols = POOL_SHAPE
    return [(h, w) for h in range(rows) for w in range(cols)]


def conv_scope(general: bool, pairs: set[tuple[int, int]]) -> list[ConvSize]:
    """The sizes a claim is checked at (see the module doc)."""
    return list(CONV_SIZES) if general else [s for s in CONV_SIZES if (s.stride, s.padding) in pairs]
