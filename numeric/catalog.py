"""The built-in catalog: textbook models every command knows by name (``bpv derive mnist_nielsen``).

Each entry is a validated :class:`~numeric.spec.ModelSpec` with a short Python-identifier name and a one-line
description. Names are accepted wherever ``--net ...`` is.
"""

from __future__ import annotations

from numeric.errors import SpecError
from numeric.spec import ModelSpec

__all__ = ["CATALOG", "get_model", "model_names"]


def _entry(name, description, net, act, cost, reduction="mean", layout="columns", bias=True) -> ModelSpec:
    return ModelSpec.build(net, act, cost, reduction, layout, bias, name=name, description=description)


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
