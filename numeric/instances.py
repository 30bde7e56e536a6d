"""Random problem instances (parameters, inputs, targets) for checks, tests and benchmarks.

Every caller passes its own ``numpy.random.Generator`` so results are reproducible from a seed.
Targets fit the cost's target kind (:class:`~numeric.functions.TargetKind`): real values, 0/1 labels, or classes
(one-hot, or integer class labels). Shapes follow the spec's layout.
"""

from __future__ import annotations

import numpy as np

from numeric.functions import TargetKind
from numeric.spec import Layout, ModelSpec

__all__ = ["init_params", "random_batch", "random_masks", "to_one_hot"]


def init_params(spec: ModelSpec, rng: np.random.Generator, bias_scale: float = 0.5) -> dict[str, np.ndarray]:
    """Gaussian weights scaled by 1/sqrt(n_{l-1}) (pre-activations of order 1) and Gaussian biases.

    A normalisation's gamma is 1 + a Gaussian of ``bias_scale`` (away from 0, where the layer would be constant),
    its beta a Gaussian like the biases.
    """
    params = {}
    for layer in spec.layers:
        gamma = layer.norm.gamma if layer.norm is not None else None
        for name, shape in layer.param_shapes(spec.layout).items():
            if name == layer.W:
                params[name] = rng.standard_normal(shape) / np.sqrt(layer.n_in)
            elif name == gamma:
                params[name] = 1.0 + bias_scale * rng.standard_normal(shape)
            else:
                params[name] = bias_scale * rng.standard_normal(shape)
    return params


def random_masks(spec: ModelSpec, m: int, rng: np.random.Generator) -> dict[str, np.ndarray] | None:
    """One 0/1 dropout mask per dropout layer for a batch of ``m`` (None when the spec has no dropout).

    Every mask keeps at least one unit of each sample, so no sample's signal is cut off entirely in a check.
    """
    from numeric.dropout import random_mask

    layers = spec.dropout_layers()
    if not layers:
        return None
    masks = {}
    for d in layers:
        mask = spec.layout.to_columns(random_mask(rng, d.mask_shape(spec.layout, m), d.keep))
        mask[0, ~mask.any(axis=0)] = 1.0
        masks[d.mask] = spec.layout.from_columns(mask)
    return masks


def to_one_hot(labels: np.ndarray, n_classes: int, layout: Layout | str) -> np.ndarray:
    """Integer class labels of length m as a one-hot array of ``layout``'s batch shape for n_classes units.

    (n_classes, m) for the columns layout, (m, n_classes) for rows; ``layout`` is a :class:`Layout` (or its name).
    """
    eye = np.eye(n_classes)[np.asarray(labels)]  # (m, n_classes), the rows layout
    return Layout.parse(layout).from_columns(eye.T).copy()


def random_batch(
    spec: ModelSpec, m: int, rng: np.random.Generator, labels: str = "onehot"
) -> tuple[np.ndarray, np.ndarray]:
    """A batch ``(x, y)`` of ``m`` samples. For class targets, ``labels="int"`` gives integer labels of length m."""
    x = rng.standard_normal(spec.x_shape(m))
    n_out = spec.sizes[-1]
    target = spec.cost_entry.target
    if target is TargetKind.CLASSES:
        classes = rng.integers(0, n_out, size=m)
        y = classes if labels == "int" else to_one_hot(classes, n_out, spec.layout)
    elif target is TargetKind.BINARY:
        y = rng.integers(0, 2, size=spec.y_shape(m)).astype(float)
    else:
        y = rng.standard_normal(spec.y_shape(m))
    return x, y
