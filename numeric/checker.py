"""The gradient checker: is a hand-written gradient right, and if not, which parameter is wrong and how.

``gradcheck(loss, grad, params)`` works on anyone's code: ``params`` is a dict of arrays, ``loss(params)`` returns a
number, ``grad(params)`` returns a dict of arrays with the same keys and shapes. Every parameter block gets a row with
its block-relative error (docs/conventions.md § Error metric: max |g - r| / max |r|), its worst element, the number
of bad elements, a verdict (``ok``, ``kink`` or ``wrong``) and a one-sentence diagnosis.

How it decides (see :mod:`numeric.finite_diff` for the numbers):

* pass/fail per element from an error estimate of the numerical side (central differences at h and h/2, the
  Richardson remainder, rounding ``eps |f| / h``) times a safety factor, never a fixed atol, so a float32 function
  passes at float32 accuracy; kinks as :mod:`numeric.elementwise` judges them;
* the complex step, when the loss is analytic, is used as the reference for the reported error; if it disagrees with
  central differences the loss is not analytic (np.abs, np.maximum on complex data) and a note says so;
* ``mode="auto"`` (the default) checks every element of blocks up to 5,000 elements and a stratified sample plus
  signed probes of larger ones; ``mode="full"`` checks every element (vectorised when the loss has a ``perturbed``
  method, as :class:`numeric.backprop.SpecLoss` does) (:mod:`numeric.blockwise`); ``mode="fast"`` checks ``k``
  signed random directions over all blocks, then ``k`` per block, and localises a failure to the blocks
  responsible (:mod:`numeric.probes`);
* ``loss`` and ``grad`` are watched (:mod:`numeric.guard`): a call that changes ``params`` in place or calls
  ``sys.exit`` is bad input, never a verdict;
* missing or extra keys, wrong shapes or dtypes, NaN/inf, and a ``grad`` that raises give a ``wrong`` row with an
  explanation, never an exception. A ``loss`` that cannot be evaluated at ``params`` is bad input
  (:class:`numeric.errors.BadInput`): without it nothing can be checked.

The module is ``numeric.checker`` and not ``numeric.gradcheck`` so that ``numeric.gradcheck`` is always the function.

>>> import numpy as np
>>> params = {"w": np.array([1.0, -2.0])}
>>> result = gradcheck(lambda p: float(np.sum(p["w"] ** 3)), lambda p: {"w": 3 * p["w"] ** 2}, params)
>>> result.ok, str(result.rows[0].verdict)
(True, 'ok')
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from numeric.blockwise import BlockOptions, check_blocks
from numeric.check_result import GradcheckResult, Row, Verdict, wrong_row
from numeric.diagnose import Layers, batch_size_candidates, localise_layers
from numeric.elementwise import sample_indices
from numeric.errors import BadInput
from numeric.finite_diff import differences
from numeric.guard import Watched
from numeric.probes import check_fast

__all__ = ["MODES", "GradcheckResult", "Row", "Verdict", "gradcheck"]

Array = np.ndarray
MODES = ("auto", "full", "fast")


def _evaluate_loss(loss: Callable, params: Mapping[str, Array]) -> float:
    try:
        value = loss(params)
    except BadInput:
        raise
    except Exception as err:  # the user's code: report what it raised
        raise BadInput(f"loss(params) raised {type(err).__name__}: {err}") from None
    arr = np.asarray(value)
    if arr.size != 1 or not np.issubdtype(arr.dtype, np.number):
        raise BadInput(f"loss(params) must return one number, got {type(value).__name__} of shape {arr.shape}")
    if np.iscomplexobj(arr):  # the params given are real: the finite differences need a real loss
        raise BadInput(f"loss(params) returned a complex number ({arr.reshape(()).item()!r}) for real parameters; "
                       "return a real float")
    f0 = float(arr.reshape(()))
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


def _structure(name: str, theta: Array, g: Any) -> tuple[Array | None, Row | None, str | None]:
    """The analytic block as an array of theta's shape, or a finished ``wrong`` row; plus a dtype note."""
    shape = theta.shape
    try:
        arr = np.asarray(g)
    except Exception as err:
        return None, wrong_row(name, shape, f"grad returned an object that is not an array ({err})"), None
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_:
        return None, wrong_row(name, shape, f"grad returned dtype {arr.dtype} for {name}; expected a floating "
                                            f"array like the parameter ({theta.dtype})"), None
    if np.iscomplexobj(arr):
        return None, wrong_row(name, shape, f"grad returned a complex array (dtype {arr.dtype}) for a real "
                                            "parameter: an imaginary part leaked (complex step left on?)"), None
    note = None
    if not np.issubdtype(arr.dtype, np.floating):
        note = f"dtype {arr.dtype} (integer) for a {theta.dtype} parameter: values are truncated"
    elif arr.dtype != theta.dtype:
        note = f"dtype {arr.dtype} differs from the parameter's {theta.dtype}"
    if arr.shape != shape:
        return arr, None, note  # handled by the caller (it needs the numerical side to say more)
    return arr.astype(np.float64) if not np.issubdtype(arr.dtype, np.floating) else arr, None, note


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
        return wrong_row(name, shape, f"{what}: not even the number of elements matches")
    flat = sample_indices(theta.size, 256, rng)  # enough elements to tell a transpose or a reshape from noise
    d = differences(loss, params, name, flat, f0=f0)
    r = d.richardson
    for label, cand in candidates:
        c = np.asarray(cand, dtype=np.float64).reshape(-1)[flat]
        if np.all(np.abs(c - r) <= 10 * d.error + 1e-12 * np.max(np.abs(r))):
            kind = "transposed gradient" if label == "its transpose" else "flattened or reshaped gradient"
            return Row(name, shape, float("nan"), float("nan"), None, int(theta.size), Verdict.WRONG,
                       f"{kind}: {what}; {label} matches the numerical gradient (fix the layout of dC/d{name})",
                       int(theta.size), 0, "richardson")
    return wrong_row(name, shape, f"{what}, and {' or '.join(c[0] for c in candidates)} does not match the "
                                  "numerical gradient either")


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(n for n in shape if n != 1)


def _analytic_blocks(loss: Callable, params: Mapping[str, Array], g_all: Mapping[str, Any], f0: float,
                     rng: np.random.Generator, rows: list[Row], notes: list[str],
                     accept_reshape: bool = False) -> dict[str, Array]:
    """The analytic blocks that can be compared element by element; a row for every one that cannot."""
    blocks: dict[str, Array] = {}
    for name, theta in params.items():
        if name not in g_all:
            rows.append(wrong_row(name, theta.shape, f"grad returned no {name!r} (it returned "
                                                      f"{', '.join(map(str, g_all)) or 'nothing'})"))
            continue
        g, row, note = _structure(name, theta, g_all[name])
        if row is not None:
            rows.append(row)
            continue
        assert g is not None
        if g.shape != theta.shape and accept_reshape and _squeezed(g.shape) == _squeezed(theta.shape):
            notes.append(f"{name}: grad has shape {g.shape}, accepted as {theta.shape} (accept_reshape)")
            g = g.reshape(theta.shape)
        if g.shape != theta.shape:
            rows.append(_shape_row(loss, params, name, theta, g, f0, rng))
            continue
        blocks[name] = g
        if note:
            notes.append(f"{name}: {note}")
    for name in g_all:
        if name not in params:
            shape = tuple(np.shape(g_all[name]))
            rows.append(wrong_row(str(name), shape, f"grad returned {name!r}, which is not a parameter "
                                                    f"(parameters: {', '.join(params)})"))
    return blocks


def _localisation(rows: Sequence[Row], params: Mapping[str, Array], layers: Layers | None) -> str | None:
    """Where the error enters the backward pass (from the verdicts in layer order), or what all wrong rows share."""
    localisation = localise_layers({r.name: r.verdict for r in rows if r.name in params}, layers)
    wrong = [r for r in rows if r.verdict is Verdict.WRONG]
    zero = [r.name for r in wrong if r.diagnosis.startswith("all-zero")]
    if zero and len(zero) == len(wrong):
        localisation = (f"{', '.join(zero)} get an all-zero gradient while the loss depends on them: the backward "
                        "pass never reaches them (a loop that stops a layer early, or a dropped term)")
    l2 = [r for r in wrong if "the L2 regularisation term" in r.diagnosis]
    if len(l2) > 1 and len(l2) == len(wrong):
        localisation = (f"{', '.join(r.name for r in l2)}: every wrong block is off by a multiple of its own weights, "
                        "so the data gradients are right and the mistake is in the regularisation term")
    return localisation


def _batch_sizes(batch_size: int | Sequence[int] | None, loss: Callable, params: Mapping[str, Array]) -> list[int]:
    if batch_size is None:
        return batch_size_candidates(loss, params)
    if isinstance(batch_size, (int, np.integer)):
        return [int(batch_size)]
    return [int(m) for m in batch_size]


def _call_grad(grad: Callable, params: Mapping[str, Array]) -> tuple[Mapping[str, Any] | None, str | None]:
    """grad(params), or the sentence that every row will carry when it cannot be used."""
    try:
        g_all = grad(params)
    except BadInput:
        raise
    except Exception as err:  # the user's code: report what it raised, on every row
        return None, f"grad(params) raised {type(err).__name__}: {err}"
    if not isinstance(g_all, Mapping):
        return None, (f"grad(params) returned {type(g_all).__name__}; it must return a dict with keys "
                      f"{', '.join(params)}")
    return g_all, None


#: loss evaluations per element in full mode (central differences at two steps for Richardson, and the complex step)
FULL_EVALUATIONS = 5


def time_budget() -> float:
    """Seconds a single check may be estimated to take: ``$BPV_TIME_BUDGET``, default 600."""
    import os

    text = os.environ.get("BPV_TIME_BUDGET", "600")
    try:
        value = float(text)
    except ValueError:
        raise BadInput(f"BPV_TIME_BUDGET={text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise BadInput(f"BPV_TIME_BUDGET={text!r} must be a positive number of seconds")
    return value


def _check_full_budget(loss: Callable, params: Mapping[str, Array], seconds_per_loss: float,
                       max_elements: int | None) -> None:
    """Full mode checks every element: refuse up front when that is estimated to exceed the time budget (a loss
    with a vectorised ``perturbed`` is exempt: it is far faster than one call per element)."""
    if hasattr(loss, "perturbed"):
        return
    n = sum(p.size if max_elements is None else min(p.size, max_elements) for p in params.values())
    estimate = n * FULL_EVALUATIONS * seconds_per_loss
    budget = time_budget()
    if estimate > budget:
        raise BadInput(f"full mode would evaluate the loss about {n * FULL_EVALUATIONS:,} times ({n:,} elements, "
                       f"{seconds_per_loss * 1e3:.2g} ms a call): about {estimate:,.0f} s, over the time budget of "
                       f"{budget:g} s (BPV_TIME_BUDGET); use mode auto (every element of small blocks, a stratified "
                       "sample plus probes of large ones) or fast, or limit max_elements")


def _first_loss(loss: Callable, params: Mapping[str, Array], mode: str, max_elements: int | None) -> float:
    """The loss at ``params``, timed: in full mode, the check is refused up front when over the time budget."""
    t0 = time.perf_counter()
    f0 = _evaluate_loss(loss, params)
    if mode == "full":
        _check_full_budget(loss, params, time.perf_counter() - t0, max_elements)
    return f0


def gradcheck(
    loss: Callable[[Mapping[str, Array]], Any],
    grad: Callable[[Mapping[str, Array]], Mapping[str, Any]],
    params: Mapping[str, Any],
    *,
    mode: str = "auto",
    seed: int = 0,
    batch_size: int | Sequence[int] | None = None,
    layers: Layers | None = None,
    accept_reshape: bool = False,
    progress: bool = True,
    k: int = 4,
    max_elements: int | None = None,
    localise_sample: int = 64,
    complex_step_check: bool = True,
    safety: float = 10.0,
    n_regions: int = 16,
) -> GradcheckResult:
    """Check ``grad`` against finite differences of ``loss`` at ``params``; see the module docstring.

    ``mode``: ``auto`` (every element of blocks up to 5,000 elements, a stratified sample plus signed probes of
    larger ones), ``full`` (every element, or a sample of ``max_elements`` per block) or ``fast`` (``k`` signed
    random directions overall and per block). ``batch_size``: m (or candidates), to name a 1/m factor (else taken
    from ``loss.batch_size`` or the arrays the loss closes over). ``layers``: the blocks in layer order, input to
    output (an entry is a key or a group of keys), for saying where an error enters the backward pass (default:
    read from numbers in the keys). ``accept_reshape``: a gradient of the parameter's size whose shape differs only
    by axes of length 1 ((30, 1) for (30,)) is reshaped and checked, with a note. ``progress``: a bar with an ETA on
    stderr once the check has run 2 s. ``safety`` multiplies the numerical error estimate. ``n_regions``: random
    nearby points sampled for an element where several kinks meet (0 turns this off).

    ``loss`` and ``grad`` must leave ``params`` alone: a call that changes them in place, or calls ``sys.exit``,
    raises :class:`~numeric.errors.BadInput` (the check would be measuring a moving point).
    """
    if mode not in MODES:
        raise BadInput(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    t0 = time.perf_counter()
    given = _check_params(params)
    batch_sizes = _batch_sizes(batch_size, loss, given)  # by identity with the caller's arrays, before the copy
    params = {k: v.copy() for k, v in given.items()}  # the caller's arrays never move
    rng = np.random.default_rng(seed)
    loss = Watched(loss, "loss()", "")
    grad = Watched(grad, "grad()", " (an optimiser step inside grad? numeric.adapters.grad_from_update reads the "
                                   "gradient from such a step)")
    f0 = _first_loss(loss, params, mode, max_elements)
    notes: list[str] = []
    g_all, failure = _call_grad(grad, params)
    if g_all is None:
        rows = [wrong_row(n, p.shape, failure or "") for n, p in params.items()]
        return GradcheckResult(rows, mode, seed, notes, None, time.perf_counter() - t0)
    rows: list[Row] = []
    blocks = _analytic_blocks(loss, params, g_all, f0, rng, rows, notes, accept_reshape)
    if mode == "fast":
        rows += check_fast(loss, params, blocks, f0, rng, k=k, localise_sample=localise_sample, safety=safety,
                           batch_sizes=batch_sizes, notes=notes, n_regions=n_regions)
    else:
        opts = BlockOptions(mode, safety, complex_step_check, batch_sizes, n_regions, max_elements, progress)
        rows += check_blocks(loss, params, blocks, f0, rng, opts, notes)
    order = {n: i for i, n in enumerate(params)}
    rows.sort(key=lambda r: order.get(r.name, len(order)))
    return GradcheckResult(rows, mode, seed, notes, _localisation(rows, params, layers), time.perf_counter() - t0)
