"""Layers as objects, NumPy side: parameter names and shapes, and the NumPy forward/backward reference.

A network is a sequence of layers (``ModelSpec.layers``). Each layer follows one protocol, CS231n's pair with a
cache, in the **columns** working layout (samples are the last axis; :class:`~numeric.spec.Layout` converts the
parameters on the way in and out):

* ``params`` — ``{name: shape}`` in a given layout; names carry the layer index (``W2``, ``b2``);
* ``forward(p, x) -> (out, cache)`` and ``backward(p, dout, cache) -> (dx, grads)``, ``p`` the layer's own
  parameters in columns form, ``dout = dC/d(out)``.

The layer takes the whole batch, so layers that couple the samples (batch normalisation) or carry state through
time (a recurrent layer) fit the same protocol. The SymPy side of each layer (its forward as an index expression,
its TeX) is :mod:`derive.layers`, paired by ``kind``.

:class:`Dense` is the textbook layer l: z^l = W^l a^{l-1} + b^l, a^l = f(z^l). It is the one place in ``numeric``
where that affine map is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from numeric.dropout import Dropout
from numeric.functions import ACTIVATIONS, Activation
from numeric.normalisation import Normalisation

__all__ = ["Dense", "Layer", "affine"]

Array = np.ndarray


def affine(W: Array, a: Array, b: Array | None) -> Array:
    """z = W a + b in the columns layout (b is (n, 1) and broadcasts over the samples; None without biases).

    ``a`` may be a stack (P, n, m) of P batches: then it is one matrix product (n_out, n) x (n, P*m), not P small
    ones (the vectorised finite differences push every perturbation through at once).
    """
    if a.ndim == 3:
        P, n, m = a.shape
        flat = np.ascontiguousarray(a.transpose(1, 0, 2)).reshape(n, P * m)
        z = (W @ flat).reshape(W.shape[0], P, m).transpose(1, 0, 2)
    else:
        z = W @ a
    return z if b is None else z + b


class Layer(Protocol):
    """What every layer provides (see the module doc)."""

    kind: ClassVar[str]
    index: int

    def param_shapes(self, layout: Any) -> dict[str, tuple[int, ...]]: ...

    def forward(self, p: Mapping[str, Array], x: Array) -> tuple[Array, Any]: ...

    def backward(self, p: Mapping[str, Array], dout: Array, cache: Any, *, input_gradient: bool = True
                 ) -> tuple[Array | None, dict[str, Array]]: ...


@dataclass(frozen=True)
class Dense:
    """Layer ``index``: an affine map from ``n_in`` to ``n_out`` units and an element-wise (or softmax) activation.

    ``act`` is an :class:`~numeric.spec.ActSpec` (name and parameter). Parameters ``W{l}`` of shape
    (n_out, n_in) and ``b{l}`` of shape (n_out, 1) in the columns layout; the rows layout transposes both.

    A hidden layer may hold a ``norm`` (:mod:`numeric.normalisation`, between the affine map and the activation,
    parameters ``gamma{l}``, ``beta{l}``) and a ``dropout`` (:mod:`numeric.dropout`, after the activation, its mask
    given to ``forward``): affine -> norm -> activation -> dropout, the order of CS231n's assignment 2.
    """

    kind: ClassVar[str] = "dense"
    index: int
    n_in: int
    n_out: int
    act: Any  # ActSpec (numeric.spec imports this module)
    bias: bool = True
    norm: Normalisation | None = None
    dropout: Dropout | None = None

    @property
    def activation(self) -> Activation:
        return ACTIVATIONS[self.act.name]

    @property
    def W(self) -> str:
        return f"W{self.index}"

    @property
    def b(self) -> str:
        return f"b{self.index}"

    def param_names(self) -> list[str]:
        names = [self.W, self.b] if self.bias else [self.W]
        return names + (self.norm.param_names() if self.norm is not None else [])

    def param_shapes(self, layout: Any) -> dict[str, tuple[int, ...]]:
        """Shapes in ``layout`` (docs/conventions.md § Parameters)."""
        shapes = {self.W: layout.matrix(self.n_out, self.n_in)}
        if self.bias:
            shapes[self.b] = layout.vector(self.n_out)
        if self.norm is not None:
            shapes.update(self.norm.param_shapes(layout))
        return shapes

    @property
    def n_params(self) -> int:
        n = self.n_out * self.n_in + (self.n_out if self.bias else 0)
        return n + (self.norm.n_params if self.norm is not None else 0)

    @property
    def plain(self) -> bool:
        """No normalisation and no dropout: the textbook layer BP1-BP4 are about."""
        return self.norm is None and self.dropout is None

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "n_in": self.n_in, "n_out": self.n_out, "activation": str(self.act),
             "bias": self.bias}
        if self.norm is not None:
            d["norm"] = self.norm.to_dict()
        if self.dropout is not None:
            d["dropout"] = self.dropout.to_dict()
        return d

    # ----- the NumPy reference (columns layout) ------------------------------------------------------------------
    def pre_activation(self, p: Mapping[str, Array], x: Array) -> Array:
        return affine(p[self.W], x, p.get(self.b) if self.bias else None)

    def forward(self, p: Mapping[str, Array], x: Array, mask: Array | None = None) -> tuple[Array, tuple]:
        """a^l = f(W^l a^{l-1} + b^l), normalised before f and dropped out after it when the layer says so.

        The cache keeps (a^{l-1}, z^l, a^l, inner): z^l is the affine map's output (the textbook z), a^l the layer's
        output; ``inner`` holds the normalised u^l, f(u^l), the normalisation's cache and the mask (None without).
        ``mask=None`` switches dropout off (the mask is data: :mod:`numeric.dropout`).
        """
        z = self.pre_activation(p, x)
        u, norm_cache = (z, None) if self.norm is None else self.norm.forward(p, z)
        f = self.activation.value(u, self.act.param)
        use_mask = self.dropout is not None and mask is not None
        a = self.dropout.forward(mask, f) if use_mask else f
        return a, (x, z, a, (u, f, norm_cache, mask if use_mask else None))

    def backward(self, p: Mapping[str, Array], dout: Array, cache: tuple, *,
                 input_gradient: bool = True) -> tuple[Array | None, dict[str, Array]]:
        """Back through dropout (the same mask, the same 1/p), f, the normalisation, then BP3, BP4."""
        u, f, norm_cache, mask = cache[3]
        if mask is not None:
            dout = self.dropout.backward(mask, dout)
        delta = self.activation.backward(u, f, dout, self.act.param)
        grads: dict[str, Array] = {}
        if self.norm is not None:
            delta, grads = self.norm.backward(p, delta, norm_cache)
        dx, dense = self.backward_from_delta(p, delta, cache, input_gradient=input_gradient)
        return dx, {**dense, **grads}

    def backward_from_delta(self, p: Mapping[str, Array], delta: Array, cache: tuple, *,
                            input_gradient: bool = True) -> tuple[Array | None, dict[str, Array]]:
        """BP3 dC/db^l = sum_x delta^l_x, BP4 dC/dW^l = delta^l (a^{l-1})^T (summed over the batch: the caller
        scales once for a mean), and dC/da^{l-1} = (W^l)^T delta^l (a plain transpose, never a conjugate).

        ``input_gradient=False`` skips dC/da^{l-1} (None): the first layer's input is data, and that product is as
        costly as the layer's weight gradient.
        """
        x = cache[0]
        grads = {self.W: delta @ x.T}
        if self.bias:
            grads[self.b] = np.sum(delta, axis=-1, keepdims=True)
        return (p[self.W].T @ delta if input_gradient else None), grads
