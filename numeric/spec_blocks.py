"""The options of the blocks past the dense layer (``--norm``, ``--keep-prob``, ``--l2``, ``--l2-n``), validated.

:meth:`numeric.spec.ModelSpec.build` calls :func:`block_options`; every bad value is a :class:`SpecError` that says
what is allowed.
"""

from __future__ import annotations

from numeric.errors import SpecError
from numeric.normalisation import NORMS
from numeric.penalty import L2

__all__ = ["block_options", "finite_option"]


def block_options(norm: str | None, keep_prob: float | None, l2: float | None, l2_n: int | None, L: int
            ) -> tuple[type | None, float | None, L2 | None]:
    """Validate the blocks past the dense layer: (normalisation class, keep probability, L2 term)."""
    norm_cls = None
    if norm is not None:
        if norm not in NORMS:
            raise SpecError(f"unknown --norm {norm!r}; use one of: {', '.join(NORMS)}")
        norm_cls = NORMS[norm]
    keep = None
    if keep_prob is not None:
        keep = finite_option(keep_prob, "--keep-prob")
        if not 0.0 < keep <= 1.0:
            raise SpecError(f"--keep-prob {keep_prob!r} must lie in (0, 1]: it is the probability of keeping a unit "
                            "(torch's p is 1 - keep-prob)")
    if (norm is not None or keep is not None) and L < 2:
        what = "--norm" if norm is not None else "--keep-prob"
        raise SpecError(f"{what} applies to the hidden layers, and a {L}-layer net has none; add one, e.g. 4-8-1")
    penalty = None
    if l2 is not None:
        lam = finite_option(l2, "--l2")
        if lam < 0:
            raise SpecError(f"--l2 {l2!r} must be >= 0 (lambda of the term (lambda/2n) sum w^2)")
        if l2_n is not None and (isinstance(l2_n, bool) or not isinstance(l2_n, int) or l2_n < 1):
            raise SpecError(f"--l2-n {l2_n!r} must be a positive integer (the training-set size n)")
        penalty = L2(lam, l2_n)
    elif l2_n is not None:
        raise SpecError("--l2-n without --l2: give lambda too, e.g. --l2 5.0 --l2-n 50000")
    return norm_cls, keep, penalty


def finite_option(value: float, flag: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{flag} {value!r} is not a number") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise SpecError(f"{flag} {value!r} must be finite")
    return v
