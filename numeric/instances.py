"""Random problem instances (parameters, inputs, targets) for checks, tests and benchmarks.

Every caller passes its own ``numpy.random.Generator`` so results are reproducible from a seed.
Targets fit the cost: real values for the squared-error costs, 0/1 for bce, one-hot (or integer class labels)
for cce. Shapes follow the spec's layout.
"""

from __future__ import annotations

import numpy as np

from numeric.spec import ModelSpec

__all__ = ["init_params", "random_batch", "to_one_hot"]


def init_params(spec: ModelSpec, rng: np.random.Generator, bias_scale: float = 0.5) -> dict[str, np.ndarray]:
    """Gaussian weights scaled by 1/sqrt(n_{l-1}) (pre-activations of order 1) and Gaussian biases."""
    params = {}
    for name, shape in spec.param_shapes().items():
        if name.startswith("W"):
            l = int(name[1:])
            params[name] = rng.standard_normal(shape) / np.sqrt(spec.sizes[l - 1])
        else:
            params[name] = bias_scale * rng.standard_normal(shape)
    return params


def to_one_hot(labels: np.ndarray, n_classes: int, layout: str) -> np.ndarray:
    """Integer class labels of length m as a one-hot array, (n_classes, m) for columns, (m, n_classes) for rows."""
    labels = np.asarray(labels)
    eye = np.eye(n_classes)[labels]  # (m, n_classes)
    return eye.T.copy() if layout == "columns" else eye


def random_batch(
    spec: ModelSpec, m: int, rng: np.random.Generator, labels: str = "onehot"
) -> tuple[np.ndarray, np.ndarray]:
    """A batch ``(x, y)`` of ``m`` samples. For cce, ``labels="int"`` gives integer labels of length m."""
    x = rng.standard_normal(spec.x_shape(m))
    n_out = spec.sizes[-1]
    if spec.cost == "cce":
        classes = rng.integers(0, n_out, size=m)
        y = classes if labels == "int" else to_one_hot(classes, n_out, spec.layout)
    elif spec.cost == "bce":
        y = rng.integers(0, 2, size=spec.y_shape(m)).astype(float)
    else:
        y = rng.standard_normal(spec.y_shape(m))
    return x, y
