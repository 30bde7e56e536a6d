"""The hand-written reference backprop: forward pass, loss and gradients for any :class:`ModelSpec`.

This is bpv's independent witness, written by hand from the maths (BP1-BP4, vectorised over the batch, with
Nielsen's names ``zs``, ``activations``, ``delta``, ``nabla_w``, ``nabla_b``). It shares no code with the generated
kernels in :mod:`numeric.kernels` and does not import SymPy or :mod:`derive`.

What it is:

* every spec: both layouts, both reductions, biases on or off, one-hot or integer labels for cce;
* **stable**: no overflow for ``|z| <= 1e3`` (sigmoid through tanh, softplus and elu branch on the sign, bce is
  fused with a sigmoid output and cce with a softmax output and computed from ``z`` with log-sum-exp);
* **analytic**, so the complex step works through it: every branch is a mask on ``z.real``; no ``np.abs``,
  ``np.maximum``, ``np.clip`` or ``np.logaddexp`` touches complex data (DESIGN.md lists the traps; for real data
  softplus takes the same two branches as ``max(z, 0) + log1p(exp(-|z|))``, which is faster). float64, float32 and
  complex128 inputs all work (the complex step perturbs with ``1e-20j``).

What it is not: fast for training (it keeps every layer's ``z`` and ``a``), or a general autodiff.

Internally everything runs in the columns layout (samples are columns, ``W^l`` is ``(n_l, n_{l-1})``); the rows layout
is transposed on the way in and out, which is exactly what its convention is (DESIGN.md § Conventions).

>>> import numpy as np
>>> from numeric.spec import ModelSpec
>>> from numeric.instances import init_params, random_batch
>>> spec = ModelSpec.build("4-3-1", "sigmoid", "bce")
>>> rng = np.random.default_rng(0)
>>> params = init_params(spec, rng); x, y = random_batch(spec, 5, rng)
>>> sorted(gradients(spec, params, x, y)) == sorted(params)
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from numeric.errors import BadInput
from numeric.spec import ModelSpec

__all__ = [
    "SpecLoss",
    "forward",
    "forward_cache",
    "gradients",
    "loss",
    "problem",
]

Array = np.ndarray


# ----- activations: value sigma(z) and derivative sigma'(z) from z and the forward value a ------------------------
# Every branch is a mask on z.real, so the functions stay analytic for the complex step.


def _mask_apply(z: Array, pos: Callable[[Array], Array], neg: Callable[[Array], Array]) -> Array:
    """``pos(z)`` where ``z.real > 0`` and ``neg(z)`` elsewhere, each evaluated only on its own elements."""
    out = np.empty_like(z)
    m = z.real > 0
    out[m] = pos(z[m])
    out[~m] = neg(z[~m])
    return out


def _sigmoid(z: Array) -> Array:
    # (1 + tanh(z/2)) / 2: the logistic function with one transcendental, analytic, and without overflow for real
    # or complex z (NumPy's complex tanh saturates cleanly, so the complex step still gets sech^2(z/2)/4 from the
    # imaginary part). Its absolute error is below 2.3e-16; tiny values lose relative precision, and nothing here
    # divides by them (bce with a sigmoid output is fused and computed from z).
    out = np.tanh(0.5 * z)
    out *= 0.5
    out += 0.5
    return out


def _softplus(z: Array) -> Array:
    # ln(1+e^z) = z + ln(1+e^-z) for z > 0, ln(1+e^z) elsewhere.
    if not np.iscomplexobj(z):  # the same two branches for real data: max(z, 0) + ln(1 + e^-|z|)
        return (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))).astype(z.dtype, copy=False)
    return _mask_apply(z, lambda t: t + np.log1p(np.exp(-t)), lambda t: np.log1p(np.exp(t)))


def _real_mask(z: Array, inside: float, outside: float) -> Array:
    """``inside`` where ``z.real > 0``, ``outside`` elsewhere, in z's real dtype (ReLU'(0) = 0 convention)."""
    real = z.real.dtype.type
    return np.where(z.real > 0, real(inside), real(outside))


def _log_sum_exp(z: Array, axis: int = -2) -> Array:
    """ln sum_j e^{z_j} over the units, shifted by the real maximum (a real constant: stays analytic)."""
    c = np.max(z.real, axis=axis, keepdims=True)
    return c + np.log(np.sum(np.exp(z - c), axis=axis, keepdims=True))


def _softmax(z: Array) -> Array:
    c = np.max(z.real, axis=-2, keepdims=True)
    e = np.exp(z - c)
    return e / np.sum(e, axis=-2, keepdims=True)


#: name -> (sigma(z, p), sigma'(z, a, p)); the derivative may use the forward value a = sigma(z).
ACTIVATION_RULES: dict[str, tuple[Callable[..., Array], Callable[..., Array] | None]] = {
    "identity": (lambda z, p: z, lambda z, a, p: np.ones_like(z.real)),
    "sigmoid": (lambda z, p: _sigmoid(z), lambda z, a, p: a * (1.0 - a)),
    "tanh": (lambda z, p: np.tanh(z), lambda z, a, p: 1.0 - a * a),
    "relu": (lambda z, p: z * _real_mask(z, 1.0, 0.0), lambda z, a, p: _real_mask(z, 1.0, 0.0)),
    "leaky_relu": (lambda z, p: z * _real_mask(z, 1.0, p), lambda z, a, p: _real_mask(z, 1.0, p)),
    "softplus": (lambda z, p: _softplus(z), lambda z, a, p: _sigmoid(z)),
    "elu": (
        lambda z, p: _mask_apply(z, lambda t: t, lambda t: p * np.expm1(t)),
        lambda z, a, p: _mask_apply(z, lambda t: np.ones_like(t), lambda t: p * np.exp(t)),
    ),
    "softmax": (lambda z, p: _softmax(z), None),  # not element-wise: its Jacobian is applied in _output_delta
}


def _act(spec: ModelSpec, l: int, z: Array) -> Array:
    act = spec.activations[l - 1]
    return ACTIVATION_RULES[act.name][0](z, act.param)


def _act_prime(spec: ModelSpec, l: int, z: Array, a: Array) -> Array:
    act = spec.activations[l - 1]
    fprime = ACTIVATION_RULES[act.name][1]
    assert fprime is not None, "softmax is an output activation only (the spec forbids it in hidden layers)"
    return fprime(z, a, act.param)


# ----- costs: per-sample cost C_x summed over the output units (axis -2), and dC_x/da --------------------------------


def _cost_per_sample(spec: ModelSpec, z: Array, a: Array, y: Array) -> Array:
    """C_x for every sample (last axis), computed stably from z where the output activation allows."""
    out = spec.activations[-1].name
    n = spec.sizes[-1]
    if spec.cost == "quadratic":
        return 0.5 * np.sum((a - y) ** 2, axis=-2)
    if spec.cost == "squared":
        return np.sum((a - y) ** 2, axis=-2)
    if spec.cost == "mse":
        return np.sum((a - y) ** 2, axis=-2) / n
    if spec.cost == "cce":  # softmax output (the spec enforces it): -sum_j y_j (z_j - lse(z))
        return np.sum(y * (_log_sum_exp(z) - z), axis=-2)
    if spec.cost == "bce":
        if out == "sigmoid":  # -[y ln s(z) + (1-y) ln(1-s(z))] = softplus(z) - y z
            return np.sum(_softplus(z) - y * z, axis=-2)
        log_a = z - _log_sum_exp(z) if out == "softmax" else np.log(a)
        return -np.sum(y * log_a + (1.0 - y) * np.log1p(-a), axis=-2)
    raise AssertionError(f"unknown cost {spec.cost}")


def _cost_da(spec: ModelSpec, a: Array, y: Array) -> Array:
    """dC_x/da for the costs that are not fused with their output activation."""
    n = spec.sizes[-1]
    if spec.cost == "quadratic":
        return a - y
    if spec.cost == "squared":
        return 2.0 * (a - y)
    if spec.cost == "mse":
        return 2.0 * (a - y) / n
    if spec.cost == "bce":
        return (a - y) / (a * (1.0 - a))
    raise AssertionError(f"cost {spec.cost} has no unfused derivative here")


def _output_delta(spec: ModelSpec, z: Array, a: Array, y: Array) -> Array:
    """BP1: delta^L = dC_x/dz^L per sample (unscaled by the batch reduction)."""
    out = spec.activations[-1].name
    if spec.cost == "cce":  # softmax + cce fused: a * sum_j y_j - y (= a - y for one-hot y)
        return a * np.sum(y, axis=-2, keepdims=True) - y
    if spec.cost == "bce" and out == "sigmoid":  # sigmoid + bce fused
        return a - y
    grad_a = _cost_da(spec, a, y)
    if out == "softmax":  # Jacobian-vector product of softmax: a * (g - sum_j a_j g_j)
        return a * (grad_a - np.sum(a * grad_a, axis=-2, keepdims=True))
    return grad_a * _act_prime(spec, spec.L, z, a)


# ----- validation and layout --------------------------------------------------------------------------------------


def _check_params(spec: ModelSpec, params: Mapping[str, Any]) -> None:
    if not isinstance(params, Mapping):
        raise BadInput(f"params must be a dict of arrays with keys {', '.join(spec.param_names())}, "
                       f"got {type(params).__name__}")
    shapes = spec.param_shapes()
    missing = [k for k in shapes if k not in params]
    extra = [k for k in params if k not in shapes]
    if missing or extra:
        what = []
        if missing:
            what.append(f"missing {', '.join(missing)}")
        if extra:
            what.append(f"unexpected {', '.join(map(str, extra))}" + (" (the spec has no biases)" if
                                                                    not spec.bias else ""))
        raise BadInput(f"params for {spec.title}: {'; '.join(what)}; expected keys {', '.join(shapes)}")
    for k, shape in shapes.items():
        got = np.shape(params[k])
        if got != shape:
            raise BadInput(f"parameter {k} has shape {got}, expected {shape} ({spec.layout} layout, "
                           f"net {spec.net})")


def _batch_size(spec: ModelSpec, x: Array) -> int:
    if x.ndim != 2:
        raise BadInput(f"x must be 2-D with shape {spec.x_shape(-1)} (m = batch size), got shape {x.shape}")
    m = x.shape[1] if spec.layout == "columns" else x.shape[0]
    if x.shape != spec.x_shape(m):
        raise BadInput(f"x has shape {x.shape}, expected {spec.x_shape(m)} for net {spec.net}, {spec.layout} "
                       f"layout (n_0 = {spec.sizes[0]})")
    return m


def _targets_columns(spec: ModelSpec, y: Any, m: int, dtype: np.dtype) -> Array:
    """y in the columns layout (n_L, m), integer cce labels turned into one-hot columns."""
    y = np.asarray(y)
    n = spec.sizes[-1]
    if spec.cost == "cce" and y.ndim == 1:
        if y.shape != (m,) or not np.issubdtype(y.dtype, np.integer):
            raise BadInput(f"integer labels for cce must be an integer array of shape ({m},), got "
                           f"{y.dtype} {y.shape}; or give one-hot targets of shape {spec.y_shape(m)}")
        if y.size and (y.min() < 0 or y.max() >= n):
            raise BadInput(f"class labels must lie in 0..{n - 1} (n_L = {n}), got {y.min()}..{y.max()}")
        onehot = np.zeros((n, m), dtype=dtype)
        onehot[y, np.arange(m)] = 1
        return onehot
    if y.shape != spec.y_shape(m):
        extra = f" or integer labels of shape ({m},)" if spec.cost == "cce" else ""
        raise BadInput(f"y has shape {y.shape}, expected {spec.y_shape(m)}{extra} ({spec.layout} layout)")
    y = y.astype(dtype, copy=False)
    return y if spec.layout == "columns" else y.T


def _working_dtype(params: Mapping[str, Any], x: Array, y: Any) -> np.dtype:
    arrays = [np.asarray(v) for v in params.values()] + [x]
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.inexact):
        arrays.append(y)
    dt = np.result_type(*arrays)
    return dt if np.issubdtype(dt, np.inexact) else np.dtype(np.float64)


class _Columns:
    """Parameters, inputs and targets of one call, in the columns layout and the working dtype."""

    def __init__(self, spec: ModelSpec, params: Mapping[str, Any], x: Any, y: Any = None):
        _check_params(spec, params)
        x = np.asarray(x)
        self.m = _batch_size(spec, x)
        self.dtype = _working_dtype(params, x, y if y is not None else x)
        cols = spec.layout == "columns"
        self.Ws: list[Array] = []
        self.bs: list[Array | None] = []
        for l in range(1, spec.L + 1):
            W = np.asarray(params[f"W{l}"], dtype=self.dtype)
            self.Ws.append(W if cols else W.T)
            if spec.bias:
                b = np.asarray(params[f"b{l}"], dtype=self.dtype)
                self.bs.append(b if cols else b.T)
            else:
                self.bs.append(None)
        xd = x.astype(self.dtype, copy=False)
        self.x = xd if cols else xd.T
        self.y = None if y is None else _targets_columns(spec, y, self.m, self.dtype)


def _forward_columns(spec: ModelSpec, c: _Columns) -> tuple[list[Array], list[Array]]:
    """z^l = W^l a^{l-1} + b^l, a^l = sigma(z^l); returns (zs, activations) with activations[0] = x."""
    activation = c.x
    zs: list[Array] = []
    activations = [activation]
    for l, (W, b) in enumerate(zip(c.Ws, c.bs, strict=True), start=1):
        z = W @ activation
        if b is not None:
            z = z + b
        zs.append(z)
        activation = _act(spec, l, z)
        activations.append(activation)
    return zs, activations


def _reduce(spec: ModelSpec, per_sample: Array, m: int) -> Array:
    total = np.sum(per_sample, axis=-1)
    return total / m if spec.reduction == "mean" else total


def _scalar(v: Array) -> float | complex:
    v = v.item()
    return v if isinstance(v, complex) else float(v)


# ----- public API ------------------------------------------------------------------------------------------------


def forward_cache(spec: ModelSpec, params: Mapping[str, Any], x: Any) -> tuple[list[Array], list[Array]]:
    """Forward pass keeping every layer: ``(zs, activations)``.

    ``zs[l-1]`` is z^l and ``activations[l]`` is a^l, with ``activations[0] = x``; shapes follow the spec's layout
    (``(n_l, m)`` for columns, ``(m, n_l)`` for rows).
    """
    c = _Columns(spec, params, x)
    zs, activations = _forward_columns(spec, c)
    if spec.layout == "rows":
        zs = [z.T for z in zs]
        activations = [np.asarray(x)] + [a.T for a in activations[1:]]
    else:
        activations[0] = np.asarray(x)
    return zs, activations


def forward(spec: ModelSpec, params: Mapping[str, Any], x: Any) -> Array:
    """The network's output a^L, ``(n_L, m)`` (columns) or ``(m, n_L)`` (rows)."""
    return forward_cache(spec, params, x)[1][-1]


def loss(spec: ModelSpec, params: Mapping[str, Any], x: Any, y: Any) -> float | complex:
    """The cost C: the per-sample costs averaged (``mean``) or summed over the batch. complex for complex input."""
    c = _Columns(spec, params, x, y)
    zs, activations = _forward_columns(spec, c)
    return _scalar(_reduce(spec, _cost_per_sample(spec, zs[-1], activations[-1], c.y), c.m))


def gradients(spec: ModelSpec, params: Mapping[str, Any], x: Any, y: Any) -> dict[str, Array]:
    """dC/dW^l and dC/db^l by BP1-BP4, vectorised over the batch; keys and shapes as ``params``.

    BP1 delta^L = dC_x/da^L * sigma'(z^L) (fused with the cost for sigmoid+bce and softmax+cce: a - y);
    BP2 delta^l = ((W^{l+1})^T delta^{l+1}) * sigma'(z^l); BP3 dC/db^l = mean (or sum) of the per-sample delta^l;
    BP4 dC/dW^l = delta^l (a^{l-1})^T, averaged (or summed) over the batch. The 1/m is applied once, to the sums.
    """
    c = _Columns(spec, params, x, y)
    zs, activations = _forward_columns(spec, c)
    scale = 1.0 / c.m if spec.reduction == "mean" else 1.0
    L = spec.L
    nabla_w: list[Array] = [np.empty(0)] * L
    nabla_b: list[Array] = [np.empty(0)] * L
    # Nielsen's indexing: position -1 is the last layer, -l the l-th from the end.
    delta = _output_delta(spec, zs[-1], activations[-1], c.y)  # BP1, (n_L, m)
    nabla_w[-1] = scale * (delta @ activations[-2].T)  # BP4
    nabla_b[-1] = scale * np.sum(delta, axis=1, keepdims=True)  # BP3
    for l in range(2, L + 1):
        z = zs[-l]
        sp = _act_prime(spec, L - l + 1, z, activations[-l])
        delta = (c.Ws[-l + 1].T @ delta) * sp  # BP2 (a plain transpose, never a conjugate)
        nabla_w[-l] = scale * (delta @ activations[-l - 1].T)
        nabla_b[-l] = scale * np.sum(delta, axis=1, keepdims=True)
    grads: dict[str, Array] = {}
    cols = spec.layout == "columns"
    for l in range(1, L + 1):
        grads[f"W{l}"] = nabla_w[l - 1] if cols else nabla_w[l - 1].T
        if spec.bias:
            grads[f"b{l}"] = nabla_b[l - 1] if cols else nabla_b[l - 1].T
    return grads


# ----- many perturbed losses in one call (for the vectorised exhaustive check) -----------------------------------


def _unit_and_input(spec: ModelSpec, name: str, flat: Array) -> tuple[int, Array, Array | None]:
    """Layer l, output unit j and input unit k (None for a bias) of flat indices into parameter ``name``."""
    if not (isinstance(name, str) and name[:1] in "Wb" and name[1:].isdigit()):
        raise BadInput(f"{name!r} is not a parameter of {spec.title}; parameters: {', '.join(spec.param_names())}")
    l = int(name[1:])
    if name not in spec.param_shapes():
        raise BadInput(f"{name!r} is not a parameter of {spec.title}; parameters: {', '.join(spec.param_names())}")
    n_in, n_out = spec.sizes[l - 1], spec.sizes[l]
    if name[0] == "b":
        return l, flat, None
    if spec.layout == "columns":  # W is (n_out, n_in)
        j, k = np.divmod(flat, n_in)
    else:  # W is (n_in, n_out)
        k, j = np.divmod(flat, n_out)
    return l, j, k


class SpecLoss:
    """``loss(params) -> C`` for a fixed batch, plus ``perturbed`` for many one-element perturbations at once.

    ``perturbed(params, name, flat, steps)`` returns the losses at ``params`` with element ``flat[p]`` of
    ``params[name]`` moved by ``steps[p]`` (real or complex), for every p, without a Python loop: a change of
    W^l_{jk} or b^l_j only changes row j of z^l, so layer l+1 gets a rank-one update and the later layers run batched
    over the perturbations (leading axis). ``batch_size`` is m (the gradient checker names a 1/m factor with it).
    """

    def __init__(self, spec: ModelSpec, x: Any, y: Any):
        self.spec, self.x, self.y = spec, x, y
        self.batch_size = _batch_size(spec, np.asarray(x))

    def __call__(self, params: Mapping[str, Any]) -> float | complex:
        return loss(self.spec, params, self.x, self.y)

    def perturbed(self, params: Mapping[str, Any], name: str, flat: Any, steps: Any, chunk: int | None = None
                  ) -> Array:
        spec = self.spec
        flat = np.asarray(flat, dtype=np.intp).ravel()
        steps = np.asarray(steps).ravel()
        if flat.shape != steps.shape:
            raise BadInput(f"perturbed: {flat.size} indices but {steps.size} steps")
        c = _Columns(spec, params, self.x, self.y)
        size = int(np.prod(spec.param_shapes()[name])) if name in spec.param_shapes() else 0
        if flat.size and (flat.min() < 0 or flat.max() >= size):
            raise BadInput(f"perturbed: flat indices into {name} must lie in 0..{size - 1}")
        zs, activations = _forward_columns(spec, c)
        l, j, k = _unit_and_input(spec, name, flat)
        widest = max(spec.sizes[min(l + 1, spec.L):])  # the stacked arrays start at z^{l+1} (z^L if l = L)
        if chunk is None:
            chunk = max(1, int(100_000 // max(1, widest * c.m)))  # a stack small enough to stay in cache
        out = []
        for s in range(0, flat.size, chunk):
            sl = slice(s, s + chunk)
            out.append(self._perturbed_chunk(c, zs, activations, l, j[sl], None if k is None else k[sl],
                                             steps[sl]))
        dtype = np.result_type(c.dtype, steps.dtype)
        return np.concatenate(out) if out else np.empty(0, dtype=dtype)

    def _perturbed_chunk(self, c: _Columns, zs: list[Array], activations: list[Array], l: int, j: Array,
                         k: Array | None, steps: Array) -> Array:
        spec = self.spec
        L = spec.L
        P = steps.size
        # the change of row j of z^l, one row per perturbation: (P, m)
        dz = steps[:, None] * (activations[l - 1][k] if k is not None else np.ones((1, c.m), dtype=c.dtype))
        if l == L:
            z = np.repeat(zs[-1][None], P, axis=0).astype(np.result_type(zs[-1], dz))
            z[np.arange(P), j, :] += dz
        else:
            a_j = _act(spec, l, zs[l - 1][j] + dz)  # element-wise activation of the changed rows only
            da = a_j - activations[l][j]
            # z^{l+1} + W^{l+1}[:, j] (outer) da, a rank-one update per perturbation: (P, n_{l+1}, m)
            z = zs[l][None] + c.Ws[l][:, j].T[:, :, None] * da[:, None, :]
            for layer in range(l + 2, L + 1):
                a = _act(spec, layer - 1, z)
                z = _stacked_matmul(c.Ws[layer - 1], a)
                if c.bs[layer - 1] is not None:
                    z = z + c.bs[layer - 1]
        a = _act(spec, L, z)
        return _reduce(spec, _cost_per_sample(spec, z, a, c.y), c.m)


def _stacked_matmul(W: Array, a: Array) -> Array:
    """W @ a[p] for every p of a stack a (P, n, m), as one matrix product (n_out, n) x (n, P*m)."""
    P, n, m = a.shape
    flat = np.ascontiguousarray(a.transpose(1, 0, 2)).reshape(n, P * m)
    return (W @ flat).reshape(W.shape[0], P, m).transpose(1, 0, 2)


def problem(spec: ModelSpec, params: Mapping[str, Any], x: Any, y: Any
            ) -> tuple[SpecLoss, Callable[[Mapping[str, Any]], dict[str, Array]], dict[str, Array]]:
    """``(loss, grad, params)`` for :func:`numeric.gradcheck` from a spec and one batch.

    ``loss`` is a :class:`SpecLoss` (so the exhaustive check is vectorised and a 1/m factor is named); ``grad`` is
    this module's :func:`gradients` on the same batch.
    """
    _check_params(spec, params)
    loss_fn = SpecLoss(spec, x, y)

    def grad(p: Mapping[str, Any]) -> dict[str, Array]:
        return gradients(spec, p, x, y)

    return loss_fn, grad, dict(params)
