"""Finite differences for ``loss(params) -> scalar``: central, Richardson, complex step, directional probes.

What it is: the numerical side of every gradient check in bpv. ``params`` is a dict of arrays; every function works
on any loss with that signature (NumPy only, no knowledge of networks). The per-element functions are vectorised:
when the loss offers ``loss.perturbed(params, name, flat, steps)`` (many one-element perturbations in one call, as
:class:`numeric.backprop.SpecLoss` does), every perturbed value of a block comes from one call; otherwise a tight
loop over a single copy of the block is the fallback.

The numbers (docs/conventions.md § Finite differences):

* central differences ``D(h) = (f(t+h) - f(t-h)) / 2h`` with a per-element step ``h = eps^(1/3) max(1, |t|)``
  (``eps`` of the parameter's dtype: about 6e-6 in float64, 5e-3 in float32), taken as the exactly representable
  ``(t + h) - t``;
* Richardson extrapolation ``R = (4 D(h/2) - D(h)) / 3`` and its error estimate
  ``|D(h) - D(h/2)| / 3 + 3 eps |f| / h`` (truncation of the half step, plus rounding);
* one-sided derivatives on both sides (for kinks: a valid subgradient lies between them);
* the complex step ``Im f(t + i h) / h`` with ``h = 1e-20``, exact to rounding for analytic code; a loss that fails
  on complex input, warns that it dropped an imaginary part, or returns a real number gives ``None``;
* directional derivatives ``d/dt f(theta + t v)`` along signed random probes (Gaussian or +-1; never all-positive,
  pytorch #59615).

What it is not: a gradient checker (that is :mod:`numeric.checker`, which turns these numbers into verdicts).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from numeric.errors import BadInput

__all__ = [
    "Differences",
    "between_one_sided",
    "complex_step",
    "differences",
    "directional",
    "error_curve",
    "machine_eps",
    "numerical_gradient",
    "perturbed_losses",
    "random_directions",
    "step_sizes",
]

Array = np.ndarray
Params = Mapping[str, Any]
Loss = Callable[[Params], Any]

COMPLEX_STEP_H = 1e-20


def machine_eps(dtype: Any) -> float:
    """Machine epsilon of a floating dtype (of the real part for complex dtypes; float64 for integers)."""
    dt = np.dtype(dtype)
    if np.issubdtype(dt, np.complexfloating):
        dt = np.empty(0, dt).real.dtype
    if not np.issubdtype(dt, np.floating):
        dt = np.dtype(np.float64)
    return float(np.finfo(dt).eps)


def step_sizes(theta: Any, eps: float | None = None) -> Array:
    """Per-element central-difference steps ``eps^(1/3) max(1, |theta|)``, exactly representable in theta's dtype."""
    theta = np.asarray(theta)
    eps = machine_eps(theta.dtype) if eps is None else eps
    real = theta.real if np.iscomplexobj(theta) else theta
    work = real.astype(real.dtype if np.issubdtype(real.dtype, np.floating) else np.float64)
    h = (eps ** (1.0 / 3.0)) * np.maximum(1.0, np.abs(work))
    return ((work + h.astype(work.dtype)) - work).astype(work.dtype)


def _as_scalar(value: Any) -> complex | float:
    arr = np.asarray(value)
    if arr.size != 1:
        raise ValueError(f"the loss returned an array of shape {arr.shape}; it must return one number")
    v = arr.reshape(()).item()
    if isinstance(v, complex):
        return v
    return float(v)


def perturbed_losses(loss: Loss, params: Params, name: str, flat: Any, steps: Any, *,
                     vectorised: bool = True) -> Array:
    """``loss`` at ``params`` with element ``flat[p]`` of ``params[name]`` moved by ``steps[p]``, for every p.

    Uses ``loss.perturbed`` when it exists and ``vectorised`` is true (one call for all p); otherwise loops over the
    elements on one private copy of the block (the user's arrays are never modified).
    """
    flat = np.asarray(flat, dtype=np.intp).ravel()
    steps = np.asarray(steps).ravel()
    batched = getattr(loss, "perturbed", None)
    if vectorised and callable(batched):
        return np.asarray(batched(params, name, flat, steps))
    base = np.asarray(params[name])
    dtype = np.result_type(base.dtype, steps.dtype)
    block = np.array(base, dtype=dtype, copy=True)
    view = block.reshape(-1)
    shared = dict(params)
    shared[name] = block
    want_complex = np.iscomplexobj(steps)
    out = np.empty(flat.size, dtype=np.complex128 if want_complex else np.float64)
    for p, (i, s) in enumerate(zip(flat, steps, strict=True)):
        old = view[i]
        view[i] = old + s
        value = _as_scalar(loss(shared))
        view[i] = old
        if want_complex and not isinstance(value, complex):
            raise TypeError("the loss returned a real number for a complex input")
        out[p] = value
    return out


@dataclass
class Differences:
    """Perturbed losses of some elements of one block at steps +-h and +-h/2, and what they give."""

    name: str
    flat: Array  # flat indices into params[name]
    h: Array  # the actual steps
    f0: float
    f_plus: Array
    f_minus: Array
    f_plus_half: Array
    f_minus_half: Array
    eps: float

    @classmethod
    def concat(cls, parts: Sequence[Differences]) -> Differences:
        """The differences of several chunks of one block as one (chunks let a long check report progress)."""
        first = parts[0]

        def cat(field: str) -> Array:
            return np.concatenate([getattr(p, field) for p in parts])

        return cls(first.name, cat("flat"), cat("h"), first.f0, cat("f_plus"), cat("f_minus"), cat("f_plus_half"),
                   cat("f_minus_half"), first.eps)

    @property
    def central(self) -> Array:
        """D(h), the central difference with the full step."""
        return (self.f_plus - self.f_minus) / (2 * self.h)

    @property
    def central_half(self) -> Array:
        """D(h/2)."""
        return (self.f_plus_half - self.f_minus_half) / self.h

    @property
    def richardson(self) -> Array:
        """(4 D(h/2) - D(h)) / 3: the O(h^2) truncation term cancels."""
        return (4 * self.central_half - self.central) / 3

    @property
    def rounding(self) -> Array:
        scale = np.maximum.reduce([np.abs(self.f_plus), np.abs(self.f_minus), np.full_like(self.h, abs(self.f0))])
        return self.eps * np.maximum(scale, np.finfo(np.float64).tiny) / self.h

    @property
    def error(self) -> Array:
        """Error estimate of :attr:`richardson` (conservative): |D(h) - D(h/2)|/3, 3 eps |f| / h for rounding of f,
        and eps^(2/3) |D| for the rounding of theta +- h/2 (whose steps are not exactly representable)."""
        perturbation = 2 * self.eps ** (2 / 3) * np.abs(self.central)
        return np.abs(self.central - self.central_half) / 3 + 3 * self.rounding + perturbation

    @property
    def plus_slope(self) -> Array:
        """Right one-sided derivative, Richardson-extrapolated from steps h and h/2."""
        d1 = (self.f_plus - self.f0) / self.h
        d2 = (self.f_plus_half - self.f0) / (self.h / 2)
        return 2 * d2 - d1

    @property
    def minus_slope(self) -> Array:
        """Left one-sided derivative, Richardson-extrapolated from steps h and h/2."""
        d1 = (self.f0 - self.f_minus) / self.h
        d2 = (self.f0 - self.f_minus_half) / (self.h / 2)
        return 2 * d2 - d1

    @property
    def one_sided_error(self) -> Array:
        dp = np.abs((self.f_plus - self.f0) / self.h - (self.f_plus_half - self.f0) / (self.h / 2))
        dm = np.abs((self.f0 - self.f_minus) / self.h - (self.f0 - self.f_minus_half) / (self.h / 2))
        return np.maximum(dp, dm) + 8 * self.rounding


def differences(loss: Loss, params: Params, name: str, flat: Any = None, *, eps: float | None = None,
                f0: float | None = None, vectorised: bool = True) -> Differences:
    """Central differences at h and h/2 for the elements ``flat`` of ``params[name]`` (all elements by default)."""
    theta = np.asarray(params[name])
    if flat is None:
        flat = np.arange(theta.size)
    flat = np.asarray(flat, dtype=np.intp).ravel()
    eps = machine_eps(theta.dtype) if eps is None else eps
    h = step_sizes(theta.reshape(-1)[flat], eps)
    if f0 is None:
        f0 = float(np.real(_as_scalar(loss(params))))
    steps = np.concatenate([h, -h, h / 2, -h / 2])
    f = np.real(perturbed_losses(loss, params, name, np.tile(flat, 4), steps, vectorised=vectorised))
    f = f.astype(np.float64)
    n = flat.size
    return Differences(name, flat, h.astype(np.float64), float(f0), f[:n], f[n:2 * n], f[2 * n:3 * n], f[3 * n:],
                       eps)


def complex_step(loss: Loss, params: Params, name: str, flat: Any = None, *, h: float = COMPLEX_STEP_H,
                 vectorised: bool = True) -> Array | None:
    """Im f(theta + i h e_k) / h for the elements ``flat`` of ``params[name]``, or None if the loss is not analytic.

    None means the loss raised on complex input, warned that it discarded an imaginary part (ComplexWarning), or
    returned a real number. A loss that silently breaks analyticity (np.abs, np.maximum on complex data) is not
    detected here: :func:`numeric.gradcheck` compares the result with central differences before trusting it.
    """
    theta = np.asarray(params[name])
    if flat is None:
        flat = np.arange(theta.size)
    flat = np.asarray(flat, dtype=np.intp).ravel()
    steps = np.full(flat.size, 1j * h, dtype=np.complex128)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            f = perturbed_losses(loss, params, name, flat, steps, vectorised=vectorised)
    except BadInput:
        raise  # a watched call found the user's code mutating its parameters: not a question of analyticity
    except Exception:
        return None
    if not np.iscomplexobj(f):
        return None
    return np.imag(f) / h


def numerical_gradient(loss: Loss, params: Params, *, method: str = "richardson", names: Sequence[str] | None = None
                       ) -> dict[str, Array]:
    """The whole numerical gradient: ``method`` is ``richardson``, ``central`` or ``complex`` (None if not analytic)."""
    out = {}
    f0 = float(np.real(_as_scalar(loss(params))))
    for name in names or list(params):
        shape = np.shape(params[name])
        if method == "complex":
            cs = complex_step(loss, params, name)
            if cs is None:
                raise ValueError("the loss is not analytic (it rejects complex input or drops the imaginary part)")
            out[name] = cs.reshape(shape)
            continue
        d = differences(loss, params, name, f0=f0)
        out[name] = (d.richardson if method == "richardson" else d.central).reshape(shape)
    return out


def random_directions(params: Params, k: int, rng: np.random.Generator, *, kind: str = "gaussian",
                      names: Sequence[str] | None = None) -> list[dict[str, Array]]:
    """``k`` signed random directions over the blocks ``names`` (all by default; the others are zero)."""
    names = list(params) if names is None else list(names)
    dirs = []
    for _ in range(k):
        d = {}
        for name, value in params.items():
            shape = np.shape(value)
            if name not in names:
                d[name] = np.zeros(shape)
            elif kind == "rademacher":
                d[name] = rng.choice(np.array([-1.0, 1.0]), size=shape)
            elif kind == "gaussian":
                d[name] = rng.standard_normal(shape)
            else:
                raise ValueError(f"unknown probe kind {kind!r}; use gaussian or rademacher")
        dirs.append(d)
    return dirs


def directional(loss: Loss, params: Params, direction: Mapping[str, Array], *, eps: float | None = None,
                f0: float | None = None) -> Differences:
    """Differences of ``f(theta + t v)`` at t = +-s, +-s/2 (4 loss calls), as a one-element :class:`Differences`.

    ``.richardson[0]`` estimates the directional derivative ``<grad f, v>``, ``.error[0]`` its error; ``.h[0]`` is
    the step s = eps^(1/3) max(1, max |theta|) / max |v|.
    """
    names = [n for n in params if np.any(direction.get(n, 0))]
    if eps is None:
        eps = max((machine_eps(np.asarray(params[n]).dtype) for n in params), default=machine_eps(np.float64))
    theta_max = max((float(np.max(np.abs(np.real(params[n])))) for n in names if np.size(params[n])), default=1.0)
    v_max = max((float(np.max(np.abs(direction[n]))) for n in names), default=1.0)
    t = eps ** (1 / 3) * max(1.0, theta_max) / max(v_max, 1e-300)
    if f0 is None:
        f0 = float(np.real(_as_scalar(loss(params))))

    def at(s: float) -> float:
        p = dict(params)
        for n in names:
            base = np.asarray(params[n])
            p[n] = (base + s * np.asarray(direction[n])).astype(base.dtype, copy=False)
        return float(np.real(_as_scalar(loss(p))))

    fp, fm, fp2, fm2 = at(t), at(-t), at(t / 2), at(-t / 2)
    one = np.ones(1)
    return Differences("direction", np.zeros(1, dtype=np.intp), t * one, float(f0), fp * one, fm * one, fp2 * one,
                       fm2 * one, eps)


def error_curve(loss: Loss, params: Params, name: str, index: Any, hs: Sequence[float] | None = None,
                grad: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Error of central differences and Richardson against step size h, for one element (for the report's plot).

    The reference is the analytic ``grad[name][index]`` when ``grad`` is given, else the complex step when the loss
    is analytic, else Richardson at the chosen step. Returns ``h`` (decreasing), ``central_error``,
    ``richardson_error`` (absolute errors), ``complex_step_error`` (None when unavailable or itself the reference),
    ``chosen_h`` (the step the checker uses) and ``reference``. Truncation error falls with h, rounding error rises:
    the V shape of every finite-difference plot.
    """
    theta = np.asarray(params[name])
    flat = int(np.ravel_multi_index(index, theta.shape)) if isinstance(index, tuple) else int(index)
    if hs is None:
        hs = list(np.logspace(-1, -13, 25))
    hs_arr = np.asarray(hs, dtype=np.float64)
    n = hs_arr.size
    steps = np.concatenate([hs_arr, -hs_arr, hs_arr / 2, -hs_arr / 2])
    f = np.real(perturbed_losses(loss, params, name, np.full(4 * n, flat), steps)).astype(np.float64)
    d1 = (f[:n] - f[n:2 * n]) / (2 * hs_arr)
    d2 = (f[2 * n:3 * n] - f[3 * n:]) / hs_arr
    rich = (4 * d2 - d1) / 3
    chosen = differences(loss, params, name, [flat])
    cs = complex_step(loss, params, name, [flat])
    cs_value = None if cs is None else float(cs[0])
    if grad is not None:
        reference = float(np.real(np.asarray(grad[name]).reshape(-1)[flat]))
    elif cs_value is not None:
        reference = cs_value
    else:
        reference = float(chosen.richardson[0])
    cs_error = None if cs_value is None or grad is None else abs(cs_value - reference)
    return {
        "h": [float(v) for v in hs_arr],
        "central_error": [float(v) for v in np.abs(d1 - reference)],
        "richardson_error": [float(v) for v in np.abs(rich - reference)],
        "complex_step_error": cs_error,
        "chosen_h": float(chosen.h[0]),
        "reference": reference,
    }


def between_one_sided(analytic: np.ndarray, d: Any, *, margin: Any, gap: Any) -> np.ndarray:
    """Where ``analytic`` is a valid subgradient at a kink: the left and right one-sided derivatives of ``d`` (a
    :class:`Differences`) differ by more than ``gap``, and ``analytic`` lies between them,
    widened by ``margin`` on each side. Outside that interval a mismatch is a bug, not a kink."""
    plus, minus = d.plus_slope, d.minus_slope
    lo = np.minimum(plus, minus) - margin
    hi = np.maximum(plus, minus) + margin
    return (np.abs(plus - minus) > gap) & (analytic >= lo) & (analytic <= hi)
