"""Named bugs as tested hypotheses: the numbers on which an explanation of a wrong gradient is accepted.

A diagnosis that names a bug ("dx with the kernel not flipped", "BPTT without dh_next") is a claim about the user's
code, so it is made only after an experiment on that code: the user's own forward or loss is evaluated at a chosen
point (a flipped kernel, stride 1, W_hh = 0), finite differences give the true gradient there and the gradient the
named bug would produce, and the claim stands only when the user's analytic gradient equals the second and not the
first. The modules that design the experiments (:mod:`numeric.shared_diagnose` for convolution and max-pooling,
:mod:`numeric.rnn_diagnose` for recurrent layers) share what is here: the true gradient with its error estimate,
the agreement test, and :class:`Finding`, the sentence with the rows it explains.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from numeric.check_result import GradcheckResult, Verdict
from numeric.finite_diff import differences

__all__ = ["AGREE_RTOL", "Finding", "agrees", "apply_findings", "as_float", "true_gradient"]

Array = np.ndarray

#: the relative part of the agreement test: far below any bug's effect (O(1) relative), far above rounding
AGREE_RTOL = 1e-6


@dataclass(frozen=True)
class Finding:
    """A hypothesis that held: the rows (parameter or input names) it explains, and what was tested."""

    rows: tuple[str, ...]
    text: str


def as_float(value: Any) -> Array | None:
    """A user's gradient as a float64 array, or None when it is not numbers."""
    try:
        arr = np.asarray(value)
    except Exception:  # whatever the user's code returned
        return None
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        return None
    return arr.astype(np.float64)


def true_gradient(loss: Callable[[Mapping[str, Any]], Any], params: Mapping[str, Array], name: str,
                  flat: Array | None = None) -> tuple[Array, Array]:
    """Richardson-extrapolated central differences of ``loss`` in ``params[name]`` (at ``flat``) and their error.

    The shape is the block's (flattened when ``flat`` is given).
    """
    d = differences(loss, params, name, flat)
    shape = np.shape(params[name]) if flat is None else (-1,)
    return d.richardson.reshape(shape), d.error.reshape(shape)


def agrees(analytic: Array, reference: Array, error: Array, rtol: float = AGREE_RTOL) -> bool:
    """Whether ``analytic`` equals ``reference`` to within 10x its error estimate plus ``rtol`` of its largest entry."""
    a = np.asarray(analytic, dtype=np.float64).ravel()
    r = np.asarray(reference, dtype=np.float64).ravel()
    if a.shape != r.shape:
        return False
    e = np.broadcast_to(np.asarray(error, dtype=np.float64), np.shape(reference)).ravel()
    scale = float(np.max(np.abs(r))) if r.size else 0.0
    return bool(np.all(np.abs(a - r) <= 10.0 * e + rtol * scale + 1e-300))


def apply_findings(result: GradcheckResult, findings: Iterable[Finding]) -> GradcheckResult:
    """Each wrong row a finding explains gets the finding's sentence as its diagnosis (the first finding wins).

    Rows that are ``ok`` or ``kink`` are never touched: a named bug is only ever an explanation of a failure.
    """
    named: set[str] = set()
    for finding in findings:
        for row in result.rows:
            if row.name in finding.rows and row.name not in named and row.verdict is Verdict.WRONG:
                row.diagnosis = finding.text
                named.add(row.name)
    return result
