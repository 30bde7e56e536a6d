"""L2 regularisation, NumPy side: C = C_0 + (lambda / 2n) sum_w w^2 over the weights only (Nielsen eq. 87).

``n`` is the training-set size (Nielsen); ``n = 1`` gives CS231n's ``0.5 * reg * sum(W**2)``; ``n = None`` means
the batch size m (what ``bpv verify`` uses: there is no training set there). Biases and the normalisation
parameters gamma, beta are never regularised. The gradient of the term is (lambda / n) w, added to dC_0/dw after the
batch reduction (the term is not averaged over the batch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

__all__ = ["L2"]

Array = np.ndarray


@dataclass(frozen=True)
class L2:
    """The L2 term with strength ``lam`` (lambda >= 0) over a training set of ``n`` samples (None: the batch)."""

    kind: ClassVar[str] = "l2"
    lam: float
    n: int | None = None

    def scale(self, m: int) -> float:
        """lambda / n (n = m when the spec gives none)."""
        return self.lam / (self.n if self.n is not None else m)

    def term(self, weights: list[Array], m: int) -> Array:
        """(lambda / 2n) sum w^2 (w * w, not |w|^2: analytic, so the complex step works through it). Array methods
        only, so the torch oracle computes the same term on its tensors."""
        total = sum((W * W).sum() for W in weights)
        return 0.5 * self.scale(m) * total

    def gradient(self, W: Array, m: int) -> Array:
        return self.scale(m) * W

    def to_dict(self) -> dict:
        return {"kind": self.kind, "lambda": self.lam, "n": self.n}
