"""The order in which ``bpv verify --jobs N`` starts its models: longest expected first (LPT list scheduling).

A pool hands the next model to whichever worker is free, in submission order. Submitted in the user's order, a
long model that comes last runs alone at the end while the other workers idle (the catalog: regression, the
longest, second of six). Longest first keeps the workers busy to the end: the wall time is at most the ideal
(total / N) plus the longest model. Results are still reported in the user's order; only the start order changes.

The durations are estimates from the model's structure, because a cold run has nothing measured to go on. Most of
a model's time is its SymPy derivation, and most of that is the end-to-end part
(:mod:`derive.backprop.end_to_end`): ``sympy.diff`` of the composed cost walks a tree with one copy of layer l per
path above it, so it grows like width**(depth - 1) on the reduced-width twin, and about doubles when the model
itself is small enough to be sampled too. The weights below were fitted to the catalog's cold timings on this
machine's kind of CPU; they only order the models, they never decide a verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from derive.backprop.e2e_scope import FULL_LIMIT, TWIN_WIDTH, composed_layers, paths_to_output

__all__ = ["expected_seconds", "longest_first"]

#: seconds that do not depend on the depth: the model functions, the fixed width and batch forms, the witnesses
BASE_S = 2.5
#: seconds per path through the twin (fitted: regression, 27 paths, sampled: about 12 s)
PER_PATH_S = 0.2
#: extra seconds for the blocks' own parts (normalisation, dropout) and for nets with shared weights
BLOCKS_S = 10.0
SHARED_S = {"conv": 20.0, "rnn": 5.0}


def expected_seconds(spec: Any) -> float:
    """A rough estimate of one model's cold verification time, in seconds (only its order matters)."""
    kind = getattr(spec, "kind", "dense")
    if kind != "dense":
        return BASE_S + SHARED_S.get(kind, BLOCKS_S)
    sizes = tuple(spec.sizes)
    twin = spec.reduced_twin(TWIN_WIDTH)
    # the widest tree the twin composes, times the twin's width (width**(depth - 1) until PATH_LIMIT stops it)
    paths = TWIN_WIDTH * max(paths_to_output(twin, l) for l in composed_layers(twin))
    sampled = sizes[0] * sizes[1] <= FULL_LIMIT
    seconds = BASE_S + PER_PATH_S * paths * (2 if sampled else 1)
    return seconds + (0.0 if spec.plain else BLOCKS_S)


def longest_first(specs: Sequence[Any]) -> list[int]:
    """The indices of ``specs``, longest expected first; ties keep the given order (a stable sort)."""
    return sorted(range(len(specs)), key=lambda i: -expected_seconds(specs[i]))
