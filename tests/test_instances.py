"""Random instances fit the spec: shapes per layout, targets per cost, reproducible from a seed."""

import numpy as np

from numeric.instances import init_params, random_batch, to_one_hot
from numeric.spec import ModelSpec


def test_shapes_follow_the_layout():
    for layout in ("columns", "rows"):
        spec = ModelSpec.build("4-3-2", "relu,softmax", "cce", layout=layout)
        params = init_params(spec, np.random.default_rng(0))
        assert {k: v.shape for k, v in params.items()} == spec.param_shapes()
        x, y = random_batch(spec, 5, np.random.default_rng(0))
        assert x.shape == spec.x_shape(5) and y.shape == spec.y_shape(5)
        assert np.allclose(y.sum(axis=0 if layout == "columns" else 1), 1.0)


def test_integer_labels_and_one_hot_agree():
    spec = ModelSpec.build("4-3", "softmax", "cce")
    _, labels = random_batch(spec, 6, np.random.default_rng(1), labels="int")
    assert labels.shape == (6,)
    onehot = to_one_hot(labels, 3, "columns")
    assert (onehot.argmax(axis=0) == labels).all()


def test_same_seed_same_instance():
    spec = ModelSpec.build("3-2-1", "sigmoid", "bce")
    a = init_params(spec, np.random.default_rng(7))
    b = init_params(spec, np.random.default_rng(7))
    assert all(np.array_equal(a[k], b[k]) for k in a)
