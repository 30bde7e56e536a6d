"""The built-in catalog: textbook models every command knows by name (``bpv derive mnist_nielsen``).

Each entry is a validated :class:`~numeric.spec.ModelSpec` with a short Python-identifier name and a one-line
description. Names are accepted wherever ``--net ...`` is.
"""

from __future__ import annotations

from numeric.errors import SpecError
from numeric.spec import ModelSpec

__all__ = ["CATALOG", "get_model", "model_names"]


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


def model_names() -> list[str]:
    return list(CATALOG)


def get_model(name: str) -> ModelSpec:
    """The catalog model called ``name``; :class:`SpecError` listing the names otherwise."""
    try:
        return CATALOG[name]
    except KeyError:
        raise SpecError(f"unknown model {name!r}; catalog models: {', '.join(CATALOG)} (or give --net ...)") from None
