"""The numerical witnesses (:mod:`numeric.finite_diff`): central differences with Richardson extrapolation and the
complex step, element by element on a plan (:mod:`derive.verification.sampling`) and along signed random probes.

This module also holds the one test of "the analytic value is a subgradient at a kink"
(:func:`numeric.finite_diff.between_one_sided`, docs/conventions.md § Finite differences).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from derive.verification import sampling
from derive.verification.rows import BOUNDS, Row, all_elements, compared, largest_block, proven_zero
from derive.verification.witnesses import Witness, diagnosis
from numeric.metrics import TINY, block_relative_error
from numeric.spec import ModelSpec

__all__ = ["METHOD_NAME", "central_bound", "numeric_rows", "numerical_directional",
           "numerical_elements"]

#: the reference column of a numerical row, by method
METHOD_NAME = {"central": "central differences (Richardson)", "complex": "complex step"}

NOT_ANALYTIC = "the loss is not analytic: it rejects complex input or drops the imaginary part"

Params = Mapping[str, np.ndarray]


def central_bound(numerical: np.ndarray, rounding_floor: float) -> tuple[float, str]:
    """The bound for central differences: 1e-7, raised to the differences' own rounding floor when that is larger.

    Central differences cannot resolve a derivative below about 3 eps |C| / h (the rounding term of
    :attr:`numeric.finite_diff.Differences.error`): on a block whose gradient is tiny next to the loss (deep
    sigmoid chains) that floor, relative to the block's largest element, exceeds 1e-7. The row then shows the
    raised bound and says why; the complex step, which has no such floor, still checks the block at 1e-12.
    """
    base = BOUNDS["central"]
    scale = max(float(np.max(np.abs(numerical), initial=0.0)), TINY)
    floor = rounding_floor / scale
    if floor <= base:
        return base, ""
    return floor, (f"bound raised from {base:.0e} to the rounding floor of central differences "
                   f"(3 eps |C| / h = {rounding_floor:.1e}, over max |dC| = {scale:.1e})")


def _complex_elements(loss: Callable, params: Params, name: str, indices: np.ndarray, analytic: np.ndarray
                      ) -> tuple[float, float, str]:
    from numeric import finite_diff

    bound = BOUNDS["complex"]
    cs = finite_diff.complex_step(loss, params, name, indices)
    if cs is None:
        return float("inf"), bound, NOT_ANALYTIC
    err = block_relative_error(analytic, cs)
    return err, bound, (diagnosis(analytic, cs, bound, complete=False) if err > bound else "")


def numerical_elements(method: str, loss: Callable, params: Params, name: str, indices: np.ndarray,
                       analytic: np.ndarray) -> tuple[float, float, str]:
    """``(error, bound, detail)`` of ``analytic`` (d loss / d params[name].flat[indices]) against ``method``.

    ``central``: :func:`numeric.finite_diff.differences`, Richardson-extrapolated, bound :func:`central_bound`.
    An element whose analytic value lies between its left and right one-sided derivatives where those differ (a
    ReLU kink inside the step, :func:`numeric.finite_diff.between_one_sided`) is a valid subgradient: it is left
    out of the error and counted in the detail. ``complex``: :func:`numeric.finite_diff.complex_step`; a loss that
    is not analytic fails and says so.
    """
    from numeric import finite_diff

    if method == "complex":
        return _complex_elements(loss, params, name, indices, analytic)
    d = finite_diff.differences(loss, params, name, indices)
    numerical = d.richardson
    bound, why = central_bound(numerical, 3 * float(np.max(d.rounding, initial=0.0)))
    scale = max(float(np.max(np.abs(numerical), initial=0.0)), TINY)
    off = np.abs(analytic - numerical) > bound * scale
    kink = off & finite_diff.between_one_sided(analytic, d, margin=d.one_sided_error, gap=10 * d.one_sided_error)
    notes = [why] if why else []
    if kink.any():
        keep = ~kink
        analytic, numerical = analytic[keep], numerical[keep]
        notes.append(f"{int(kink.sum())} element(s) at a kink: analytic value between the one-sided derivatives, "
                     "left out")
    err = block_relative_error(analytic, numerical) if analytic.size else 0.0
    if err > bound:
        notes.append(diagnosis(analytic, numerical, bound, complete=False))
    return err, bound, "; ".join(n for n in notes if n)


def numerical_directional(method: str, loss: Callable, params: Params, direction: Params) -> tuple[float, float]:
    """``(d/dt loss(params + t v) at 0, its rounding floor)`` by ``method``, on the line t -> loss(params + t v).

    The same :func:`numeric.finite_diff.differences` (Richardson) and :func:`numeric.finite_diff.complex_step` as
    the element checks, applied to that line; the complex step has no rounding floor (0).
    """
    from numeric import finite_diff

    def along(p: Params) -> Any:
        t = p["t"][0]
        return loss({k: params[k] + t * direction[k] for k in params})

    line = {"t": np.zeros(1)}
    if method == "complex":
        cs = finite_diff.complex_step(along, line, "t")
        if cs is None:
            raise ValueError(NOT_ANALYTIC)
        return float(cs[0]), 0.0
    d = finite_diff.differences(along, line, "t")
    return float(d.richardson[0]), 3 * float(d.rounding[0])


def _numerical_values(method: str, loss: Callable, params: Params, name: str, indices: np.ndarray) -> np.ndarray:
    """The derivatives themselves by ``method`` (Richardson-extrapolated central differences, or complex step)."""
    from numeric import finite_diff

    if method == "complex":
        cs = finite_diff.complex_step(loss, params, name, indices)
        if cs is None:
            raise ValueError(NOT_ANALYTIC)
        return cs
    return finite_diff.differences(loss, params, name, indices).richardson


def _element_rows(model: str, spec: ModelSpec, witness: Witness, params: Params, grads: Params, method: str,
                  plan: dict[str, np.ndarray], sampled: bool) -> list[Row]:
    rows = []
    check = f"{witness.short} vs {method}"
    shapes = spec.param_shapes()
    zero = spec.zero_gradient_blocks()
    scale = largest_block(grads, [k for k in plan if k not in zero])
    for name, idx in plan.items():
        analytic = np.asarray(grads[name]).reshape(-1)[idx]
        if name in zero:  # identically 0: measured against the largest block, never relative to itself
            try:
                numerical = _numerical_values(method, witness.loss, params, name, idx)
                rows.append(proven_zero(model, check, name, witness.name, METHOD_NAME[method], analytic, numerical,
                                        scale, BOUNDS[method], f"{idx.size} elements"))
            except Exception as exc:
                rows.append(compared(model, check, name, witness.name, METHOD_NAME[method], float("inf"),
                                     BOUNDS[method], "", f"{type(exc).__name__}: {exc}"))
            continue
        try:
            err, bound, detail = numerical_elements(method, witness.loss, params, name, idx, analytic)
        except Exception as exc:  # a witness that crashes fails its row, with the reason
            err, bound, detail = float("inf"), BOUNDS[method], f"{type(exc).__name__}: {exc}"
        size = int(np.prod(shapes[name]))
        how = (f"stratified sample of {idx.size} of {size} elements" if sampled and idx.size < size
               else all_elements(size))
        rows.append(compared(model, check, name, witness.name, METHOD_NAME[method], err, bound, how, detail))
    return rows


def _probe_row(model: str, witness: Witness, params: Params, grads: Params, method: str, name: str,
               shape: tuple[int, ...], rng: np.random.Generator) -> Row:
    """``g . v`` against the numerical directional derivative along N_PROBES signed Gaussian directions."""
    dots, nums, floors = [], [], []
    bound, detail = BOUNDS[method], ""
    try:
        for _ in range(sampling.N_PROBES):
            v = {k: np.zeros_like(p) for k, p in params.items()}
            v[name] = rng.standard_normal(shape)
            dots.append(float(np.sum(np.asarray(grads[name]) * v[name])))
            value, floor = numerical_directional(method, witness.loss, params, v)
            nums.append(value)
            floors.append(floor)
        if method == "central":
            bound, detail = central_bound(np.array(nums), max(floors))
        err = block_relative_error(np.array(dots), np.array(nums))
    except Exception as exc:
        err, detail = float("inf"), f"{type(exc).__name__}: {exc}"
    return compared(model, f"{witness.short} vs {method} (probes)", name, f"{witness.name} g.v", METHOD_NAME[method],
                    err, bound, f"{sampling.N_PROBES} signed Gaussian directions", detail)


def numeric_rows(model: str, spec: ModelSpec, witness: Witness, params: Params, method: str,
                 plan: dict[str, np.ndarray], sampled: bool, rng: np.random.Generator) -> list[Row]:
    """One row per block of ``witness`` against ``method`` on ``plan``; for a sampled model, plus one probe row per
    block. A witness whose gradients crash fails one row ``all``."""
    try:
        grads = witness.grad(params)
    except Exception as exc:
        return [compared(model, f"{witness.short} vs {method}", "all", witness.name, METHOD_NAME[method],
                         float("inf"), BOUNDS[method], "", f"{type(exc).__name__}: {exc}")]
    rows = _element_rows(model, spec, witness, params, grads, method, plan, sampled)
    if sampled:
        zero = spec.zero_gradient_blocks()
        rows += [_probe_row(model, witness, params, grads, method, name, shape, rng)
                 for name, shape in spec.param_shapes().items() if name not in zero]
    return rows
