"""Random instances fit the spec: shapes per layout, targets per cost, reproducible from a seed."""

import numpy as np

from numeric.functions import TargetKind
from numeric.instances import init_params, random_batch, to_one_hot
from numeric.spec import Layout, ModelSpec


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
    onehot = to_one_hot(labels, 3, Layout.COLUMNS)
    assert (onehot.argmax(axis=0) == labels).all()
    rows = to_one_hot(labels, 3, Layout.ROWS)
    assert rows.shape == (6, 3) and np.array_equal(rows, onehot.T)


def test_targets_follow_the_cost_target_kind():
    for cost, act in (("bce", "sigmoid"), ("mse", "identity")):
        spec = ModelSpec.build("3-2", act, cost)
        _, y = random_batch(spec, 50, np.random.default_rng(2))
        assert y.shape == spec.y_shape(50)
        binary = set(np.unique(y)) <= {0.0, 1.0}
        assert binary == (spec.cost_entry.target is TargetKind.BINARY)


def test_same_seed_same_instance():
    spec = ModelSpec.build("3-2-1", "sigmoid", "bce")
    a = init_params(spec, np.random.default_rng(7))
    b = init_params(spec, np.random.default_rng(7))
    assert all(np.array_equal(a[k], b[k]) for k in a)
