"""The built-in catalog: textbook models every command knows by name (``bpv derive mnist_nielsen``).

Each entry is a validated :class:`~numeric.spec.ModelSpec` with a short Python-identifier name and a one-line
description. Names are accepted wherever ``--net ...`` is.
"""

from __future__ import annotations

from numeric.conv_spec import ConvNetSpec
from numeric.errors import SpecError
from numeric.rnn_spec import RnnSpec
from numeric.spec import ModelSpec

__all__ = ["CATALOG", "SHARED_CATALOG", "all_model_names", "get_model", "model_names", "spec_from_dict"]


def _entry(name, description, net, act, cost, reduction="mean", layout="columns", bias=True, **blocks) -> ModelSpec:
    return ModelSpec.build(net, act, cost, reduction, layout, bias, name=name, description=description, **blocks)


CATALOG: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        _entry("mnist_nielsen", "the MNIST net of Neural Networks and Deep Learning (Nielsen, ch. 1-2)",
               "784-30-10", "sigmoid", "quadratic"),
        _entry("regression", "a regression net with a ReLU layer and a linear output",
               "3-30-10-3-1", "sigmoid,sigmoid,relu,identity", "mse"),
        _entry("binary_classifier", "a binary classifier: sigmoid output with binary cross-entropy",
               "4-3-1", "sigmoid", "bce"),
        _entry("softmax_classifier", "a softmax classifier: ReLU hidden layer, softmax output, cross-entropy",
               "784-100-10", "relu,softmax", "cce"),
        _entry("numpy_tutorial", "the two-layer NumPy tutorial net: rows layout, no biases, summed squared error",
               "1000-100-10", "relu,identity", "squared", reduction="sum", layout="rows", bias=False),
        _entry("tanh_net", "a tanh net with a sigmoid output and binary cross-entropy",
               "2-8-8-1", "tanh,tanh,sigmoid", "bce"),
        _entry("nielsen_ch3", "Nielsen's chapter 3 net: cross-entropy and L2 regularisation (lambda = 5, n = 50000)",
               "784-30-10", "sigmoid", "bce", l2=5.0, l2_n=50000),
        _entry("bn_net", "batch normalisation on both hidden layers, samples as rows (CS231n assignment 2)",
               "32-64-64-10", "relu,relu,softmax", "cce", layout="rows", norm="batch"),
        _entry("layernorm_net", "layer normalisation on both tanh hidden layers, softmax output",
               "16-32-32-4", "tanh,tanh,softmax", "cce", norm="layer"),
        _entry("dropout_net", "inverted dropout (keep probability 0.5) after both ReLU hidden layers",
               "20-50-50-3", "relu,relu,softmax", "cce", keep_prob=0.5),
    )
}


#: the catalog models with shared weights (convolution, recurrence): their own spec classes, kernels and chapters
SHARED_CATALOG: dict[str, ConvNetSpec | RnnSpec] = {
    m.name: m
    for m in (
        ConvNetSpec.build("1x8x8-c4k3p1-pool2-flat-10", "relu,softmax", "cce", name="lenet_tiny",
                          description="a tiny LeNet: 3x3 convolution with 4 filters, ReLU, 2x2 max-pool, dense "
                                      "64 -> 10, softmax"),
        RnnSpec.build("5-8-5", 4, name="char_rnn",
                      description="min-char-rnn: a vanilla tanh RNN over 5 tokens, 8 hidden units, T = 4"),
    )
}


def model_names() -> list[str]:
    """The dense catalog models."""
    return list(CATALOG)


def all_model_names() -> list[str]:
    """Every catalog model: the dense ones, then those with shared weights."""
    return [*CATALOG, *SHARED_CATALOG]


def get_model(name: str) -> ModelSpec | ConvNetSpec | RnnSpec:
    """The catalog model called ``name``; :class:`SpecError` listing the names otherwise."""
    found = CATALOG.get(name) or SHARED_CATALOG.get(name)
    if found is None:
        raise SpecError(f"unknown model {name!r}; catalog models: {', '.join(all_model_names())} "
                        "(or give --net ...)")
    return found


def spec_from_dict(d: dict) -> ModelSpec | ConvNetSpec | RnnSpec:
    """A spec from its ``to_dict`` data, by its ``kind`` (a dense net's dict has none)."""
    kinds = {"conv": ConvNetSpec, "rnn": RnnSpec}
    return kinds.get(d.get("kind", "dense"), ModelSpec).from_dict(d)
