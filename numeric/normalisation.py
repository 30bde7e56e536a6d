"""Batch and layer normalisation, NumPy side: the hand-written reference forward and backward.

Both normalise a block of pre-activations ``z`` (columns layout: units x samples) and then scale and shift it per
unit, y = gamma * x_hat + beta, with x_hat = (z - mu) / sqrt(sigma^2 + eps):

* **batch normalisation** (training mode): mu and the biased variance sigma^2 per unit, over the samples of the batch
  given. There are no running averages: ``forward`` normalises with the statistics of the batch it is given too.
* **layer normalisation**: mu and sigma^2 per sample, over the units of the layer.

The backward pass is written the long way on purpose, by the chain rule through mu and sigma^2 (CS231n's staged
graph), so that it shares nothing with the compact form the generated kernels print from the SymPy derivation
(:mod:`derive.layers.normalisation`). Everything is analytic (no ``abs``, no ``maximum``): the complex step works
through it while sigma^2 + eps > 0.

Parameters ``gamma{l}`` and ``beta{l}`` have the shape of ``b{l}``: (n_l, 1) in the columns layout, (1, n_l) in rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from numeric.errors import BadInput

__all__ = ["EPS", "NORMS", "BatchNorm", "LayerNorm", "Normalisation"]

Array = np.ndarray

#: torch's and CS231n's default
EPS = 1e-5


@dataclass(frozen=True)
class Normalisation:
    """Normalisation of layer ``index`` (``n`` units); subclasses set the axis the statistics run over."""

    kind: ClassVar[str] = ""
    #: the axis of a columns-layout block the mean and variance are taken over (0: units, 1: samples)
    axis: ClassVar[int] = 1
    #: what the statistics run over, for messages and help texts
    over: ClassVar[str] = ""
    #: a per-unit constant added before it cancels (the bias before batch norm has a zero gradient)
    cancels_bias: ClassVar[bool] = False
    index: int
    n: int
    eps: float = EPS

    @property
    def gamma(self) -> str:
        return f"gamma{self.index}"

    @property
    def beta(self) -> str:
        return f"beta{self.index}"

    def param_names(self) -> list[str]:
        return [self.gamma, self.beta]

    def param_shapes(self, layout: Any) -> dict[str, tuple[int, ...]]:
        return {self.gamma: layout.vector(self.n), self.beta: layout.vector(self.n)}

    @property
    def n_params(self) -> int:
        return 2 * self.n

    def to_dict(self) -> dict:
        return {"kind": self.kind, "n": self.n, "eps": self.eps}

    def _count(self, z: Array) -> int:
        count = z.shape[self.axis]
        if count < 2:
            raise BadInput(f"{self.kind} in layer {self.index} normalises over {self.over}, and there is only "
                           f"{count}: the variance of one value is 0 and every output is beta; give at least 2")
        return count

    def torch(self, F: Any, z: Any, gamma: Any, beta: Any) -> Any:
        """The normalisation by torch's op (``F`` = ``torch.nn.functional``), z with the samples first and gamma,
        beta as vectors of the units: what the torch oracle differentiates. Each kind names its op."""
        raise NotImplementedError(f"{self.kind} has no torch op")

    def forward(self, p: Mapping[str, Array], z: Array) -> tuple[Array, tuple]:
        """y = gamma * (z - mu) / sqrt(sigma^2 + eps) + beta; the cache keeps what the backward pass needs."""
        count = self._count(z)
        mu = np.sum(z, axis=self.axis, keepdims=True) / count
        centred = z - mu
        var = np.sum(centred * centred, axis=self.axis, keepdims=True) / count  # biased, as torch trains
        inv_std = 1.0 / np.sqrt(var + self.eps)
        x_hat = centred * inv_std
        return p[self.gamma] * x_hat + p[self.beta], (centred, inv_std, x_hat, count)

    def backward(self, p: Mapping[str, Array], dy: Array, cache: tuple) -> tuple[Array, dict[str, Array]]:
        """dC/dz by the chain rule through x_hat, sigma^2 and mu; dC/dgamma, dC/dbeta summed over the samples."""
        centred, inv_std, x_hat, count = cache
        ax = self.axis
        grads = {self.gamma: np.sum(dy * x_hat, axis=1, keepdims=True),
                 self.beta: np.sum(dy, axis=1, keepdims=True)}
        d_xhat = dy * p[self.gamma]
        # x_hat = centred * (var + eps)^(-1/2): the path through the variance ...
        d_var = np.sum(d_xhat * centred, axis=ax, keepdims=True) * (-0.5) * inv_std ** 3
        # ... and through the mean, which reaches z directly and through the variance (whose share is 0 here)
        d_mu = -np.sum(d_xhat * inv_std, axis=ax, keepdims=True) + d_var * (-2.0) * np.sum(
            centred, axis=ax, keepdims=True) / count
        dz = d_xhat * inv_std + d_var * 2.0 * centred / count + d_mu / count
        return dz, grads


@dataclass(frozen=True)
class BatchNorm(Normalisation):
    """Batch normalisation in training mode: statistics per unit over the batch (the samples)."""

    kind: ClassVar[str] = "batchnorm"
    axis: ClassVar[int] = 1
    over: ClassVar[str] = "the samples of the batch"
    cancels_bias: ClassVar[bool] = True

    def torch(self, F: Any, z: Any, gamma: Any, beta: Any) -> Any:
        """torch's own op (the oracle), samples first: training mode, no running statistics."""
        return F.batch_norm(z, None, None, weight=gamma, bias=beta, training=True, eps=self.eps)


@dataclass(frozen=True)
class LayerNorm(Normalisation):
    """Layer normalisation: statistics per sample over the units of the layer."""

    kind: ClassVar[str] = "layernorm"
    axis: ClassVar[int] = 0
    over: ClassVar[str] = "the units of the layer"

    def torch(self, F: Any, z: Any, gamma: Any, beta: Any) -> Any:
        """torch's own op (the oracle), samples first."""
        return F.layer_norm(z, (self.n,), weight=gamma, bias=beta, eps=self.eps)


#: ``--norm`` value -> the normalisation class
NORMS: dict[str, type[Normalisation]] = {"batch": BatchNorm, "layer": LayerNorm}
