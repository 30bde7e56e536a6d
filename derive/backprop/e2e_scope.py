"""What the end-to-end check (:mod:`derive.backprop.end_to_end`) composes, as plain arithmetic on a model's widths.

No SymPy here: ``bpv verify``'s scheduler (:mod:`derive.verification.schedule`) estimates a model's cost from the
same numbers before anything is derived, so the limits live in one place.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["FULL_LIMIT", "PATH_LIMIT", "TWIN_WIDTH", "composed_layers", "paths_to_output"]

#: the width of the reduced twin checked exhaustively (``spec.reduced_twin(TWIN_WIDTH)``)
TWIN_WIDTH = 3
#: the full model is sampled only when its first weight matrix has at most this many entries
FULL_LIMIT = 4000
#: a parameter of layer l is composed only when at most this many paths lead from a unit of layer l to the output
PATH_LIMIT = 32


def paths_to_output(spec: Any, layer: int) -> int:
    """How many paths lead from one unit of ``layer`` to the cost: the product of the hidden widths above it.

    SymPy differentiates a composed C(theta) as a tree, not as a graph: every unit of layer l + 1 holds the whole of
    layer l, so the tree ``sympy.diff`` walks for a parameter of layer l has this many copies of it. 2-wide nets
    double it per layer (a 13-layer net: 2^11 for layer 1, 458 s for its twin where 4 layers took 3 s).
    """
    return math.prod(spec.sizes[layer + 1:-1]) if layer < spec.L else 1


def composed_layers(spec: Any) -> list[int]:
    """The layers whose parameters are composed: at most :data:`PATH_LIMIT` paths from a unit to the cost."""
    return [l for l in range(1, spec.L + 1) if paths_to_output(spec, l) <= PATH_LIMIT]
