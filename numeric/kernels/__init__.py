"""Generated kernels: one NumPy module per catalog model, printed by ``bpv kernels`` from proven forms.

Each module serves every width of its model family and has ``forward(params, x)``, ``loss(params, x, y)``,
``gradients(params, x, y)`` and ``sgd_step(params, x, y, eta)`` (with ``masks=`` for dropout and ``l2=, l2_n=`` for
an L2 term); its header says what it was generated from and how it was verified. They need NumPy only (this package
never imports SymPy). Do not edit them: regenerate with ``bpv kernels NAME -o numeric/kernels`` for each name of
``numeric.catalog.CATALOG`` and ``SHARED_CATALOG``
(``SHARED_KERNELS``: the convolutional and recurrent ones, whose functions take images (m, C, H, W) and token
sequences (T, m) with ``h0=``).

>>> from numeric.kernels import mnist_nielsen
>>> sorted(mnist_nielsen.KEYS)
['W1', 'W2', 'b1', 'b2']
"""

from numeric.kernels import (
    binary_classifier,
    bn_net,
    char_rnn,
    dropout_net,
    layernorm_net,
    lenet_tiny,
    mnist_nielsen,
    nielsen_ch3,
    numpy_tutorial,
    regression,
    softmax_classifier,
    tanh_net,
)

#: The shipped kernels by catalog name.
KERNELS = {
    "mnist_nielsen": mnist_nielsen,
    "regression": regression,
    "binary_classifier": binary_classifier,
    "softmax_classifier": softmax_classifier,
    "numpy_tutorial": numpy_tutorial,
    "tanh_net": tanh_net,
    "nielsen_ch3": nielsen_ch3,
    "bn_net": bn_net,
    "layernorm_net": layernorm_net,
    "dropout_net": dropout_net,
    "lenet_tiny": lenet_tiny,
    "char_rnn": char_rnn,
}

#: The shipped kernels of the models with shared weights (numeric.catalog.SHARED_CATALOG), also in KERNELS: a
#: convolutional net (one module per net: every shape is fixed) and the vanilla-RNN family (``h0=`` keyword).
SHARED_KERNELS = {name: KERNELS[name] for name in ("lenet_tiny", "char_rnn")}

__all__ = [
    "KERNELS",
    "SHARED_KERNELS",
    "binary_classifier",
    "bn_net",
    "char_rnn",
    "dropout_net",
    "layernorm_net",
    "lenet_tiny",
    "mnist_nielsen",
    "nielsen_ch3",
    "numpy_tutorial",
    "regression",
    "softmax_classifier",
    "tanh_net",
]
