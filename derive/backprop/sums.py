"""Sums in index form: the one rewrite both the all-widths proof and the batch forms need.

Kept apart because two derivations use it (:mod:`derive.backprop.general_rule` to compare index-form results for
every width, :mod:`derive.backprop.batch_index` to read an index form as a matrix).
"""

from __future__ import annotations

import sympy as sp

__all__ = ["pull_constants"]


def pull_constants(expr: sp.Expr) -> sp.Expr:
    """Move the factors of each single-index ``Sum`` that do not depend on its index in front of it (exact)."""

    def pull(t: sp.Sum) -> sp.Expr:
        ((v, *_),) = t.limits
        outside, inside = t.function.as_independent(v, as_Add=False)
        return outside * sp.Sum(inside, *t.limits)

    return expr.replace(lambda t: isinstance(t, sp.Sum) and len(t.limits) == 1, pull)
