"""The specs of nets with shared weights: ``--net CxHxW-c..k..-pool..-flat-N`` and ``--rnn V-H-V --steps T``."""

from __future__ import annotations

import numpy as np
import pytest

from numeric import conv_net
from numeric.catalog import SHARED_CATALOG, all_model_names, get_model, spec_from_dict
from numeric.conv import Conv2d, Flatten, MaxPool2d
from numeric.conv_spec import ConvNetSpec, is_conv_net, parse_conv_net
from numeric.errors import SpecError
from numeric.layers import Dense
from numeric.rnn_spec import RnnSpec


def test_lenet_tiny_is_the_issue_net():
    spec = get_model("lenet_tiny")
    assert isinstance(spec, ConvNetSpec)
    assert [type(x) for x in spec.layers] == [Conv2d, MaxPool2d, Flatten, Dense]
    assert spec.param_shapes() == {"W1": (4, 1, 3, 3), "b1": (1, 4), "W2": (64, 10), "b2": (1, 10)}
    assert spec.shapes() == [(1, 8, 8), (4, 8, 8), (4, 4, 4), (64,), (10,)]
    assert spec.n_params == 4 * 9 + 4 + 640 + 10
    assert spec.cli_args() == "--net 1x8x8-c4k3p1-pool2-flat-10 --act relu,softmax --cost cce --reduction mean"


def test_flatten_is_written_out_and_strides_default():
    short = ConvNetSpec.build("8x8-c4k3p1-pool2-10", "relu,softmax", "cce")
    assert short.net == "1x8x8-c4k3p1-pool2-flat-10"
    assert short == ConvNetSpec.build("1x8x8-c4k3s1p1-pool2s2-flat-10", "relu,softmax", "cce")
    assert short.hash() == get_model("lenet_tiny").hash()  # the name is not part of the mathematics


def test_richer_nets_parse_and_size():
    spec = ConvNetSpec.build("2x7x6-c3k3s2p1-c2k2-pool2-20-5", "tanh,relu,sigmoid,softmax", "cce")
    assert spec.shapes() == [(2, 7, 6), (3, 4, 3), (2, 3, 2), (2, 1, 1), (2,), (20,), (5,)]
    assert spec.param_names() == ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"]
    assert spec.param_shapes()["W3"] == (2, 20) and spec.param_shapes()["W4"] == (20, 5)
    assert parse_conv_net("3x4x4-pool2s1-2")[1] == [("pool", 2, 1), ("dense", 2)]
    assert is_conv_net("1x8x8-10") and not is_conv_net("784-30-10")


@pytest.mark.parametrize("net, act, cost, says", [
    ("1x8x8-c4k9-10", "relu,softmax", "cce", "does not fit"),
    ("1x8x8-c4k3-pool2", "relu", "cce", "no dense output layer"),
    ("1x8x8-10-c4k3-10", "relu", "cce", "a convolution after flatten"),
    ("1x8x8-c4q3-10", "relu,softmax", "cce", "is not one of"),
    ("1x8x8--10", "softmax", "cce", "empty stage"),
    ("1x8x8-c4k3-10", "softmax,softmax", "cce", "only allowed as the output"),
    ("1x8x8-c4k3-10", "relu,sigmoid", "cce", "wants a softmax output"),
    ("1x8x8-c4k3-10", "relu,relu,softmax", "cce", "names 3 activations"),
    ("1x8x8-flat-flat-10", "softmax", "cce", "flatten twice"),
])
def test_bad_conv_nets_say_what_is_wrong(net, act, cost, says):
    with pytest.raises(SpecError, match=says):
        ConvNetSpec.build(net, act, cost)


def test_rnn_spec():
    spec = get_model("char_rnn")
    assert isinstance(spec, RnnSpec) and spec.cli_args() == "--rnn 5-8-5 --steps 4"
    assert spec.param_shapes() == {"Wxh": (8, 5), "Whh": (8, 8), "bh": (8, 1), "Why": (5, 8), "by": (5, 1)}
    assert spec.x_shape(3) == (4, 3)
    with pytest.raises(SpecError, match="must be the input's"):
        RnnSpec.build("5-8-4", 4)
    with pytest.raises(SpecError, match="--steps"):
        RnnSpec.build("5-8-5", 0)
    with pytest.raises(SpecError, match="V-H-V"):
        RnnSpec.build("5-8", 4)


@pytest.mark.parametrize("name", list(SHARED_CATALOG))
def test_round_trip_through_the_dict(name):
    spec = get_model(name)
    again = spec_from_dict(spec.to_dict())
    assert again == spec and again.hash() == spec.hash()
    assert name in all_model_names()


def test_reference_batches_fit_the_spec():
    rng = np.random.default_rng(0)
    for spec in SHARED_CATALOG.values():
        params = conv_net.init_params(spec, rng)
        x, y = conv_net.random_batch(spec, 3, rng)
        grads = conv_net.gradients(spec, params, x, y)
        assert {k: v.shape for k, v in grads.items()} == spec.param_shapes()
        assert np.isfinite(conv_net.loss(spec, params, x, y))


def test_integer_labels_equal_one_hot():
    spec = get_model("lenet_tiny")
    rng = np.random.default_rng(1)
    params = conv_net.init_params(spec, rng)
    x, labels = conv_net.random_batch(spec, 4, rng, labels="int")
    onehot = np.eye(spec.n_out)[labels]
    assert conv_net.loss(spec, params, x, labels) == conv_net.loss(spec, params, x, onehot)


def test_reference_refuses_bad_input():
    from numeric.errors import BadInput

    spec = get_model("lenet_tiny")
    rng = np.random.default_rng(2)
    params = conv_net.init_params(spec, rng)
    x, y = conv_net.random_batch(spec, 2, rng)
    with pytest.raises(BadInput, match="expected"):
        conv_net.loss(spec, params, x[:, :, :4], y)
    with pytest.raises(BadInput, match="W2"):
        conv_net.loss(spec, {**params, "W2": params["W2"].T}, x, y)
    with pytest.raises(BadInput, match="labels"):
        conv_net.loss(spec, params, x, np.array([0, 10]))


def test_float32_stays_float32():
    spec = get_model("lenet_tiny")
    rng = np.random.default_rng(3)
    params = {k: v.astype(np.float32) for k, v in conv_net.init_params(spec, rng).items()}
    x, y = conv_net.random_batch(spec, 2, rng)
    grads = conv_net.gradients(spec, params, x.astype(np.float32), y.astype(np.float32))
    assert all(g.dtype == np.float32 for g in grads.values())
