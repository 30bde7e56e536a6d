"""The implementations under test, fed the same random instance: the generated kernel and the hand-written backprop.

Also the one diagnosis of a failing block (:func:`diagnosis`), shared by every check that compares two blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from numeric.instances import init_params, random_batch, random_masks
from numeric.metrics import TINY
from numeric.spec import ModelSpec

__all__ = ["BATCH_SIZE", "Witness", "diagnosis", "instance", "instance_masks", "shared_weights", "witnesses"]

#: Samples in the random batch: not 1, so a missing or doubled 1/m shows.
BATCH_SIZE = 3

Params = dict[str, np.ndarray]


def shared_weights(spec: Any) -> bool:
    """Whether ``spec`` is a net with shared weights (a :class:`~numeric.conv_spec.ConvNetSpec` or a
    :class:`~numeric.rnn_spec.RnnSpec`): its reference is :mod:`numeric.conv_net`, not :mod:`numeric.backprop`."""
    return getattr(spec, "kind", "dense") != "dense"


def instance(spec: ModelSpec, seed: int, m: int = BATCH_SIZE, labels: str = "onehot"
             ) -> tuple[Params, np.ndarray, np.ndarray]:
    """Parameters and a batch of ``m`` samples drawn from ``seed`` (the same for every witness)."""
    rng = np.random.default_rng(seed)
    if shared_weights(spec):
        from numeric import conv_net

        params = conv_net.init_params(spec, rng)
        x, y = conv_net.random_batch(spec, m, rng, labels=labels)
        return params, x, y
    params = init_params(spec, rng)
    x, y = random_batch(spec, m, rng, labels=labels)
    return params, x, y


def instance_masks(spec: ModelSpec, seed: int, m: int = BATCH_SIZE) -> dict[str, np.ndarray] | None:
    """The dropout masks of the instance of ``seed`` (None without dropout): data, the same for every witness."""
    return random_masks(spec, m, np.random.default_rng([seed, 2]))


@dataclass
class Witness:
    """One implementation under test: its name, its loss and its gradients on a fixed batch."""

    name: str
    loss: Callable[[Params], Any]
    grad: Callable[[Params], Params]

    @property
    def short(self) -> str:
        """``kernel`` or ``backprop``: how the check column names it."""
        return "kernel" if self.name.startswith("generated") else "backprop"


def witnesses(spec: ModelSpec, kernel: Any, x: np.ndarray, y: np.ndarray,
              masks: dict[str, np.ndarray] | None = None) -> list[Witness]:
    """The kernel (when there is one) and the hand-written backprop, in that order, with the same dropout masks."""
    from numeric import backprop, conv_net

    if shared_weights(spec):
        out = [Witness("hand-written backprop", lambda p: conv_net.loss(spec, p, x, y),
                       lambda p: conv_net.gradients(spec, p, x, y))]
        if kernel is not None:
            out.insert(0, Witness("generated kernel", lambda p: kernel.loss(p, x, y),
                                  lambda p: kernel.gradients(p, x, y)))
        return out
    # SpecLoss: the same loss, plus many one-element perturbations per call (vectorised finite differences)
    out = [Witness("hand-written backprop", backprop.SpecLoss(spec, x, y, masks),
                   lambda p: backprop.gradients(spec, p, x, y, masks=masks))]
    if kernel is not None:
        extra = {} if masks is None else {"masks": masks}
        out.insert(0, Witness("generated kernel", lambda p: kernel.loss(p, x, y, **extra),
                              lambda p: kernel.gradients(p, x, y, **extra)))
    return out


def diagnosis(g: Any, r: Any, bound: float, *, complete: bool = True, batch_size: int = BATCH_SIZE) -> str:
    """How a failing block is wrong (:func:`numeric.diagnose.diagnose_block`): a factor, a transpose, rows..."""
    from numeric.diagnose import diagnose_block

    g, r = np.asarray(g), np.asarray(r)
    if g.shape != r.shape or g.size == 0:
        return ""
    tol = np.full(r.shape, bound * max(float(np.max(np.abs(r))), TINY))
    bad = ~(np.abs(g - r) <= tol)
    try:
        text = diagnose_block(g, r, bad, tol, batch_sizes=(batch_size,), complete=complete)
    except Exception:  # a diagnosis is a courtesy: never let it hide the verdict
        return ""
    if text.startswith("a sign flip") and float(np.sum(g * r)) > 0:  # a factor of +1 is no sign flip: no pattern
        return ""
    return text
