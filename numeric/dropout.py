"""Inverted dropout, NumPy side: a -> a * M / p with a given 0/1 mask M and keep probability p.

The mask is data, not drawn inside the layer: every check, kernel and oracle given the same mask computes the same
function, so gradient checks are reproducible. ``keep`` is the probability of *keeping* a unit (torch's ``p`` is
1 - keep). The backward pass is the same map applied to dC/d(out): the 1/p is in both directions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from numeric.errors import BadInput

__all__ = ["Dropout", "random_mask"]

Array = np.ndarray


@dataclass(frozen=True)
class Dropout:
    """Dropout after the activation of layer ``index`` (``n`` units), keep probability ``keep`` in (0, 1]."""

    kind: ClassVar[str] = "dropout"
    index: int
    n: int
    keep: float

    @property
    def mask(self) -> str:
        """The mask's key in ``masks=``: ``M1``, ``M2``, ..."""
        return f"M{self.index}"

    def mask_shape(self, layout: Any, m: int) -> tuple[int, int]:
        """A mask is shaped like a^l: (n_l, m) in the columns layout, (m, n_l) in rows."""
        return layout.batch(self.n, m)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "n": self.n, "keep": self.keep}

    def forward(self, mask: Array, a: Array) -> Array:
        return a * mask / self.keep

    def backward(self, mask: Array, dout: Array) -> Array:
        return dout * mask / self.keep

    def check_mask(self, mask: Any, layout: Any, m: int) -> Array:
        """The mask as an array of 0s and 1s of the right shape, or :class:`BadInput` saying what is wrong."""
        mask = np.asarray(mask)
        want = self.mask_shape(layout, m)
        if mask.shape != want:
            raise BadInput(f"dropout mask {self.mask} has shape {mask.shape}, expected {want} (shaped like "
                           f"a^{self.index}: {layout} layout, batch m = {m})")
        if mask.dtype == bool:
            return mask
        if not np.issubdtype(mask.dtype, np.number) or not np.all((mask == 0) | (mask == 1)):
            raise BadInput(f"dropout mask {self.mask} must hold only 0 and 1 (keep or drop a unit; the 1/p "
                           "scaling is the layer's)")
        return mask


def random_mask(rng: np.random.Generator, shape: tuple[int, ...], keep: float) -> Array:
    """A 0/1 float mask keeping each unit with probability ``keep``."""
    return (rng.random(shape) < keep).astype(np.float64)
