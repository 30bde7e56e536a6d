"""The hand-written reference backprop: forward pass, loss and gradients for any :class:`ModelSpec`.

This is bpv's independent witness, written by hand from the maths (BP1-BP4, vectorised over the batch, with
Nielsen's names ``zs``, ``activations``, ``delta``): a forward pass through every layer of ``spec.layers``
(:mod:`numeric.layers`), BP1 from the cost's registry entry, then each layer's backward. The activations and costs
are the NumPy entries of :mod:`numeric.functions`. It shares no code with the generated kernels in
:mod:`numeric.kernels` (printed from the SymPy derivation) and does not import SymPy or :mod:`derive`.

What it is:

* every spec: both layouts, both reductions, biases on or off, one-hot or integer labels for cce;
* **stable**: no overflow for ``|z| <= 1e3`` (sigmoid through tanh, softplus and elu branch on the sign, bce is
  fused with a sigmoid output and cce with a softmax output and computed from ``z`` with log-sum-exp);
* **analytic**, so the complex step works through it: every branch is a mask on ``z.real``; no ``np.abs``,
  ``np.maximum``, ``np.clip`` or ``np.logaddexp`` touches complex data (docs/conventions.md lists the traps; for real
  data softplus takes the same two branches as ``max(z, 0) + log1p(exp(-|z|))``, which is faster). float64, float32 and
  complex128 inputs all work (the complex step perturbs with ``1e-20j``).

What it is not: fast for training (it keeps every layer's ``z`` and ``a``), or a general autodiff.

Internally everything runs in the columns layout (samples are columns, ``W^l`` is ``(n_l, n_{l-1})``); the rows layout
is transposed on the way in and out, which is exactly what its convention is (docs/conventions.md § Conventions).

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
from numeric.functions import TargetKind
from numeric.params import check_params
from numeric.spec import ModelSpec

__all__ = [
    "SpecLoss",
    "forward",
    "forward_cache",
    "gradients",
    "loss",
    "masks_columns",
    "problem",
]

Array = np.ndarray


# Activations and costs are the registry entries of numeric.functions; layers are numeric.layers objects. This
# module chains them: forward through every layer, BP1 from the cost, then each layer's backward.


def _act(spec: ModelSpec, l: int, z: Array) -> Array:
    layer = spec.layers[l - 1]
    return layer.activation.value(z, layer.act.param)


def _cost_per_sample(spec: ModelSpec, z: Array, a: Array, y: Array) -> Array:
    """C_x for every sample (last axis), computed stably from z where the output activation allows."""
    return spec.cost_entry.per_sample(spec.output_activation, z, a, y)


# ----- validation and layout --------------------------------------------------------------------------------------


def _batch_size(spec: ModelSpec, x: Array) -> int:
    if x.ndim != 2:
        raise BadInput(f"x must be 2-D with shape {spec.x_shape(-1)} (m = batch size), got shape {x.shape}")
    m = x.shape[spec.layout.sample_axis]
    if x.shape != spec.x_shape(m):
        raise BadInput(f"x has shape {x.shape}, expected {spec.x_shape(m)} for net {spec.net}, {spec.layout} "
                       f"layout (n_0 = {spec.sizes[0]})")
    if m == 0:
        raise BadInput(f"x has shape {x.shape}: no samples (m = 0); a batch needs at least one")
    return m


def _targets_columns(spec: ModelSpec, y: Any, m: int, dtype: np.dtype) -> Array:
    """y in the columns layout (n_L, m), integer class labels turned into one-hot columns."""
    y = np.asarray(y)
    n = spec.sizes[-1]
    classes = spec.cost_entry.target is TargetKind.CLASSES
    if classes and y.ndim == 1:
        if y.shape != (m,) or not np.issubdtype(y.dtype, np.integer):
            raise BadInput(f"integer labels for cce must be an integer array of shape ({m},), got "
                           f"{y.dtype} {y.shape}; or give one-hot targets of shape {spec.y_shape(m)}")
        if y.size and (y.min() < 0 or y.max() >= n):
            raise BadInput(f"class labels must lie in 0..{n - 1} (n_L = {n}), got {y.min()}..{y.max()}")
        onehot = np.zeros((n, m), dtype=dtype)
        onehot[y, np.arange(m)] = 1
        return onehot
    if y.shape != spec.y_shape(m):
        extra = f" or integer labels of shape ({m},)" if classes else ""
        raise BadInput(f"y has shape {y.shape}, expected {spec.y_shape(m)}{extra} ({spec.layout} layout)")
    y = y.astype(dtype, copy=False)
    return spec.layout.to_columns(y)


def _working_dtype(params: Mapping[str, Any], x: Array, y: Any) -> np.dtype:
    arrays = [np.asarray(v) for v in params.values()] + [x]
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.inexact):
        arrays.append(y)
    dt = np.result_type(*arrays)
    return dt if np.issubdtype(dt, np.inexact) else np.dtype(np.float64)


def masks_columns(spec: ModelSpec, masks: Mapping[str, Any] | None, m: int, dtype: np.dtype) -> list:
    """One dropout mask per layer in the columns layout (None where the layer has no dropout, or everywhere for
    ``masks=None``), each checked: the keys, the shape of a^l, only 0s and 1s."""
    layers = spec.dropout_layers()
    if masks is None:
        return [None] * spec.L
    if not isinstance(masks, Mapping):
        raise BadInput(f"masks must be a dict {{'M1': array, ...}} or None, got {type(masks).__name__}")
    names = [d.mask for d in layers]
    if not layers:
        raise BadInput(f"masks given, but {spec.title} has no dropout (build it with --keep-prob P)")
    extra = [k for k in masks if k not in names]
    missing = [k for k in names if k not in masks]
    if extra or missing:
        raise BadInput(f"masks for {spec.title}: expected keys {', '.join(names)}"
                       + (f"; missing {', '.join(missing)}" if missing else "")
                       + (f"; unexpected {', '.join(map(str, extra))}" if extra else ""))
    out: list = [None] * spec.L
    for d in layers:
        mask = d.check_mask(masks[d.mask], spec.layout, m)
        out[d.index - 1] = spec.layout.to_columns(mask.astype(dtype, copy=False))
    return out


class _Columns:
    """Parameters, inputs, targets and dropout masks of one call, in the columns layout and the working dtype."""

    def __init__(self, spec: ModelSpec, params: Mapping[str, Any], x: Any, y: Any = None,
                 masks: Mapping[str, Any] | None = None):
        check_params(spec, params)
        x = np.asarray(x)
        self.m = _batch_size(spec, x)
        self.dtype = _working_dtype(params, x, y if y is not None else x)
        to_cols = spec.layout.to_columns
        #: each layer's own parameters, columns layout
        self.params: list[dict[str, Array]] = [
            {k: to_cols(np.asarray(params[k], dtype=self.dtype)) for k in layer.param_names()}
            for layer in spec.layers
        ]
        self.x = to_cols(x.astype(self.dtype, copy=False))
        self.y = None if y is None else _targets_columns(spec, y, self.m, self.dtype)
        self.masks = masks_columns(spec, masks, self.m, self.dtype)


def _forward_columns(spec: ModelSpec, c: _Columns) -> tuple[list[Array], list[Array], list[Any]]:
    """Every layer's forward pass; returns (zs, activations, caches) with activations[0] = x."""
    activation = c.x
    zs: list[Array] = []
    activations = [activation]
    caches = []
    for layer, p, mask in zip(spec.layers, c.params, c.masks, strict=True):
        activation, cache = layer.forward(p, activation, mask)
        zs.append(cache[1])
        activations.append(activation)
        caches.append(cache)
    return zs, activations, caches


def _reduce(spec: ModelSpec, per_sample: Array, m: int) -> Array:
    total = np.sum(per_sample, axis=-1)
    return total / m if spec.reduction == "mean" else total


def _penalty(spec: ModelSpec, c: _Columns) -> Array | float:
    """The L2 term (lambda / 2n) sum w^2 of the spec, 0 without one."""
    if spec.penalty is None:
        return 0.0
    weights = [p[layer.W] for layer, p in zip(spec.layers, c.params, strict=True)]
    return spec.penalty.term(weights, c.m)


def _scalar(v: Array) -> float | complex:
    v = v.item()
    return v if isinstance(v, complex) else float(v)


# ----- public API ------------------------------------------------------------------------------------------------


def forward_cache(spec: ModelSpec, params: Mapping[str, Any], x: Any, *, masks: Mapping[str, Any] | None = None
                  ) -> tuple[list[Array], list[Array]]:
    """Forward pass keeping every layer: ``(zs, activations)``.

    ``zs[l-1]`` is z^l (the affine map's output) and ``activations[l]`` is a^l, with ``activations[0] = x``; shapes
    follow the spec's layout (``(n_l, m)`` for columns, ``(m, n_l)`` for rows). ``masks`` are the dropout masks
    (``{"M1": ...}``, 0/1 arrays shaped like a^l); None switches dropout off.
    """
    c = _Columns(spec, params, x, masks=masks)
    zs, activations, _ = _forward_columns(spec, c)
    back = spec.layout.from_columns
    return [back(z) for z in zs], [np.asarray(x)] + [back(a) for a in activations[1:]]


def forward(spec: ModelSpec, params: Mapping[str, Any], x: Any, *, masks: Mapping[str, Any] | None = None
            ) -> Array:
    """The network's output a^L, ``(n_L, m)`` (columns) or ``(m, n_L)`` (rows)."""
    return forward_cache(spec, params, x, masks=masks)[1][-1]


def loss(spec: ModelSpec, params: Mapping[str, Any], x: Any, y: Any, *, masks: Mapping[str, Any] | None = None
         ) -> float | complex:
    """The cost C: the per-sample costs averaged (``mean``) or summed over the batch, plus the L2 term if the spec
    has one. complex for complex input."""
    c = _Columns(spec, params, x, y, masks)
    zs, activations, _ = _forward_columns(spec, c)
    data = _reduce(spec, _cost_per_sample(spec, zs[-1], activations[-1], c.y), c.m)
    return _scalar(data + _penalty(spec, c))


def gradients(spec: ModelSpec, params: Mapping[str, Any], x: Any, y: Any, *,
              masks: Mapping[str, Any] | None = None) -> dict[str, Array]:
    """dC/dW^l and dC/db^l by BP1-BP4, vectorised over the batch; keys and shapes as ``params``.

    BP1 delta^L = dC_x/da^L * sigma'(z^L) (fused with the cost for sigmoid+bce and softmax+cce: a - y);
    BP2 delta^l = ((W^{l+1})^T delta^{l+1}) * sigma'(z^l); BP3 dC/db^l = mean (or sum) of the per-sample delta^l;
    BP4 dC/dW^l = delta^l (a^{l-1})^T, averaged (or summed) over the batch. The 1/m is applied once, to the sums.
    Past the dense layer: each layer's backward goes back through dropout, the activation and the normalisation
    (:meth:`numeric.layers.Dense.backward`); the L2 term adds (lambda / n) W^l after the reduction.
    """
    c = _Columns(spec, params, x, y, masks)
    zs, activations, caches = _forward_columns(spec, c)
    scale = 1.0 / c.m if spec.reduction == "mean" else 1.0
    out = spec.layers[-1]
    delta = spec.cost_entry.output_delta(out.activation, zs[-1], activations[-1], c.y, out.act.param)  # BP1
    grads: dict[str, Array] = {}
    g, grads_l = out.backward_from_delta(c.params[-1], delta, caches[-1], input_gradient=spec.L > 1)  # BP3, BP4
    grads.update(grads_l)
    for layer, p, cache in zip(spec.layers[-2::-1], c.params[-2::-1], caches[-2::-1], strict=True):
        # BP2 inside: delta^l = ((W^{l+1})^T delta^{l+1}) * f'(z^l); no dC/dx for the input layer
        g, grads_l = layer.backward(p, g, cache, input_gradient=layer.index > 1)
        grads.update(grads_l)
    # the 1/m of a mean is applied once, to the sums over the batch
    out_grads = {k: scale * grads[k] for k in spec.param_names()}
    if spec.penalty is not None:
        for layer, p in zip(spec.layers, c.params, strict=True):
            out_grads[layer.W] = out_grads[layer.W] + spec.penalty.gradient(p[layer.W], c.m)
    back = spec.layout.from_columns
    return {k: back(v) for k, v in out_grads.items()}


# ----- many perturbed losses in one call (for the vectorised exhaustive check) -----------------------------------


def _unit_and_input(spec: ModelSpec, name: str, flat: Array) -> tuple[int, Array, Array | None]:
    """Layer l, output unit j and input unit k (None for a bias) of flat indices into parameter ``name``."""
    layer = next((layer for layer in spec.layers if name in layer.param_names()), None)
    if layer is None:
        raise BadInput(f"{name!r} is not a parameter of {spec.title}; parameters: {', '.join(spec.param_names())}")
    if name == layer.b:
        return layer.index, flat, None
    _, cols = layer.param_shapes(spec.layout)[name]
    j, k = np.divmod(flat, cols) if spec.layout.columns else np.divmod(flat, cols)[::-1]
    return layer.index, j, k


class SpecLoss:
    """``loss(params) -> C`` for a fixed batch, plus ``perturbed`` for many one-element perturbations at once.

    ``perturbed(params, name, flat, steps)`` returns the losses at ``params`` with element ``flat[p]`` of
    ``params[name]`` moved by ``steps[p]`` (real or complex), for every p, without a Python loop: a change of
    W^l_{jk} or b^l_j only changes row j of z^l, so layer l+1 gets a rank-one update and the later layers run batched
    over the perturbations (leading axis). ``batch_size`` is m (the gradient checker names a 1/m factor with it).
    """

    def __init__(self, spec: ModelSpec, x: Any, y: Any, masks: Mapping[str, Any] | None = None):
        self.spec, self.x, self.y, self.masks = spec, x, y, masks
        self.batch_size = _batch_size(spec, np.asarray(x))

    def __call__(self, params: Mapping[str, Any]) -> float | complex:
        return loss(self.spec, params, self.x, self.y, masks=self.masks)

    def _perturbed_one_by_one(self, params: Mapping[str, Any], name: str, flat: Array, steps: Array) -> Array:
        """Past the dense layer the rank-one shortcut does not hold (a normalisation couples the units or the
        samples): one full loss per perturbation."""
        base = {k: np.asarray(v) for k, v in params.items()}
        dtype = np.result_type(base[name], steps)
        out = np.empty(flat.size, dtype=dtype)
        moved = dict(base)
        for i, (f, h) in enumerate(zip(flat, steps, strict=True)):
            block = base[name].astype(dtype, copy=True)
            block.reshape(-1)[f] += h
            moved[name] = block
            out[i] = self(moved)
        return out

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
        if not spec.plain:
            return self._perturbed_one_by_one(params, name, flat, steps)
        zs, activations, _ = _forward_columns(spec, c)
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
            nxt = spec.layers[l]
            z = zs[l][None] + c.params[l][nxt.W][:, j].T[:, :, None] * da[:, None, :]
            for layer, p in zip(spec.layers[l + 1:], c.params[l + 1:], strict=True):
                z = layer.pre_activation(p, _act(spec, layer.index - 1, z))
        a = _act(spec, L, z)
        return _reduce(spec, _cost_per_sample(spec, z, a, c.y), c.m)


def problem(spec: ModelSpec, params: Mapping[str, Any], x: Any, y: Any, *, masks: Mapping[str, Any] | None = None
            ) -> tuple[SpecLoss, Callable[[Mapping[str, Any]], dict[str, Array]], dict[str, Array]]:
    """``(loss, grad, params)`` for :func:`numeric.gradcheck` from a spec and one batch.

    ``loss`` is a :class:`SpecLoss` (so the exhaustive check is vectorised and a 1/m factor is named); ``grad`` is
    this module's :func:`gradients` on the same batch.
    """
    check_params(spec, params)
    loss_fn = SpecLoss(spec, x, y, masks)

    def grad(p: Mapping[str, Any]) -> dict[str, Array]:
        return gradients(spec, p, x, y, masks=masks)

    return loss_fn, grad, dict(params)
