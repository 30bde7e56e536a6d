"""Generated kernels: one NumPy module per catalog model, printed by ``bpv kernels`` from proven forms.

Each module serves every width of its model family and has ``forward(params, x)``, ``loss(params, x, y)`` and
``gradients(params, x, y)``; its header says what it was generated from and how it was verified. They need NumPy
only (this package never imports SymPy). Do not edit them: regenerate with ``bpv kernels mnist_nielsen regression
binary_classifier softmax_classifier numpy_tutorial tanh_net -o numeric/kernels``.

>>> from numeric.kernels import mnist_nielsen
>>> sorted(mnist_nielsen.KEYS)
['W1', 'W2', 'b1', 'b2']
"""

from numeric.kernels import (
    binary_classifier,
    mnist_nielsen,
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
}

__all__ = [
    "KERNELS",
    "binary_classifier",
    "mnist_nielsen",
    "numpy_tutorial",
    "regression",
    "softmax_classifier",
    "tanh_net",
]
