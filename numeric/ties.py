"""Kinks judged in pairs: a tie (a max over equal values) where each tied element claims the whole gradient.

One coordinate at a time, every element of a tie looks like a valid one-sided slope: max(a, b) at a = b has left
derivative 0 and right derivative 1 along a, so an analytic 1 is "a kink". But moving a and b *together* keeps the
tie, the line is smooth, and the loss changes by dout, not 2 dout: the naive max-pool backward
(``mask = window == window.max()``) routes the gradient to every tied element and is wrong. This module probes
``e_i + e_j`` for pairs of kink elements (neighbours in a block, and equal positions in blocks of one shape) and
calls a pair wrong only when that line is smooth, the analytic ``g_i + g_j`` misses its slope, and it misses the
slopes along ``e_i + e_j`` in every piece around the point too (random nearby points): where several kinks meet
(a ReLU net exactly at z = 0) one line can look smooth while the pieces around it disagree. A line that crosses a
kink (two independent ReLUs at 0) says nothing. float64 only: the nearby points need steps far below float32's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import pairwise

import numpy as np

from numeric.probes import Probes

__all__ = ["MAX_PAIRS", "TIE_DIAGNOSIS", "overclaimed_ties"]

Array = np.ndarray
#: pairs probed per check (each costs four loss calls)
MAX_PAIRS = 128
TIE_DIAGNOSIS = ("{n} element(s) at a tie (a max or min over equal values) each take the whole gradient: moved "
                 "together they change the loss by another amount than the analytic sum claims; route the "
                 "gradient to one of the tied elements (or split it)")

Element = tuple[str, int]


def _pairs(kinks: Mapping[str, Array], shapes: Mapping[str, tuple[int, ...]]) -> list[tuple[Element, Element]]:
    pairs: list[tuple[Element, Element]] = []
    for name, flat in kinks.items():
        pairs += [((name, int(i)), (name, int(j))) for i, j in pairwise(np.sort(flat))]
    names = list(kinks)
    for x, name in enumerate(names):
        for other in names[x + 1:]:
            if shapes[name] == shapes[other]:
                common = np.intersect1d(kinks[name], kinks[other])
                pairs += [((name, int(i)), (other, int(i))) for i in common]
    return pairs[:MAX_PAIRS]


def _piece_slopes(loss: Callable, params: Mapping[str, Array], direction: Mapping[str, Array],
                  rng: np.random.Generator, n: int) -> Array:
    """Slopes along ``direction`` at ``n`` random points next to ``params`` (each inside one piece)."""
    slopes = np.empty(n)
    for k in range(n):
        at = {name: p + 1e-5 * np.maximum(1.0, np.abs(p)) * rng.standard_normal(p.shape) for name, p in params.items()}
        step = 1e-8 * max(1.0, max(float(np.max(np.abs(p))) for p in at.values() if p.size))
        plus = {name: p + step * direction[name] for name, p in at.items()}
        minus = {name: p - step * direction[name] for name, p in at.items()}
        slopes[k] = (float(np.real(loss(plus))) - float(np.real(loss(minus)))) / (2 * step)
    return slopes


def overclaimed_ties(loss: Callable, params: Mapping[str, Array], blocks: Mapping[str, Array],
                     kinks: Mapping[str, Array], f0: float, safety: float, n_regions: int = 16,
                     seed: int = 0) -> dict[str, set[int]]:
    """Flat indices per block of kink elements whose pair probe fails in every piece (empty when all hold)."""
    kinks = {n: f for n, f in kinks.items() if f.size}
    if sum(f.size for f in kinks.values()) < 2 or any(p.dtype != np.float64 for p in params.values()):
        return {}
    rng = np.random.default_rng(seed)
    probes = Probes(loss, params, blocks, f0, safety)
    found: dict[str, set[int]] = {}
    for pair in _pairs(kinks, {n: params[n].shape for n in kinks}):
        direction = {n: np.zeros(p.shape) for n, p in params.items()}
        for name, i in pair:
            direction[name].reshape(-1)[i] = 1.0
        analytic, d = probes.probe(direction)
        passes, smooth = probes.judge(analytic, d, direction)
        if not smooth or passes:
            continue
        slopes = _piece_slopes(loss, params, direction, rng, n_regions)
        margin = safety * float(d.error[0]) + 1e-6 * max(1.0, float(np.max(np.abs(slopes))))
        if slopes.min() - margin <= analytic <= slopes.max() + margin:
            continue  # a valid choice in one of the pieces that meet here: several kinks, not a tie
        for name, i in pair:
            found.setdefault(name, set()).add(i)
    return found
