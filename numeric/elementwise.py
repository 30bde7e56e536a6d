"""The element-wise judgement of one block: per-element pass/fail from the error estimate, and kinks.

An element passes when ``|g - r|`` is within ``safety`` times the error estimate of the numerical side (plus a
rounding floor), never a fixed atol. An element that fails but whose analytic value lies between the left and right
one-sided derivatives is a **kink** (a valid subgradient, as ReLU'(0) = 0 is), not a bug; where several kinks meet
on one coordinate line, the slopes of the pieces around the point decide (:func:`region_slopes`). The complex step,
when the loss is analytic and agrees with central differences, is the reference for the reported error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from numeric.check_result import Row, Verdict
from numeric.diagnose import diagnose_block
from numeric.finite_diff import Differences, between_one_sided, differences, perturbed_losses

__all__ = ["MAX_REGION_CHECKS", "Elementwise", "judge_elements", "region_slopes", "regions", "row_from_elements",
           "sample_indices", "stratified_sample"]

Array = np.ndarray
MAX_REGION_CHECKS = 256  # bad elements per block that get the several-kinks check (a real bug is caught anyway)
KINK_DIAGNOSIS = ("{n} element(s) at a kink: the analytic value lies between the left and right derivatives, "
                  "or the derivatives just beside the point where several kinks meet (a valid choice of "
                  "derivative at the kink, e.g. ReLU'(0) = 0)")


@dataclass
class Elementwise:
    """Per checked element: bad (a bug), kink (a valid subgradient), the tolerance, the reference and its method."""

    bad: Array
    kink: Array
    tol: Array
    ref: Array
    method: str
    zero_ref: bool = False  # the numerical gradient is zero to within its error: no ratio to it means anything


def _region_shifts(params: Mapping[str, Array], name: str, rng: np.random.Generator,
                   n_regions: int) -> list[tuple[dict[str, Array], float]]:
    """The moves of :func:`region_slopes`, each with the step of its partial derivatives."""
    scale = {n: np.maximum(1.0, np.abs(v)) for n, v in params.items()}
    shifts: list[tuple[dict[str, Array], float]] = []
    biases = [n for n in params if n.lower().startswith("b")]
    for sign in (-1.0, 1.0):
        if biases and params[name].dtype == np.float64:
            shifts.append(({n: sign * 1e-8 * 30.0**i * scale[n] for i, n in enumerate(biases)}, 1e-10))
    for block in params:
        for sign in (-1.0, 1.0):
            shifts.append(({block: sign * 1e-5 * scale[block]}, 1e-8))
    for _ in range(n_regions):
        shifts.append(({n: 1e-5 * scale[n] * rng.standard_normal(v.shape) for n, v in params.items()}, 1e-8))
    return shifts


def region_slopes(loss: Callable, params: Mapping[str, Array], name: str, flat: Array,
                  rng: np.random.Generator, n_regions: int) -> Array:
    """Partial derivatives of the elements ``flat`` at points next to ``params``, in the pieces around it.

    Where several kinks meet on one coordinate line (z = 0 for two samples at once, or every z = 0 after a zero
    initialisation), the line only sees two of the pieces around the point, and a chain rule with sigma'(kink) set
    to one side's value may give a third. Each point here lies in one piece:

    * every bias-like block (name starting with ``b``) moved down together, and up together, by steps that grow 30x
      from one block to the next, so each layer's own move dominates what it inherits: down puts every kinked unit
      on the inactive side, as ReLU'(0) = 0 assumes; up on the active side;
    * every block moved by -+delta on its own, and ``n_regions`` random moves of all parameters.

    Each partial derivative uses a step far below the move, so the line stays in one piece.
    """
    shifts = _region_shifts(params, name, rng, n_regions)
    out = np.empty((len(shifts), flat.size))
    for i, (shift, step) in enumerate(shifts):
        shifted = dict(params)
        for n, u in shift.items():
            shifted[n] = (params[n] + u).astype(params[n].dtype)
        if shifted[name].dtype == np.float64:
            theta = shifted[name].reshape(-1)[flat]
            steps = (theta + step * np.maximum(1.0, np.abs(theta))) - theta
            f = np.real(perturbed_losses(loss, shifted, name, np.tile(flat, 2), np.concatenate([steps, -steps])))
            out[i] = (f[:flat.size] - f[flat.size:]) / (2 * steps)
        else:
            out[i] = differences(loss, shifted, name, flat).richardson
    return out


def regions(loss: Callable, params: Mapping[str, Array], name: str, flat: Array, rng: np.random.Generator,
            n_regions: int) -> Callable[[Array], Array] | None:
    """The several-kinks check for the elements ``flat`` of block ``name`` (None when ``n_regions`` is 0)."""
    if n_regions <= 0:
        return None
    return lambda stuck: region_slopes(loss, params, name, flat[stuck], rng, n_regions)


def sample_indices(size: int, cap: int | None, rng: np.random.Generator) -> Array:
    """Every flat index of a block of ``size`` elements, or a sorted random sample of ``cap`` of them."""
    if cap is None or size <= cap:
        return np.arange(size)
    return np.sort(rng.choice(size, cap, replace=False))


def stratified_sample(size: int, n: int, rng: np.random.Generator) -> Array:
    """One random flat index from each of ``n`` equal strata of a block (every row of a large W gets its share)."""
    if size <= n:
        return np.arange(size)
    edges = np.linspace(0, size, n + 1).astype(np.intp)
    return edges[:-1] + (rng.random(n) * (edges[1:] - edges[:-1])).astype(np.intp)


def _kinks_in_regions(g: Array, lo: Array, hi: Array, margin: Array, stuck: Array,
                      regions: Callable[[Array], Array]) -> Array:
    """Which ``stuck`` elements lie between the slopes of the pieces around the point (several kinks meet)."""
    slopes = regions(stuck)
    lo_r = np.minimum(lo[stuck], np.min(slopes, axis=0))
    hi_r = np.maximum(hi[stuck], np.max(slopes, axis=0))
    drift = 1e-3 * np.maximum(np.abs(lo_r), np.abs(hi_r))
    return (g[stuck] >= lo_r - margin[stuck] - drift) & (g[stuck] <= hi_r + margin[stuck] + drift)


def judge_elements(g: Array, d: Differences, cs: Array | None, safety: float, eps_g: float,
                   regions: Callable[[Array], Array] | None = None) -> Elementwise:
    """Bad and kink masks of the analytic values ``g`` against the differences ``d`` (and complex step ``cs``)."""
    r = d.richardson
    scale = max(float(np.max(np.abs(r))) if r.size else 0.0, float(np.max(np.abs(g))) if g.size else 0.0)
    floor = 1e3 * eps_g * scale + 1e-300
    tol = safety * d.error + floor
    bad = ~(np.abs(g - r) <= tol)  # NaN counts as bad
    plus, minus = d.plus_slope, d.minus_slope
    margin = safety * d.one_sided_error + floor
    lo, hi = np.minimum(plus, minus), np.maximum(plus, minus)
    is_kink = np.abs(plus - minus) > margin
    kink = bad & between_one_sided(g, d, margin=margin, gap=margin) & np.isfinite(g)
    # Elements whose line crosses a kink, and, in a block with such kinks, (a few) others: kinks of a later layer
    # can hide from the line (equal left and right slopes) while the chain rule picks a neighbouring piece's value.
    few = np.any(is_kink) and np.count_nonzero(bad) <= MAX_REGION_CHECKS
    stuck = np.flatnonzero(bad & ~kink & np.isfinite(g) & (is_kink | few))[:MAX_REGION_CHECKS]
    if regions is not None and stuck.size:
        kink[stuck[_kinks_in_regions(g, lo, hi, margin, stuck, regions)]] = True
    bad = bad & ~kink
    ref, method = r, "richardson"
    if cs is not None:
        smooth = ~is_kink & ~bad & np.isfinite(cs)
        if np.all(np.abs(cs - r)[smooth] <= tol[smooth]):
            ref, method = np.where(is_kink, r, cs), "complex-step"
        else:
            method = "richardson (complex step rejected: not analytic)"
    zero_ref = bool(r.size) and bool(np.all(np.abs(r) <= safety * d.error + 1e-300))
    return Elementwise(bad, kink, tol, ref, method, zero_ref)


def _wrong_diagnosis(name: str, theta: Array, g_flat: Array, flat: Array, e: Elementwise, abs_err: Array,
                     batch_sizes: Sequence[int], complete: bool) -> tuple[int, str]:
    """The diagnosis of a block with bad elements, and the position (in ``flat``) of its worst bad element."""
    shape = theta.shape
    common = {"batch_sizes": batch_sizes, "zero_ref": e.zero_ref, "name": name}
    if complete:
        diag = diagnose_block(g_flat.reshape(shape), e.ref.reshape(shape), e.bad.reshape(shape),
                              e.tol.reshape(shape), complete=True, theta=theta, **common)
    else:
        diag = diagnose_block(g_flat, e.ref, e.bad, e.tol, complete=False, theta=theta.reshape(-1)[flat], **common)
    bad_idx = np.flatnonzero(e.bad)
    worst = int(bad_idx[int(np.argmax(abs_err[bad_idx]))] if np.any(np.isfinite(abs_err[bad_idx])) else bad_idx[0])
    worst_index = tuple(int(i) for i in np.unravel_index(int(flat[worst]), shape))
    diag += f"; worst at {worst_index}: analytic {g_flat[worst]:.6g}, numerical {e.ref[worst]:.6g}"
    return worst, diag


def row_from_elements(name: str, theta: Array, g_flat: Array, flat: Array, e: Elementwise,
                      batch_sizes: Sequence[int], complete: bool) -> Row:
    """The row of a block from its element-wise judgement (``complete``: every element was checked)."""
    shape = theta.shape
    if flat.size == 0:
        return Row(name, shape, 0.0, 0.0, None, 0, Verdict.OK, "empty parameter", 0, 0, e.method)
    abs_err = np.abs(g_flat - e.ref)
    ref_max = float(np.max(np.abs(e.ref)))
    worst = int(np.argmax(np.where(np.isfinite(abs_err), abs_err, np.inf)))
    max_abs = float(np.max(np.where(np.isfinite(abs_err), abs_err, np.inf)))
    rel = 0.0 if ref_max == 0.0 and max_abs == 0.0 else max_abs / max(ref_max, np.finfo(np.float64).tiny)
    if e.zero_ref:
        rel = float("nan")  # relative to a zero gradient: say so in words instead
    n_bad = int(np.count_nonzero(e.bad))
    n_kink = int(np.count_nonzero(e.kink))
    if n_bad:
        verdict = Verdict.WRONG
        worst, diag = _wrong_diagnosis(name, theta, g_flat, flat, e, abs_err, batch_sizes, complete)
    elif n_kink:
        verdict, diag = Verdict.KINK, KINK_DIAGNOSIS.format(n=n_kink)
    elif e.zero_ref:
        verdict, diag = Verdict.OK, (f"the true gradient is zero to within the finite-difference error (the loss "
                                     f"does not depend on {name} here, as for a bias before batch normalisation); "
                                     f"so is the analytic one "
                                     f"(max |analytic| = {float(np.max(np.abs(g_flat))):.2g})")
    else:
        verdict, diag = Verdict.OK, ""
    worst_index = tuple(int(i) for i in np.unravel_index(int(flat[worst]), shape))
    return Row(name, shape, rel, max_abs, worst_index, n_bad, verdict, diag, int(flat.size), n_kink, e.method,
               float(g_flat[worst]), float(e.ref[worst]))
