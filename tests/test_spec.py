"""The model spec: parsing, validation, the compatibility table, shapes per layout."""

import pytest

from numeric.errors import SpecError
from numeric.spec import ActSpec, ModelSpec, parse_net


def test_build_regression_net_has_the_documented_shapes():
    spec = ModelSpec.build("3-30-10-3-1", "sigmoid,sigmoid,relu,identity", "mse")
    assert spec.L == 4
    assert spec.param_shapes()["W1"] == (30, 3)
    assert spec.param_shapes()["b4"] == (1, 1)
    assert spec.n_params == 467


def test_rows_layout_transposes_every_parameter():
    cols = ModelSpec.build("4-3-2", "relu,identity", "quadratic")
    rows = ModelSpec.build("4-3-2", "relu,identity", "quadratic", layout="rows")
    for name, shape in cols.param_shapes().items():
        assert rows.param_shapes()[name] == shape[::-1]
    assert rows.x_shape(5) == (5, 4) and cols.x_shape(5) == (4, 5)


def test_one_activation_name_applies_to_all_layers():
    spec = ModelSpec.build("2-8-8-1", "tanh", "quadratic")
    assert [a.name for a in spec.activations] == ["tanh"] * 3


def test_one_layer_logistic_regression_is_valid():
    spec = ModelSpec.build("3-1", "sigmoid", "bce")
    assert spec.L == 1 and spec.param_names() == ["W1", "b1"]


def test_no_bias_has_no_b_keys():
    spec = ModelSpec.build("4-3-2", "relu,identity", "squared", bias=False)
    assert spec.param_names() == ["W1", "W2"]


def test_activation_parameters_use_a_colon():
    assert ActSpec.parse("leaky_relu:0.1") == ActSpec("leaky_relu", 0.1)
    assert ActSpec.parse("elu") == ActSpec("elu", 1.0)
    assert str(ActSpec.parse("leaky_relu:0.1")) == "leaky_relu:0.1"


@pytest.mark.parametrize(
    ("net", "act", "cost", "message"),
    [
        ("3--1", "sigmoid", "quadratic", "not a list of positive layer sizes"),
        ("0-3", "sigmoid", "quadratic", "at least 1"),
        ("-3-2", "sigmoid", "quadratic", "not a list of positive layer sizes"),
        ("3", "sigmoid", "quadratic", "no layer"),
        ("3-4-2", "softmax,sigmoid", "quadratic", "softmax in hidden layer 1"),
        ("3-1", "softmax", "cce", "at least 2 units"),
        ("3-2", "sigmoid", "cce", "cce wants a softmax output"),
        ("3-4-2", "sigmoid,relu,relu", "quadratic", "names 3 activations but the net has 2 layers"),
        ("3-2", "mish", "quadratic", "unknown activation 'mish'; known activations: identity"),
        ("3-2", "leaky_relu:abc", "quadratic", "not a number"),
        ("3-2", "sigmoid:2", "quadratic", "takes no parameter"),
        ("3-2", "sigmoid", "hinge", "unknown cost 'hinge'"),
    ],
)
def test_bad_specs_say_what_is_wrong(net, act, cost, message):
    with pytest.raises(SpecError, match=message):
        ModelSpec.build(net, act, cost)


def test_bad_reduction_and_layout_are_rejected():
    with pytest.raises(SpecError, match="reduction"):
        ModelSpec.build("3-1", reduction="avg")
    with pytest.raises(SpecError, match="layout"):
        ModelSpec.build("3-1", layout="cols")


def test_bce_on_a_non_probability_output_warns_and_says_why():
    spec = ModelSpec.build("3-2", "tanh", "bce")
    (warning,) = spec.warnings()
    assert "(0, 1)" in warning and "tanh" in warning
    assert ModelSpec.build("3-2", "sigmoid", "bce").warnings() == []


def test_parse_net():
    assert parse_net(" 784-30-10 ") == (784, 30, 10)


def test_round_trip_through_dict_and_cli_args():
    spec = ModelSpec.build("4-3-2", "leaky_relu:0.2,identity", "squared", "sum", "rows", False)
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert "--no-bias" in spec.cli_args() and "leaky_relu:0.2,identity" in spec.cli_args()


def test_hash_ignores_the_name_but_not_the_mathematics():
    a = ModelSpec.build("4-3-1", "sigmoid", "bce", name="x")
    b = ModelSpec.build("4-3-1", "sigmoid", "bce", name="y")
    c = ModelSpec.build("4-3-1", "sigmoid", "bce", reduction="sum")
    assert a.hash() == b.hash() != c.hash()


def test_reduced_twin_caps_widths_and_keeps_the_family():
    spec = ModelSpec.build("784-100-10", "relu,softmax", "cce")
    twin = spec.reduced_twin(3)
    assert twin.sizes == (3, 3, 3) and twin.family_key() == spec.family_key()
