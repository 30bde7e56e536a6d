"""The gradient checker: is a hand-written gradient right, and if not, which parameter is wrong and how.

``gradcheck(loss, grad, params)`` works on anyone's code: ``params`` is a dict of arrays, ``loss(params)`` returns a
number, ``grad(params)`` returns a dict of arrays with the same keys and shapes. Every parameter block gets a row with
its block-relative error (DESIGN.md: max |g - r| / max |r|), its worst element, the number of bad elements, a verdict
(``ok``, ``kink`` or ``wrong``) and a one-sentence diagnosis.

How it decides (see :mod:`numeric.finite_diff` for the numbers):

* pass/fail per element from an error estimate of the numerical side (central differences at h and h/2, the
  Richardson remainder, rounding ``eps |f| / h``) times a safety factor, never a fixed atol, so a float32 function
  passes at float32 accuracy;
* an element that fails but whose analytic value lies between the left and right one-sided derivatives is a **kink**
  (a valid subgradient, as ReLU'(0) = 0 is), not a bug;
* the complex step, when the loss is analytic, is used as the reference for the reported error; if it disagrees with
  central differences the loss is not analytic (np.abs, np.maximum on complex data) and a note says so;
* ``mode="full"`` checks every element (vectorised when the loss has a ``perturbed`` method, as
  :class:`numeric.backprop.SpecLoss` does); ``mode="fast"`` checks ``k`` signed random directions over all blocks,
  then ``k`` per block, and localises a failure to the blocks responsible (with a sample of elements for the
  diagnosis);
* missing or extra keys, wrong shapes or dtypes, NaN/inf, and a ``grad`` that raises give a ``wrong`` row with an
  explanation, never an exception. A ``loss`` that cannot be evaluated at ``params`` is bad input
  (:class:`numeric.errors.BadInput`): without it nothing can be checked.

>>> import numpy as np
>>> params = {"w": np.array([1.0, -2.0])}
>>> result = gradcheck(lambda p: float(np.sum(p["w"] ** 3)), lambda p: {"w": 3 * p["w"] ** 2}, params)
>>> result.ok, result.rows[0].verdict
(True, 'ok')
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from numeric.diagnose import batch_size_candidates, describe_factor, diagnose_block, fit_scale, localise_layers
from numeric.errors import BadInput
from numeric.finite_diff import (
    Differences,
    complex_step,
    differences,
    machine_eps,
    perturbed_losses,
    random_directions,
)
from numeric.metrics import block_relative_error

__all__ = ["GradcheckResult", "Row", "gradcheck"]

Array = np.ndarray
VERDICTS = ("ok", "kink", "wrong")
MAX_REGION_CHECKS = 256  # bad elements per block that get the several-kinks check (a real bug is caught anyway)


@dataclass
class Row:
    """The check of one parameter block."""

    name: str
    shape: tuple[int, ...]
    rel_error: float
    max_abs_error: float
    worst_index: tuple[int, ...] | None
    n_bad: int
    verdict: str
    diagnosis: str
    n_checked: int = 0
    n_kink: int = 0
    method: str = "richardson"
    analytic: float | None = None  # at the worst index
    numerical: float | None = None

    def to_dict(self) -> dict[str, Any]:
        def num(v: float | None) -> float | None:
            return None if v is None or not np.isfinite(v) else float(v)

        return {
            "name": self.name, "shape": list(self.shape), "verdict": self.verdict,
            "rel_error": num(self.rel_error), "max_abs_error": num(self.max_abs_error),
            "worst_index": None if self.worst_index is None else list(self.worst_index),
            "n_bad": self.n_bad, "n_kink": self.n_kink, "n_checked": self.n_checked, "method": self.method,
            "analytic": num(self.analytic), "numerical": num(self.numerical), "diagnosis": self.diagnosis,
        }


@dataclass
class GradcheckResult:
    """Rows (one per parameter, plus one per unexpected key), notes, and where the error enters the backward pass."""

    rows: list[Row]
    mode: str
    seed: int
    notes: list[str] = field(default_factory=list)
    localisation: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no row is ``wrong`` (kinks are fine)."""
        return all(r.verdict != "wrong" for r in self.rows)

    def row(self, name: str) -> Row:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def sorted_rows(self) -> list[Row]:
        """Worst first: wrong, then kink, then ok; within a verdict by decreasing error."""
        rank = {"wrong": 0, "kink": 1, "ok": 2}

        def err(r: Row) -> float:
            return r.rel_error if np.isfinite(r.rel_error) else np.inf

        return sorted(self.rows, key=lambda r: (rank[r.verdict], -err(r), r.name))

    def __str__(self) -> str:
        head = ["param", "shape", "verdict", "rel.err", "max abs", "worst at", "bad", "diagnosis"]
        lines = []
        for r in self.sorted_rows():
            shape = "x".join(str(s) for s in r.shape) or "()"
            worst = "-" if r.worst_index is None else ",".join(str(i) for i in r.worst_index)
            rel = "-" if not np.isfinite(r.rel_error) else f"{r.rel_error:.1e}"
            mx = "-" if not np.isfinite(r.max_abs_error) else f"{r.max_abs_error:.1e}"
            bad = f"{r.n_bad}/{r.n_checked}" if r.n_checked else str(r.n_bad)
            diag = r.diagnosis
            lines.append([r.name, shape, r.verdict, rel, mx, worst, bad, diag])
        widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(head)]
        fmt = "  ".join(f"{{:{w}s}}" for w in widths[:-1]) + "  {}"
        out = [fmt.format(*head), fmt.format(*("-" * w for w in widths[:-1]), "-" * 9)]
        out += [fmt.format(*line) for line in lines]
        n_wrong = sum(r.verdict == "wrong" for r in self.rows)
        n_kink = sum(r.verdict == "kink" for r in self.rows)
        status = "OK" if self.ok else f"WRONG: {n_wrong} of {len(self.rows)} parameters"
        if n_kink:
            status += f" ({n_kink} with kinks: analytic value between the one-sided derivatives)"
        out.append(f"gradcheck ({self.mode} mode, seed {self.seed}, {self.seconds:.2f} s): {status}")
        if self.localisation:
            out.append(f"where: {self.localisation}")
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "mode": self.mode, "seed": self.seed, "seconds": self.seconds,
            "localisation": self.localisation, "notes": list(self.notes),
            "rows": [r.to_dict() for r in self.sorted_rows()],
        }


# ----- helpers ---------------------------------------------------------------------------------------------------


def _evaluate_loss(loss: Callable, params: Mapping[str, Array]) -> float:
    try:
        value = loss(params)
    except Exception as err:  # the user's code: report what it raised
        raise BadInput(f"loss(params) raised {type(err).__name__}: {err}") from None
    arr = np.asarray(value)
    if arr.size != 1 or not np.issubdtype(arr.dtype, np.number):
        raise BadInput(f"loss(params) must return one number, got {type(value).__name__} of shape {arr.shape}")
    f0 = float(np.real(arr.reshape(())))
    if not np.isfinite(f0):
        raise BadInput(f"loss(params) is {f0} at the given params: nothing can be checked there")
    return f0


def _check_params(params: Any) -> dict[str, Array]:
    if not isinstance(params, Mapping) or not params:
        raise BadInput(f"params must be a non-empty dict of arrays, got {type(params).__name__}")
    out = {}
    for k, v in params.items():
        arr = np.asarray(v)
        if not np.issubdtype(arr.dtype, np.floating):
            raise BadInput(f"params[{k!r}] has dtype {arr.dtype}; parameters must be real floating-point arrays")
        out[k] = arr
    return out


def _wrong_row(name: str, shape: tuple[int, ...], diagnosis: str) -> Row:
    return Row(name, shape, float("nan"), float("nan"), None, 0, "wrong", diagnosis, method="none")


def _structure(name: str, theta: Array, g: Any) -> tuple[Array | None, Row | None, str | None]:
    """The analytic block as an array of theta's shape, or a finished ``wrong`` row; plus a dtype note."""
    shape = theta.shape
    try:
        arr = np.asarray(g)
    except Exception as err:
        return None, _wrong_row(name, shape, f"grad returned an object that is not an array ({err})"), None
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_:
        return None, _wrong_row(name, shape, f"grad returned dtype {arr.dtype} for {name}; expected a floating "
                                             f"array like the parameter ({theta.dtype})"), None
    if np.iscomplexobj(arr):
        return None, _wrong_row(name, shape, f"grad returned a complex array (dtype {arr.dtype}) for a real "
                                             "parameter: an imaginary part leaked (complex step left on?)"), None
    note = None
    if not np.issubdtype(arr.dtype, np.floating):
        note = f"dtype {arr.dtype} (integer) for a {theta.dtype} parameter: values are truncated"
    elif arr.dtype != theta.dtype:
        note = f"dtype {arr.dtype} differs from the parameter's {theta.dtype}"
    if arr.shape != shape:
        return arr, None, note  # handled by the caller (it needs the numerical side to say more)
    return arr.astype(np.float64) if not np.issubdtype(arr.dtype, np.floating) else arr, None, note


@dataclass
class _Elementwise:
    bad: Array
    kink: Array
    tol: Array
    ref: Array
    method: str


def _region_slopes(loss: Callable, params: Mapping[str, Array], name: str, flat: Array,
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


def _elementwise(g: Array, d: Differences, cs: Array | None, safety: float, eps_g: float,
                 regions: Callable[[Array], Array] | None = None) -> _Elementwise:
    r = d.richardson
    scale = max(float(np.max(np.abs(r))) if r.size else 0.0, float(np.max(np.abs(g))) if g.size else 0.0)
    floor = 1e3 * eps_g * scale + 1e-300
    tol = safety * d.error + floor
    err = np.abs(g - r)
    bad = ~(err <= tol)  # NaN counts as bad
    plus, minus = d.plus_slope, d.minus_slope
    margin = safety * d.one_sided_error + floor
    lo, hi = np.minimum(plus, minus), np.maximum(plus, minus)
    is_kink = np.abs(plus - minus) > margin
    kink = bad & is_kink & (g >= lo - margin) & (g <= hi + margin) & np.isfinite(g)
    # Elements whose line crosses a kink, and, in a block with such kinks, (a few) others: kinks of a later layer
    # can hide from the line (equal left and right slopes) while the chain rule picks a neighbouring piece's value.
    few = np.any(is_kink) and np.count_nonzero(bad) <= MAX_REGION_CHECKS
    stuck = np.flatnonzero(bad & ~kink & np.isfinite(g) & (is_kink | few))
    stuck = stuck[:MAX_REGION_CHECKS]
    if regions is not None and stuck.size:
        # several kinks on one coordinate line: compare with the pieces around the point, not just the line's two
        slopes = regions(stuck)
        lo_r = np.minimum(lo[stuck], np.min(slopes, axis=0))
        hi_r = np.maximum(hi[stuck], np.max(slopes, axis=0))
        drift = 1e-3 * np.maximum(np.abs(lo_r), np.abs(hi_r))
        inside = (g[stuck] >= lo_r - margin[stuck] - drift) & (g[stuck] <= hi_r + margin[stuck] + drift)
        kink[stuck[inside]] = True
    bad = bad & ~kink
    ref, method = r, "richardson"
    if cs is not None:
        smooth = ~is_kink & ~bad & np.isfinite(cs)
        if np.all(np.abs(cs - r)[smooth] <= tol[smooth]):
            ref, method = np.where(is_kink, r, cs), "complex-step"
        else:
            method = "richardson (complex step rejected: not analytic)"
    return _Elementwise(bad, kink, tol, ref, method)


def _row_from_elements(name: str, theta: Array, g_flat: Array, flat: Array, e: _Elementwise, note: str | None,
                       batch_sizes: Sequence[int], complete: bool) -> Row:
    shape = theta.shape
    abs_err = np.abs(g_flat - e.ref)
    finite = np.isfinite(abs_err)
    ref_max = float(np.max(np.abs(e.ref))) if e.ref.size else 0.0
    if flat.size == 0:
        return Row(name, shape, 0.0, 0.0, None, 0, "ok", "empty parameter", 0, 0, e.method)
    worst = int(np.argmax(np.where(finite, abs_err, np.inf)))
    max_abs = float(np.max(np.where(finite, abs_err, np.inf)))
    rel = max_abs / max(ref_max, np.finfo(np.float64).tiny)
    if ref_max == 0.0 and max_abs == 0.0:
        rel = 0.0
    n_bad = int(np.count_nonzero(e.bad))
    n_kink = int(np.count_nonzero(e.kink))
    worst_index = tuple(int(i) for i in np.unravel_index(int(flat[worst]), shape))
    if n_bad:
        verdict = "wrong"
        if complete:
            diag = diagnose_block(g_flat.reshape(shape), e.ref.reshape(shape), e.bad.reshape(shape),
                                  e.tol.reshape(shape), batch_sizes=batch_sizes, complete=True)
        else:
            diag = diagnose_block(g_flat, e.ref, e.bad, e.tol, batch_sizes=batch_sizes, complete=False)
        bad_idx = np.flatnonzero(e.bad)
        w = bad_idx[int(np.argmax(abs_err[bad_idx]))] if np.any(finite[bad_idx]) else bad_idx[0]
        worst_index = tuple(int(i) for i in np.unravel_index(int(flat[w]), shape))
        worst = int(w)
        diag += f"; worst at {worst_index}: analytic {g_flat[worst]:.6g}, numerical {e.ref[worst]:.6g}"
    elif n_kink:
        verdict = "kink"
        diag = (f"{n_kink} element(s) at a kink: the analytic value lies between the left and right derivatives, "
                "or the derivatives just beside the point where several kinks meet (a valid choice of "
                "derivative at the kink, e.g. ReLU'(0) = 0)")
    else:
        verdict, diag = "ok", ""
    if note:
        diag = f"{diag}; {note}" if diag else note
    return Row(name, shape, rel, max_abs, worst_index, n_bad, verdict, diag, int(flat.size), n_kink, e.method,
               float(g_flat[worst]), float(e.ref[worst]))


def _regions(loss: Callable, params: Mapping[str, Array], name: str, flat: Array, rng: np.random.Generator,
             n_regions: int) -> Callable[[Array], Array] | None:
    if n_regions <= 0:
        return None
    return lambda stuck: _region_slopes(loss, params, name, flat[stuck], rng, n_regions)


def _sample(size: int, cap: int | None, rng: np.random.Generator) -> Array:
    if cap is None or size <= cap:
        return np.arange(size)
    return np.sort(rng.choice(size, cap, replace=False))


# ----- the checker -----------------------------------------------------------------------------------------------


def gradcheck(
    loss: Callable[[Mapping[str, Array]], Any],
    grad: Callable[[Mapping[str, Array]], Mapping[str, Any]],
    params: Mapping[str, Any],
    *,
    mode: str = "full",
    seed: int = 0,
    batch_size: int | None = None,
    k: int = 4,
    max_elements: int | None = None,
    localise_sample: int = 64,
    complex_step_check: bool = True,
    safety: float = 10.0,
    n_regions: int = 16,
) -> GradcheckResult:
    """Check ``grad`` against finite differences of ``loss`` at ``params``; see the module docstring.

    ``mode``: ``full`` (every element, or a sample of ``max_elements`` per block) or ``fast`` (``k`` signed random
    directions overall and per block). ``batch_size``: m, to name a 1/m factor (else taken from ``loss.batch_size``
    or the arrays the loss closes over). ``safety`` multiplies the numerical error estimate. ``n_regions``: random
    nearby points sampled for an element where several kinks meet (0 turns this off).
    """
    if mode not in ("full", "fast"):
        raise BadInput(f"mode must be 'full' or 'fast', got {mode!r}")
    t0 = time.perf_counter()
    params = _check_params(params)
    rng = np.random.default_rng(seed)
    f0 = _evaluate_loss(loss, params)
    batch_sizes = [int(batch_size)] if batch_size else batch_size_candidates(loss, params)
    notes: list[str] = []
    rows: list[Row] = []
    try:
        g_all = grad(params)
    except Exception as err:
        msg = f"grad(params) raised {type(err).__name__}: {err}"
        rows = [_wrong_row(n, p.shape, msg) for n, p in params.items()]
        return GradcheckResult(rows, mode, seed, notes, None, time.perf_counter() - t0)
    if not isinstance(g_all, Mapping):
        msg = f"grad(params) returned {type(g_all).__name__}; it must return a dict with keys {', '.join(params)}"
        rows = [_wrong_row(n, p.shape, msg) for n, p in params.items()]
        return GradcheckResult(rows, mode, seed, notes, None, time.perf_counter() - t0)

    blocks: dict[str, Array] = {}
    for name, theta in params.items():
        if name not in g_all:
            rows.append(_wrong_row(name, theta.shape, f"grad returned no {name!r} (it returned "
                                                       f"{', '.join(map(str, g_all)) or 'nothing'})"))
            continue
        g, row, note = _structure(name, theta, g_all[name])
        if row is not None:
            rows.append(row)
            continue
        assert g is not None
        if g.shape != theta.shape:
            rows.append(_shape_row(loss, params, name, theta, g, f0, rng))
            continue
        blocks[name] = g
        if note:
            notes.append(f"{name}: {note}")
    for name in g_all:
        if name not in params:
            shape = tuple(np.shape(g_all[name]))
            rows.append(_wrong_row(str(name), shape, f"grad returned {name!r}, which is not a parameter "
                                                     f"(parameters: {', '.join(params)})"))

    if mode == "full":
        rows += _full(loss, params, blocks, f0, rng, max_elements, complex_step_check, safety, batch_sizes, notes,
                      n_regions)
    else:
        rows += _fast(loss, params, blocks, f0, rng, k, localise_sample, safety, batch_sizes, notes, n_regions)
    order = {n: i for i, n in enumerate(params)}
    rows.sort(key=lambda r: order.get(r.name, len(order)))
    localisation = localise_layers({r.name: r.verdict for r in rows if r.name in params})
    zero = [r.name for r in rows if r.verdict == "wrong" and r.diagnosis.startswith("all-zero")]
    if zero and len(zero) == sum(r.verdict == "wrong" for r in rows):
        localisation = (f"{', '.join(zero)} get an all-zero gradient while the loss depends on them: the backward "
                        "pass never reaches them (a loop that stops a layer early, or a dropped term)")
    return GradcheckResult(rows, mode, seed, notes, localisation, time.perf_counter() - t0)


def _shape_row(loss: Callable, params: Mapping[str, Array], name: str, theta: Array, g: Array, f0: float,
               rng: np.random.Generator) -> Row:
    """A gradient of the wrong shape: is it the transpose, or a reshape, of the right one?"""
    shape = theta.shape
    what = f"shape {g.shape} instead of {shape}"
    candidates = []
    if g.ndim == 2 and g.T.shape == shape:
        candidates.append(("its transpose", g.T))
    if g.size == theta.size and g.ndim != theta.ndim:
        candidates.append(("reshaped", g.reshape(shape)))
    if not candidates:
        return _wrong_row(name, shape, f"{what}: not even the number of elements matches")
    flat = _sample(theta.size, 256, rng)  # enough elements to tell a transpose or a reshape from noise
    d = differences(loss, params, name, flat, f0=f0)
    r = d.richardson
    for label, cand in candidates:
        c = np.asarray(cand, dtype=np.float64).reshape(-1)[flat]
        if np.all(np.abs(c - r) <= 10 * d.error + 1e-12 * np.max(np.abs(r))):
            kind = "transposed gradient" if label == "its transpose" else "flattened or reshaped gradient"
            return Row(name, shape, float("nan"), float("nan"), None, int(theta.size), "wrong",
                       f"{kind}: {what}; {label} matches the numerical gradient (fix the layout of dC/d{name})",
                       int(theta.size), 0, "richardson")
    return _wrong_row(name, shape, f"{what}, and {' or '.join(c[0] for c in candidates)} does not match the "
                                   "numerical gradient either")


def _full(loss, params, blocks, f0, rng, max_elements, complex_step_check, safety, batch_sizes, notes,
          n_regions) -> list[Row]:
    rows = []
    rejected = False
    for name, g in blocks.items():
        theta = params[name]
        flat = _sample(theta.size, max_elements, rng)
        d = differences(loss, params, name, flat, f0=f0)
        cs = complex_step(loss, params, name, flat) if complex_step_check and flat.size else None
        g_flat = np.asarray(g, dtype=np.float64).reshape(-1)[flat]
        eps_g = max(machine_eps(theta.dtype), machine_eps(g.dtype))
        e = _elementwise(g_flat, d, cs, safety, eps_g, _regions(loss, params, name, flat, rng, n_regions))
        rejected = rejected or "rejected" in e.method
        complete = flat.size == theta.size
        row = _row_from_elements(name, theta, g_flat, flat, e, None, batch_sizes, complete)
        if not complete:
            row.diagnosis = (row.diagnosis + "; " if row.diagnosis else "") + \
                f"a random sample of {flat.size} of {theta.size} elements checked"
        rows.append(row)
    if rejected:
        notes.append("the complex step disagrees with central differences: the loss is not analytic (np.abs, "
                     "np.maximum, np.clip or a comparison on complex data); central differences were used")
    return rows


def _fast(loss, params, blocks, f0, rng, k, localise_sample, safety, batch_sizes, notes, n_regions) -> list[Row]:
    from numeric.finite_diff import directional

    names = list(blocks)
    if not names:
        return []

    def probe(direction: dict[str, Array]) -> tuple[float, Differences]:
        analytic = sum(float(np.sum(np.asarray(blocks[n], dtype=np.float64) * direction[n])) for n in names)
        return analytic, directional(loss, params, direction, f0=f0)

    def judge(analytic: float, d: Differences, direction: dict[str, Array], eps_g: float) -> tuple[bool, bool]:
        """(passes, smooth) for one probe; the floor covers rounding of g.v and of theta + t v.

        A probe whose line crosses a kink (left and right slopes differ) is not smooth: along a direction through
        several kinks a valid subgradient need not lie between the one-sided slopes, so such a probe only sends
        the block to the element-wise check, where kinks are judged one coordinate at a time.
        """
        g_dot_abs = sum(float(np.sum(np.abs(blocks[n]) * np.abs(direction[n]))) for n in names)
        g_theta = sum(float(np.sum(np.abs(blocks[n]) * np.abs(params[n]))) for n in names if np.any(direction[n]))
        floor = 1e3 * eps_g * g_dot_abs + 4 * eps_g * g_theta / float(d.h[0]) + 1e-300
        r = float(d.richardson[0])
        passes = abs(analytic - r) <= safety * float(d.error[0]) + floor
        plus, minus = float(d.plus_slope[0]), float(d.minus_slope[0])
        smooth = abs(plus - minus) <= safety * float(d.one_sided_error[0]) + floor
        return passes, smooth

    eps_g = max(max(machine_eps(params[n].dtype), machine_eps(blocks[n].dtype)) for n in names)
    sub = {n: params[n] for n in names}
    global_fail = False
    for direction in random_directions(sub, k, rng, names=names):
        direction = {n: direction.get(n, np.zeros(params[n].shape)) for n in params}
        analytic, d = probe(direction)
        passes, _ = judge(analytic, d, direction, eps_g)
        global_fail = global_fail or not passes
    rows = []
    for name in names:
        theta, g = params[name], np.asarray(blocks[name], dtype=np.float64)
        analytics, numericals, fails, rough = [], [], 0, 0
        for direction in random_directions({name: theta}, k, rng):
            direction = {n: (direction[name] if n == name else np.zeros(params[n].shape)) for n in params}
            analytic, d = probe(direction)
            passes, smooth = judge(analytic, d, direction, eps_g)
            analytics.append(analytic)
            numericals.append(float(d.richardson[0]))
            fails += not passes and smooth
            rough += not passes and not smooth
        a_arr, n_arr = np.array(analytics), np.array(numericals)
        err = np.abs(a_arr - n_arr)
        rel = block_relative_error(a_arr, n_arr)
        if not np.all(np.isfinite(g)):
            fails = max(fails, 1)
        if not fails and not rough:
            rows.append(Row(name, theta.shape, rel, float(np.max(err)), None, 0, "ok", "", 0, 0,
                            f"directional ({k} probes)"))
            continue
        rows.append(_localise(loss, params, name, g, f0, rng, localise_sample, safety, batch_sizes, a_arr, n_arr,
                              k, fails, rough, n_regions))
    if global_fail and all(r.verdict == "ok" for r in rows):
        notes.append("a probe over all blocks failed but every per-block probe passed: rerun with mode='full'")
    return rows


def _localise(loss, params, name, g, f0, rng, sample, safety, batch_sizes, a_arr, n_arr, k, fails, rough,
              n_regions) -> Row:
    """A block whose probes failed or crossed kinks: check a sample of its elements (all if small)."""
    theta = params[name]
    flat = _sample(theta.size, sample, rng)
    d = differences(loss, params, name, flat, f0=f0)
    g_flat = g.reshape(-1)[flat]
    eps_g = max(machine_eps(theta.dtype), machine_eps(g.dtype))
    e = _elementwise(g_flat, d, None, safety, eps_g, _regions(loss, params, name, flat, rng, n_regions))
    complete = flat.size == theta.size
    row = _row_from_elements(name, theta, g_flat, flat, e, None, batch_sizes, complete)
    row.method = f"directional ({k} probes) + {flat.size} elements"
    if row.verdict != "wrong" and fails and complete:
        # every element passes one at a time: the failing probes crossed kinks whose left and right slopes agree
        row.diagnosis = (row.diagnosis + "; " if row.diagnosis else "") + (
            f"{fails} of {k} probes failed along lines through several kinks, but every element passes on its own")
        return row
    if row.verdict != "wrong" and fails:
        # smooth probes saw the error, the sample did not: say what the probes say
        c = fit_scale(a_arr, n_arr)
        consistent = c is not None and np.allclose(a_arr, c * n_arr, rtol=1e-4, atol=1e-12 * np.max(np.abs(n_arr)))
        row.verdict = "wrong"
        row.n_bad = max(row.n_bad, 1)
        row.diagnosis = (f"{fails} of {k} random-direction probes fail but none of {flat.size} sampled elements do: "
                         "a few elements are wrong")
        if consistent and c is not None and c != 1:
            row.diagnosis = describe_factor(c, batch_sizes) + " (from the probes)"
    if fails:
        row.diagnosis += f"; {fails} of {k} probes failed"
    elif rough and row.verdict != "wrong":
        row.diagnosis = (row.diagnosis + "; " if row.diagnosis else "") + (
            f"{rough} of {k} probes crossed a kink; the element-wise check on "
            f"{'every element' if complete else f'{flat.size} sampled elements'} decides")
    return row
