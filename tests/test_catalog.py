"""The built-in catalog: every entry valid, named, described, and matching the issue's table."""

import pytest

from numeric.catalog import CATALOG, get_model
from numeric.errors import SpecError


def test_catalog_holds_the_six_textbook_models():
    expected = {
        "mnist_nielsen": ("784-30-10", "sigmoid", "quadratic", "mean", "columns", True),
        "regression": ("3-30-10-3-1", "sigmoid,sigmoid,relu,identity", "mse", "mean", "columns", True),
        "binary_classifier": ("4-3-1", "sigmoid", "bce", "mean", "columns", True),
        "softmax_classifier": ("784-100-10", "relu,softmax", "cce", "mean", "columns", True),
        "numpy_tutorial": ("1000-100-10", "relu,identity", "squared", "sum", "rows", False),
        "tanh_net": ("2-8-8-1", "tanh,tanh,sigmoid", "bce", "mean", "columns", True),
    }
    assert set(CATALOG) == set(expected)
    for name, (net, act, cost, red, layout, bias) in expected.items():
        spec = CATALOG[name]
        assert (spec.net, spec.act_text, spec.cost, spec.reduction, spec.layout, spec.bias) == (
            net, act, cost, red, layout, bias)
        assert name.isidentifier() and spec.description


def test_unknown_name_lists_the_catalog():
    with pytest.raises(SpecError, match="catalog models: mnist_nielsen"):
        get_model("lenet")
