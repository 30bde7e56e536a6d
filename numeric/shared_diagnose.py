"""Named bugs of weight-sharing layers (convolution, max-pooling), each a hypothesis tested on the user's own layer.

The generic diagnoses (:mod:`numeric.diagnose`) read a wrong block as numbers: a factor, a mask, a transpose. The
classic convolution and pooling mistakes have none of those shapes, so for a CS231n-style layer
(:class:`numeric.layer_check.LayerProblem`: ``forward(x, w, b, conv_param) -> (out, cache)``, ``backward(dout,
cache)``) three experiments run the user's forward and backward at a seeded random ``dout`` and compare the
analytic gradient with finite differences of the user's forward at a changed point:

* **kernel not flipped**: for a 4-D input x (N, C, H, W) and a 4-D kernel w (F, C, kh, kw), the analytic dx equals
  the true dx of the forward at ``w[:, :, ::-1, ::-1]`` (dx is linear in w, so the unflipped full convolution is
  exactly that);
* **stride ignored in the backward**: with a ``{"stride": s}`` input (CS231n's ``conv_param``) or an integer input
  named ``stride`` (s > 1), the analytic gradients equal the true gradients of the forward at stride 1 with dout
  placed in the first Ho x Wo of its outputs (what a backward that neither dilates dout nor steps its windows by s
  computes);
* **max-pool routing to every element**: with a ``{"pool_height", "pool_width", "stride"}`` input (CS231n's
  ``pool_param``; 2 for a key left out), the forward is the window maximum (checked against the windows) and the
  analytic dx equals dout added to every element of its window.

Finite differences are taken at up to :data:`SAMPLE` elements of a block (all of them in small layers): a sample
that misses the difference only makes an experiment say nothing.

A finding requires the analytic gradient to differ from the true one *and* equal the named bug's, so a correct
layer is never named. What it is not: a proof about the code; it is the bug's gradient reproduced to rounding.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from numeric.hypotheses import Finding, agrees, as_float, true_gradient
from numeric.layer_check import LayerProblem

__all__ = ["LayerRun", "layer_findings", "max_pool_routed_to_all", "stride_ignored", "unflipped_kernel"]

Array = np.ndarray
#: elements of an input at which the experiments take finite differences (all of them up to this size)
SAMPLE = 64


def _is_float_array(v: Any) -> bool:
    return isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating)


def _positional_names(fn: Callable, n: int) -> list[str]:
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params[:n]]
    return names + [f"arg{i}" for i in range(len(names), n)]


@dataclass
class LayerRun:
    """A one-output layer called by the experiments: the forward at chosen inputs, the backward at a chosen dout.

    The input names are those :func:`numeric.check_layer` gives its rows (dict keys, else ``forward``'s parameter
    names), so a finding names the rows it explains.
    """

    problem: LayerProblem
    names: list[str]
    values: dict[str, Any]
    keyword: bool

    @classmethod
    def of(cls, problem: LayerProblem) -> LayerRun:
        inputs = problem.inputs
        keyword = isinstance(inputs, Mapping)
        names = [str(k) for k in inputs] if keyword else _positional_names(problem.forward, len(inputs))
        given = list(inputs.values()) if keyword else list(inputs)
        own = [np.array(v, copy=True) if isinstance(v, np.ndarray) else v for v in given]  # the user's never move
        return cls(problem, names, dict(zip(names, own, strict=True)), keyword)

    @property
    def wrt(self) -> list[str]:
        if self.problem.wrt is not None:
            return [str(w) for w in self.problem.wrt]
        return [n for n in self.names if _is_float_array(self.values[n])]

    def forward(self, values: Mapping[str, Any]) -> tuple[Array, Any, bool]:
        """``(out, cache, has_cache)``; a ValueError for a layer with several outputs (no experiment fits it)."""
        args = [values[n] for n in self.names]
        got = self.problem.forward(**dict(zip(self.names, args, strict=True))) if self.keyword else \
            self.problem.forward(*args)
        if isinstance(got, tuple | list):
            if len(got) != 2:
                raise ValueError("not a one-output layer")
            return np.asarray(got[0]), got[1], True
        return np.asarray(got), None, False

    def backward(self, dout: Array, values: Mapping[str, Any]) -> dict[str, Array]:
        """The user's gradients at ``values`` and ``dout``, by input name (those that are float arrays)."""
        _, cache, has_cache = self.forward(values)
        got = self.problem.backward(dout.copy(), cache) if has_cache else self.problem.backward(dout.copy())
        if isinstance(got, Mapping):
            pairs = [(str(k), v) for k, v in got.items()]
        else:
            got = (got,) if isinstance(got, np.ndarray) else tuple(got)
            floats = [n for n in self.names if _is_float_array(self.values[n])]
            order = self.wrt if len(got) == len(self.wrt) else floats
            pairs = list(zip(order, got, strict=False))
        return {n: a for n, v in pairs if (a := as_float(v)) is not None}

    def loss(self, dout: Array, values: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], Any]:
        """``p -> sum(dout * forward(values with p's entries))``: its gradient is what backward(dout) must give."""
        return lambda p: np.sum(dout * self.forward({**values, **p})[0])

    def gradient(self, dout: Array, values: Mapping[str, Any], name: str) -> tuple[Array, Array, Array]:
        """The true gradient of ``name`` (flattened, at a sample of at most :data:`SAMPLE` elements), its error
        estimate, and the flat indices."""
        size = int(np.size(values[name]))
        flat = np.arange(size) if size <= SAMPLE else np.random.default_rng(size).choice(size, SAMPLE, replace=False)
        r, e = true_gradient(self.loss(dout, values), {name: np.array(values[name], copy=True)}, name, flat)
        return r, e, flat


def _named_bug(run: LayerRun, dout: Array, name: str, analytic: Array, bug_values: Mapping[str, Any],
               bug_dout: Array | None = None) -> bool:
    """True when the analytic gradient of ``name`` is not the true one and is the true one of the changed point."""
    true, err, flat = run.gradient(dout, run.values, name)
    g = analytic.reshape(-1)[flat]
    if agrees(g, true, err):
        return False
    bug, bug_err, _ = run.gradient(dout if bug_dout is None else bug_dout, bug_values, name)
    return agrees(g, bug, bug_err)


def unflipped_kernel(run: LayerRun, wrong: set[str], rng: np.random.Generator) -> Finding | None:
    """dx computed with the kernel as it is: the analytic dx is the true dx of the forward at the flipped kernel."""
    four = [n for n in run.names if _is_float_array(run.values[n]) and run.values[n].ndim == 4]
    for x in (n for n in four if n in wrong):
        for w in (n for n in four if n != x and run.values[n].shape[1] == run.values[x].shape[1]):
            kernel = run.values[w]
            if kernel.shape[2] > run.values[x].shape[2] + 2 or np.array_equal(kernel, kernel[:, :, ::-1, ::-1]):
                continue
            out, _, _ = run.forward(run.values)
            dout = rng.standard_normal(out.shape)
            analytic = run.backward(dout, run.values).get(x)
            flipped = {**run.values, w: np.ascontiguousarray(kernel[:, :, ::-1, ::-1])}
            if analytic is not None and analytic.shape == run.values[x].shape and \
                    _named_bug(run, dout, x, analytic, flipped):
                return Finding((x,), (
                    f"d{x} computed with the kernel not flipped: at a random dout, the analytic d{x} equals the true "
                    f"d{x} of your forward with {w} flipped in space ({w}[:, :, ::-1, ::-1]) and differs from the "
                    f"true d{x} (both by finite differences of your forward); the input gradient of a "
                    "cross-correlation is the full convolution of dout with the flipped kernel"))
    return None


def _stride_input(run: LayerRun) -> tuple[str, int, dict[str, Any]] | None:
    """(where the stride is written, its value, the inputs with stride 1): a ``conv_param``-style dict's
    ``"stride"``, or an integer input named ``stride``."""
    for n in run.names:
        v = run.values[n]
        if isinstance(v, Mapping) and isinstance(v.get("stride"), int | np.integer) and v["stride"] > 1:
            return f"{n}['stride']", int(v["stride"]), {**run.values, n: {**v, "stride": 1}}
        if n == "stride" and isinstance(v, int | np.integer) and not isinstance(v, bool) and v > 1:
            return n, int(v), {**run.values, n: 1}
    return None


def stride_ignored(run: LayerRun, wrong: set[str], rng: np.random.Generator) -> Finding | None:
    """A backward that assumes stride 1: its gradients are the stride-1 forward's, dout in the corner of its output."""
    found = _stride_input(run)
    if found is None:
        return None
    where, s, at_one = found
    out, _, _ = run.forward(run.values)
    out1, _, _ = run.forward(at_one)
    if out1.ndim != out.ndim or any(a < b for a, b in zip(out1.shape, out.shape, strict=True)):
        return None
    dout = rng.standard_normal(out.shape)
    corner = np.zeros(out1.shape)
    corner[tuple(slice(0, n) for n in out.shape)] = dout
    analytic = run.backward(dout, run.values)
    names = tuple(n for n in run.wrt if n in wrong and n in analytic and analytic[n].shape == np.shape(run.values[n])
                  and _named_bug(run, dout, n, analytic[n], at_one, corner))
    if not names:
        return None
    one = len(names) == 1
    grads = " and ".join(f"d{n}" for n in names)
    size = "x".join(str(n) for n in out.shape[2:]) or "same-size"
    return Finding(names, (
        f"the backward ignores the stride ({where} = {s}): at a random dout, the analytic {grads} "
        f"{'equals the true gradient' if one else 'equal the true gradients'} of your forward at stride 1 with dout "
        f"in its first {size} outputs, and {'differs from the true one' if one else 'differ from the true ones'} at "
        f"stride {s} (both by finite differences of your forward); dilate dout by the stride ({s - 1} "
        f"zero{'' if s == 2 else 's'} between entries) for dx, and step dw's input windows by {s}"))


POOL_KEYS = {"pool_height", "pool_width", "stride"}


def _pool_geometry(run: LayerRun) -> tuple[int, int, int] | None:
    """(kh, kw, s) from a CS231n ``pool_param`` input (2 where a key is left out, as a 2x2 pool at stride 2 has)."""
    for n in run.names:
        v = run.values[n]
        if isinstance(v, Mapping) and set(map(str, v)) <= POOL_KEYS and (set(v) - {"stride"} or
                                                                              len(run.wrt) == 1):
            kh = int(v.get("pool_height", 2))
            return kh, int(v.get("pool_width", kh)), int(v.get("stride", 2))
    return None


def _windows(x: Array, kh: int, kw: int, s: int) -> tuple[list[tuple[int, int]], int, int]:
    Ho, Wo = (x.shape[2] - kh) // s + 1, (x.shape[3] - kw) // s + 1
    return [(u, v) for u in range(kh) for v in range(kw)], Ho, Wo


def max_pool_routed_to_all(run: LayerRun, wrong: set[str], rng: np.random.Generator) -> Finding | None:
    """Max-pool's backward giving every element of a window the window's dout (the backward of a sum-pool)."""
    geometry = _pool_geometry(run)
    fours = [n for n in run.names if _is_float_array(run.values[n]) and run.values[n].ndim == 4]
    if geometry is None or len(fours) != 1 or fours[0] not in wrong:
        return None
    (kh, kw, s), x = geometry, fours[0]
    offsets, Ho, Wo = _windows(run.values[x], kh, kw, s)
    view = [run.values[x][:, :, u:u + s * Ho:s, v:v + s * Wo:s] for u, v in offsets]
    out, _, _ = run.forward(run.values)
    if out.shape != view[0].shape or not np.allclose(out, np.max(np.stack(view), axis=0), rtol=1e-12, atol=0.0):
        return None  # not a max over these windows: the hypothesis does not apply
    dout = rng.standard_normal(out.shape)
    analytic = run.backward(dout, run.values).get(x)
    if analytic is None or analytic.shape != run.values[x].shape:
        return None
    spread = np.zeros(run.values[x].shape)
    for u, v in offsets:
        spread[:, :, u:u + s * Ho:s, v:v + s * Wo:s] += dout
    true, err, flat = run.gradient(dout, run.values, x)
    g = analytic.reshape(-1)[flat]
    if agrees(g, true, err) or not agrees(g, spread.reshape(-1)[flat], 0.0):
        return None
    return Finding((x,), (
        f"max-pool routes the gradient to every element of its window: your forward is the maximum over {kh}x{kw} "
        f"windows at stride {s} (checked), and at a random dout the analytic d{x} equals dout added to all "
        f"{kh * kw} elements of each window and differs from the true d{x} (by finite differences of your forward); "
        "only each window's (first) maximum gets its dout"))


EXPERIMENTS = (unflipped_kernel, stride_ignored, max_pool_routed_to_all)


def layer_findings(problem: LayerProblem, wrong: set[str], seed: int = 0) -> list[Finding]:
    """The experiments that fit ``problem`` and whose hypothesis held, for the inputs in ``wrong``.

    An experiment whose user call raises, or that does not fit the layer (several outputs, no kernel), says nothing.
    """
    if not wrong:
        return []
    try:
        run = LayerRun.of(problem)
    except (TypeError, ValueError):
        return []
    found = []
    for experiment in EXPERIMENTS:
        try:
            finding = experiment(run, wrong, np.random.default_rng([seed, 14]))
        except (Exception, SystemExit):  # the user's code at a point it was not written for: no evidence
            finding = None
        if finding is not None:
            found.append(finding)
    return found
