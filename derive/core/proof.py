"""Deciding whether two SymPy expressions are equal, and saying *how* it was decided.

``prove_equal(lhs, rhs)`` tries, in order:

1. **symbolic**: ``lhs - rhs`` reduces to 0 by ``expand``/``cancel``/``simplify`` (size-limited: ``simplify`` can
   run away on large trees);
2. **exact rational evaluation** where both sides are rational functions: substitute random rationals and
   compare exactly;
3. **high-precision evaluation** (30 digits by default) at random points for transcendental expressions.

A symbolic proof is always cross-checked at a few random points as well, because SymPy simplifications have been
wrong before (docs/conventions.md § Deriving: sympy #27359). A single disagreeing point is a counterexample and the
claim does not hold; agreement at every point without a symbolic proof is reported as *numerical evidence*, never as
a proof. Each :class:`Check` carries its :class:`Strength`.

Expressions with undefined functions (``sigma(z)``, ``C(a)``) cannot be evaluated numerically; for those only the
symbolic route applies, and an undecided result is reported as such (``holds is None``).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.core.sympify import _sympify

__all__ = ["Check", "Strength", "prove_equal", "sample_point"]

#: simplify() is only attempted below this operation count (it can take minutes on large expressions).
SIMPLIFY_MAX_OPS = 600


class Strength(str, enum.Enum):
    """How strong the decision of a :class:`Check` is: a proof (symbolic or exact) or numerical evidence."""

    SYMBOLIC = "symbolic"  # the difference reduces to 0 (cross-checked at random points)
    EXACT = "exact"  # exact rational arithmetic (at random rational points: Schwartz-Zippel)
    NUMERIC = "numeric"  # agreement (or a counterexample) in floating point: evidence, never a proof

    def __str__(self) -> str:
        return self.value

    @property
    def proof(self) -> bool:
        return self is not Strength.NUMERIC

    @classmethod
    def from_method(cls, method: str) -> Strength:
        """The strength a method text states by its first word (``"symbolic: ..."``, ``"exact: ..."``)."""
        for strength in (cls.SYMBOLIC, cls.EXACT):
            if method.startswith(strength.value):
                return strength
        return cls.NUMERIC


@dataclass
class Check:
    """How an equation was checked. ``holds`` is True, False, or None (undecided).

    ``strength`` says whether the decision is a proof; :func:`prove_equal` sets it where it decides. A Check built
    by hand without one (``Check(True, "symbolic: ...")``, as many derivations do) gets it once, here, from the
    first word of ``method``: the one place the method text is read.
    """

    holds: bool | None
    method: str
    detail: str = ""
    counterexample: dict[str, str] | None = field(default=None)
    strength: Strength | None = None

    def __post_init__(self) -> None:
        if self.strength is None:
            self.strength = Strength.from_method(self.method)

    @property
    def proven(self) -> bool:
        """True only for a symbolic or exact proof (not numerical evidence)."""
        return bool(self.holds) and self.strength is not None and self.strength.proof

    def to_dict(self) -> dict:
        return {
            "holds": self.holds,
            "method": self.method,
            "detail": self.detail,
            "counterexample": self.counterexample,
        }

    def short(self) -> str:
        if self.holds is None:
            return f"undecided ({self.method})"
        return ("holds" if self.holds else "does not hold") + f" [{self.method}]"


def _variables(expr: sp.Basic) -> list[sp.Basic]:
    """Free scalar unknowns: Symbols and Indexed elements (the index labels inside an Indexed are not unknowns)."""
    indexed = sorted(expr.atoms(sp.Indexed), key=sp.default_sort_key)
    labels = set().union(*({item.base.label, *item.indices} for item in indexed)) if indexed else set()
    plain = [s for s in expr.free_symbols if isinstance(s, sp.Symbol) and s not in labels]
    return [*indexed, *sorted(plain, key=sp.default_sort_key)]


def _has_undefined(expr: sp.Basic) -> bool:
    return bool(expr.atoms(AppliedUndef))


def sample_point(
    variables: list[sp.Basic],
    rng: random.Random,
    domain: Mapping[sp.Basic, tuple[float, float]] | None = None,
    default: tuple[float, float] = (-2.0, 2.0),
) -> dict[sp.Basic, sp.Rational]:
    """Random rational values (denominator 997) for the variables, each in its domain interval."""
    domain = domain or {}
    point = {}
    for v in variables:
        lo, hi = domain.get(v, default)
        # Rationals keep rational identities exact; 997 is prime so values rarely land on special points.
        point[v] = sp.Rational(round((lo + (hi - lo) * rng.random()) * 997), 997)
        if point[v] == 0:
            point[v] = sp.Rational(1, 997)
    return point


def _symbolic_zero(diff: sp.Expr) -> str | None:
    """Return the name of the symbolic method that reduces ``diff`` to 0, or None."""
    if diff == 0:
        return "identical"
    d = diff.doit() if diff.has(sp.Sum, sp.Derivative, sp.Subs) else diff
    if d == 0:
        return "doit"
    for name, fn in (("expand", sp.expand), ("cancel", lambda e: sp.cancel(sp.together(e))),
                     # tanh, sinh, ... as exponentials, then a rational function of exp(..): proved tanh' = 1 - tanh^2
                     # in 13 ms where simplify gave up after 1 s
                     ("rewriting in exp and cancelling", _exp_cancel)):
        try:
            if fn(d) == 0:
                return name
        except (sp.PolynomialError, TypeError, ValueError, NotImplementedError):
            pass
    if sp.count_ops(d) <= SIMPLIFY_MAX_OPS:
        try:
            if sp.simplify(d) == 0:
                return "simplify"
        except (TypeError, ValueError, NotImplementedError, RecursionError):
            return None
    return None


def _exp_cancel(expr: sp.Expr) -> sp.Expr:
    rewritten = expr.rewrite(sp.exp)
    return expr if rewritten == expr else sp.cancel(sp.together(sp.expand(rewritten)))


def _evaluate(expr: sp.Expr, point: Mapping, digits: int) -> sp.Expr:
    value = expr.xreplace(dict(point))
    if value.has(sp.Sum, sp.Derivative, sp.Subs):
        value = value.doit()
    if value.is_Rational:
        return value
    return sp.N(value, digits)


def _values_agree(lv: sp.Expr, rv: sp.Expr, digits: int) -> bool:
    if lv.is_Rational and rv.is_Rational:
        return lv == rv
    try:
        lc, rc = complex(lv), complex(rv)
    except TypeError:
        return False
    scale = max(1.0, abs(lc), abs(rc))
    return abs(lc - rc) <= scale * 10.0 ** (-(digits - 8))


def prove_equal(
    lhs: sp.Expr,
    rhs: sp.Expr,
    *,
    domain: Mapping[sp.Basic, tuple[float, float]] | None = None,
    points: int = 6,
    seed: int = 0,
    digits: int = 30,
    substitutions: Mapping[sp.Basic, sp.Expr] | None = None,
) -> Check:
    """Decide ``lhs == rhs``.

    ``domain`` maps a variable to the interval its random values come from (default [-2, 2]); ``substitutions``
    are applied to both sides before numerical evaluation (e.g. ``a -> sigmoid(z)`` so that a claim written in
    terms of the output can be evaluated).

    >>> z = sp.Symbol("z")
    >>> s = 1 / (1 + sp.exp(-z))
    >>> prove_equal(sp.diff(s, z), s * (1 - s)).holds
    True
    >>> prove_equal(sp.diff(s, z), s * (1 + s)).holds
    False
    """
    # strict: SymPy objects and numbers only; a string raises instead of being parsed
    lhs, rhs = _sympify(lhs), _sympify(rhs)
    subs = dict(substitutions or {})
    left = lhs.xreplace(subs) if subs else lhs
    right = rhs.xreplace(subs) if subs else rhs
    symbolic = _symbolic_zero(sp.expand(left - right) if not left.has(sp.Piecewise) else left - right)
    if symbolic == "identical":
        return Check(True, "symbolic: both sides identical", strength=Strength.SYMBOLIC)

    if _has_undefined(left) or _has_undefined(right):
        if symbolic:
            return Check(True, f"symbolic: difference reduces to 0 by {symbolic}", strength=Strength.SYMBOLIC)
        return Check(None, "symbolic only (undefined functions)", "SymPy could not reduce the difference to 0",
                     strength=Strength.SYMBOLIC)

    variables = _variables(left - right)
    n_points = 3 if symbolic else points
    exact, refuted = _at_random_points(left, right, variables, n_points, random.Random(seed), domain, digits,
                                       symbolic is not None)
    if refuted is not None:
        return refuted
    if symbolic:
        return Check(True, f"symbolic: difference reduces to 0 by {symbolic}",
                     f"cross-checked at {n_points} random points", strength=Strength.SYMBOLIC)
    if not variables:
        if exact:
            return Check(True, "exact arithmetic", strength=Strength.EXACT)
        return Check(True, f"evaluation ({digits} digits)", strength=Strength.NUMERIC)
    if exact and _rational(left, variables) and _rational(right, variables):
        # Both sides are rational functions: agreement at random rational points is a probabilistic proof
        # (Schwartz-Zippel), which is why this counts as exact.
        return Check(True, f"exact: agrees at {n_points} random rational points", strength=Strength.EXACT)
    return Check(True, f"numeric: agrees at {n_points} random points to {digits} digits",
                 "no symbolic proof was found; this is numerical evidence", strength=Strength.NUMERIC)


def _at_random_points(left: sp.Expr, right: sp.Expr, variables: list[sp.Basic], n_points: int, rng: random.Random,
                      domain: Mapping[sp.Basic, tuple[float, float]] | None, digits: int,
                      symbolic: bool) -> tuple[bool, Check | None]:
    """Compare both sides at ``n_points`` random points: (every value exact, the refuting Check or None)."""
    exact = True
    for _ in range(n_points):
        point = sample_point(variables, rng, domain)
        lv, rv = _evaluate(left, point, digits), _evaluate(right, point, digits)
        exact = exact and lv.is_Rational and rv.is_Rational
        if not _values_agree(lv, rv, digits):
            where = {str(k): str(v) for k, v in point.items()}
            shown = {k: f"{float(sp.Rational(v)):.6g}" for k, v in where.items()}
            ce = {**shown, "lhs": _fmt(lv), "rhs": _fmt(rv)}
            if symbolic:
                # SymPy "proved" something that is false at a point: report it loudly, trust the numbers.
                return exact, Check(False, "numeric counterexample contradicts symbolic simplification",
                                    counterexample=ce, strength=Strength.NUMERIC)
            return exact, Check(False, f"counterexample at a random point ({digits} digits)", counterexample=ce,
                                strength=Strength.EXACT if exact else Strength.NUMERIC)
    return exact, None


def _rational(expr: sp.Expr, variables: list[sp.Basic]) -> bool:
    try:
        return bool(expr.is_rational_function(*variables))
    except (TypeError, ValueError, AttributeError):
        return False


def _fmt(value: sp.Expr) -> str:
    try:
        return f"{complex(value).real:.10g}" if complex(value).imag == 0 else str(complex(value))
    except TypeError:
        return str(value)
