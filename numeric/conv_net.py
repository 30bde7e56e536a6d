"""The hand-written reference for a :class:`~numeric.conv_spec.ConvNetSpec` and a
:class:`~numeric.rnn_spec.RnnSpec`: loss and gradients, the independent witness ``bpv verify`` compares the
generated kernel, the finite differences and torch with.

A convolutional net runs its stages in turn (:mod:`numeric.conv`, NCHW), each convolution followed by its
activation; after flatten, the dense layers (:class:`numeric.layers.Dense`, which works in the columns layout:
the rows-layout parameters are transposed on the way in and the gradients on the way out). BP1 comes from the cost's
registry entry, as for the dense net (:mod:`numeric.backprop`); the backward goes through every stage in reverse.
The recurrent net is :class:`numeric.rnn.RNN` itself (forward and BPTT).

Shares no code with the generated kernels and imports neither SymPy nor ``derive``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from numeric.conv import Conv2d
from numeric.conv_spec import ConvNetSpec
from numeric.errors import BadInput
from numeric.functions import TargetKind, log_sum_exp
from numeric.layers import Dense
from numeric.params import check_params
from numeric.rnn_spec import RnnSpec

__all__ = ["forward", "gradients", "init_params", "loss", "problem", "random_batch"]

Array = np.ndarray
SharedSpec = ConvNetSpec | RnnSpec


def _dtype(params: Mapping[str, Array], x: Array, y: Array) -> np.dtype:
    arrays = [*params.values(), x] + ([y] if np.issubdtype(y.dtype, np.inexact) else [])
    dt = np.result_type(*arrays)
    return dt if np.issubdtype(dt, np.inexact) else np.dtype(np.float64)


def _inputs(spec: ConvNetSpec, params: Mapping[str, Any], x: Any, y: Any) -> tuple[dict, Array, Array]:
    """Parameters, x (m, C, H, W) and y as one-hot columns (n_L, m), all in the working dtype."""
    p = check_params(spec, params)
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[1:] != spec.input_shape:
        raise BadInput(f"x has shape {x.shape}, expected {spec.x_shape(-1)[1:]} per sample: (m, C, H, W) = "
                       f"(m, {', '.join(map(str, spec.input_shape))})")
    m, n = x.shape[0], spec.n_out
    if m == 0:
        raise BadInput(f"x has shape {x.shape}: no samples (m = 0); a batch needs at least one")
    y = np.asarray(y)
    dtype = _dtype(p, x, y)
    classes = spec.cost_entry.target is TargetKind.CLASSES
    if classes and y.ndim == 1:
        if y.shape != (m,) or not np.issubdtype(y.dtype, np.integer):
            raise BadInput(f"integer labels must be an integer array of shape ({m},), got {y.dtype} {y.shape}")
        if y.size and (y.min() < 0 or y.max() >= n):
            raise BadInput(f"class labels must lie in 0..{n - 1}, got {y.min()}..{y.max()}")
        onehot = np.zeros((n, m), dtype=dtype)
        onehot[y, np.arange(m)] = 1
        y_cols = onehot
    elif y.shape != (m, n):
        extra = f" or integer labels of shape ({m},)" if classes else ""
        raise BadInput(f"y has shape {y.shape}, expected {(m, n)}{extra} (samples as rows)")
    else:
        y_cols = y.astype(dtype, copy=False).T
    return {k: v.astype(dtype, copy=False) for k, v in p.items()}, x.astype(dtype, copy=False), y_cols


def _own(layer: Any, p: Mapping[str, Array]) -> dict[str, Array]:
    """A layer's own parameters in the form its forward takes (a dense layer: the columns layout)."""
    own = {k: p[k] for k in layer.param_names()}
    return {k: v.T for k, v in own.items()} if isinstance(layer, Dense) else own


def _forward(spec: ConvNetSpec, p: Mapping[str, Array], x: Array) -> list[tuple]:
    """Every stage's ``(layer, cache)``; a convolution's cache is (z, a, its own cache)."""
    out = x
    caches: list[tuple] = []
    for layer in spec.layers:
        if isinstance(layer, Conv2d):
            z, cache = layer.forward(_own(layer, p), out)
            act = spec.conv_act(layer)
            out = act.entry.value(z, act.param)
            caches.append((layer, (z, out, cache)))
            continue
        if layer is spec.dense[0]:
            out = out.T  # flatten's (m, n), samples as rows, into the dense layers' columns layout, once
        out, cache = layer.forward(_own(layer, p), out)
        caches.append((layer, cache))
    return caches


def _output(caches: list[tuple]) -> tuple[Array, Array]:
    """z^L and a^L, (n_L, m), from the output layer's cache (a^{L-1}, z^L, a^L, ...)."""
    cache = caches[-1][1]
    return cache[1], cache[2]


def _scalar(v: Any) -> float | complex:
    v = np.asarray(v).item()
    return v if isinstance(v, complex) else float(v)


def forward(spec: SharedSpec, params: Mapping[str, Any], x: Any, *, h0: Any = None) -> Array:
    """The network's output: a^L (m, n_L), samples as rows; for the RNN, p_t for every step, (T, V, m)."""
    if isinstance(spec, RnnSpec):
        T, m = np.shape(x)
        _, (_, _, _, _, zs) = spec.cell.forward(check_params(spec, params), x, np.zeros((T, m), dtype=int), h0)
        return np.stack([np.exp(z - log_sum_exp(z)) for z in zs])
    p = check_params(spec, params)
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[1:] != spec.input_shape:
        raise BadInput(f"x has shape {x.shape}, expected (m, {', '.join(map(str, spec.input_shape))})")
    dtype = _dtype(p, x, np.zeros(0))
    return _output(_forward(spec, {k: v.astype(dtype, copy=False) for k, v in p.items()},
                            x.astype(dtype, copy=False)))[1].T


def loss(spec: SharedSpec, params: Mapping[str, Any], x: Any, y: Any, *, h0: Any = None) -> float | complex:
    """The cost C (mean or sum over the batch); complex for complex parameters (the complex step)."""
    if isinstance(spec, RnnSpec):
        return _scalar(spec.cell.loss(check_params(spec, params), x, y, h0))
    p, x, y_cols = _inputs(spec, params, x, y)
    z, a = _output(_forward(spec, p, x))
    total = np.sum(spec.cost_entry.per_sample(spec.output_activation, z, a, y_cols), axis=-1)
    return _scalar(total / x.shape[0] if spec.reduction == "mean" else total)


def gradients(spec: SharedSpec, params: Mapping[str, Any], x: Any, y: Any, *, h0: Any = None) -> dict[str, Array]:
    """dC/d(every parameter): BP1 at the output, then back through every stage (BPTT for the RNN)."""
    if isinstance(spec, RnnSpec):
        return spec.cell.gradients(check_params(spec, params), x, y, h0)
    p, x, y_cols = _inputs(spec, params, x, y)
    caches = _forward(spec, p, x)
    z, a = _output(caches)
    out = spec.layers[-1]
    g = spec.cost_entry.output_delta(out.activation, z, a, y_cols, out.act.param)  # BP1, per sample
    grads: dict[str, Array] = {}
    for layer, cache in reversed(caches):
        keep = layer is not spec.layers[0]  # no dC/dx for the data
        if isinstance(layer, Dense):
            step = layer.backward_from_delta if layer is out else layer.backward  # BP1 already includes f'
            g, own = step(_own(layer, p), g, cache, input_gradient=keep)
            grads.update({k: v.T for k, v in own.items()})  # back to the rows layout
            if layer is spec.dense[0]:
                g = g.T  # back to (m, n) for flatten
        elif isinstance(layer, Conv2d):
            z_l, a_l, own_cache = cache
            act = spec.conv_act(layer)
            delta = act.entry.backward(z_l, a_l, g, act.param)
            g, own = layer.backward(_own(layer, p), delta, own_cache, input_gradient=keep)
            grads.update(own)
        else:
            g, _ = layer.backward({}, g, cache, input_gradient=keep)
    scale = 1.0 / x.shape[0] if spec.reduction == "mean" else 1.0  # the 1/m of a mean, once, on the sums
    return {k: scale * grads[k] for k in spec.param_names()}


def init_params(spec: SharedSpec, rng: np.random.Generator, bias_scale: float = 0.5) -> dict[str, Array]:
    """Gaussian weights scaled by 1/sqrt(fan-in), Gaussian biases (no gradient is trivially 0)."""
    params = {}
    for name, shape in spec.param_shapes().items():
        if isinstance(spec, RnnSpec) or name.startswith("b"):
            params[name] = bias_scale * rng.standard_normal(shape)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
            params[name] = rng.standard_normal(shape) / np.sqrt(fan_in)
    return params


def random_batch(spec: SharedSpec, m: int, rng: np.random.Generator, labels: str = "onehot"
                 ) -> tuple[Array, Array]:
    """A batch of m samples: images (m, C, H, W) and classes, or token sequences (T, m) for the RNN."""
    if isinstance(spec, RnnSpec):
        return (rng.integers(0, spec.vocab, size=(spec.steps, m)),
                rng.integers(0, spec.vocab, size=(spec.steps, m)))
    x = rng.standard_normal(spec.x_shape(m))
    n = spec.n_out
    target = spec.cost_entry.target
    if target is TargetKind.CLASSES:
        classes = rng.integers(0, n, size=m)
        return x, (classes if labels == "int" else np.eye(n)[classes])
    if target is TargetKind.BINARY:
        return x, rng.integers(0, 2, size=(m, n)).astype(float)
    return x, rng.standard_normal((m, n))


def problem(spec: SharedSpec, params: Mapping[str, Any], x: Any, y: Any, *, h0: Any = None
            ) -> tuple[Callable, Callable, dict[str, Array]]:
    """``(loss, grad, params)`` for :func:`numeric.gradcheck` on one batch."""
    check_params(spec, params)

    def loss_fn(q: Mapping[str, Any]) -> float | complex:
        return loss(spec, q, x, y, h0=h0)

    def grad(q: Mapping[str, Any]) -> dict[str, Array]:
        return gradients(spec, q, x, y, h0=h0)

    return loss_fn, grad, dict(params)
