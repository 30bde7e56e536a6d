"""The one error metric for verdicts: the block-relative error of a gradient block against a reference.

``max_i |g_i - r_i| / max(max_i |r_i|, tiny)`` (docs/conventions.md § Error metric). Element-wise relative error
explodes on tiny elements and is never used for a verdict. Every checker in bpv (``bpv verify``, ``bpv kernels``,
``bpv gradcheck``, ``bpv graph``) calls this function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["TINY", "block_relative_error"]

#: the floor of the scale, so that an all-zero reference does not divide by zero
TINY = float(np.finfo(np.float64).tiny)


def block_relative_error(g: Any, r: Any) -> float:
    """max_i |g_i - r_i| / max(max_i |r_i|, tiny); ``inf`` on a shape mismatch or a non-finite difference.

    Takes arrays or sequences of numbers (real or complex); an empty block has error 0.
    """
    g, r = np.asarray(g), np.asarray(r)
    if g.shape != r.shape:
        return float("inf")
    if g.size == 0:
        return 0.0
    diff = np.abs(g - r)
    if not np.all(np.isfinite(diff)):
        return float("inf")
    return float(diff.max() / max(float(np.abs(r).max()), TINY))
