"""The built-in catalog: every entry valid, named, described, and matching the issue's table."""

import pytest

from numeric.catalog import CATALOG, get_model
from numeric.errors import SpecError


def test_catalog_holds_the_textbook_models():
    expected = {
        "mnist_nielsen": ("784-30-10", "sigmoid", "quadratic", "mean", "columns", True),
        "regression": ("3-30-10-3-1", "sigmoid,sigmoid,relu,identity", "mse", "mean", "columns", True),
        "binary_classifier": ("4-3-1", "sigmoid", "bce", "mean", "columns", True),
        "softmax_classifier": ("784-100-10", "relu,softmax", "cce", "mean", "columns", True),
        "numpy_tutorial": ("1000-100-10", "relu,identity", "squared", "sum", "rows", False),
        "tanh_net": ("2-8-8-1", "tanh,tanh,sigmoid", "bce", "mean", "columns", True),
        "nielsen_ch3": ("784-30-10", "sigmoid", "bce", "mean", "columns", True),
        "bn_net": ("32-64-64-10", "relu,relu,softmax", "cce", "mean", "rows", True),
        "layernorm_net": ("16-32-32-4", "tanh,tanh,softmax", "cce", "mean", "columns", True),
        "dropout_net": ("20-50-50-3", "relu,relu,softmax", "cce", "mean", "columns", True),
    }
    blocks = {"nielsen_ch3": {"l2": 5.0, "l2_n": 50000}, "bn_net": {"norm": "batch"},
              "layernorm_net": {"norm": "layer"}, "dropout_net": {"keep_prob": 0.5}}
    assert set(CATALOG) == set(expected)
    for name, (net, act, cost, red, layout, bias) in expected.items():
        spec = CATALOG[name]
        assert (spec.net, spec.act_text, spec.cost, spec.reduction, spec.layout, spec.bias) == (
            net, act, cost, red, layout, bias)
        assert spec.extras_dict() == blocks.get(name, {})
        assert name.isidentifier() and spec.description


def test_blocks_go_on_the_hidden_layers_only():
    spec = CATALOG["bn_net"]
    assert [layer.norm is not None for layer in spec.layers] == [True, True, False]
    assert spec.param_shapes()["gamma1"] == (1, 64) and spec.param_shapes()["beta2"] == (1, 64)
    assert spec.zero_gradient_blocks() == ["b1", "b2"]
    assert CATALOG["layernorm_net"].zero_gradient_blocks() == []
    assert [d.mask for d in CATALOG["dropout_net"].dropout_layers()] == ["M1", "M2"]
    assert CATALOG["nielsen_ch3"].weight_names() == ["W1", "W2"]


def test_unknown_name_lists_the_catalog():
    with pytest.raises(SpecError, match="catalog models: mnist_nielsen"):
        get_model("lenet")
