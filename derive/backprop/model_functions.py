"""This model's functions: the derivations of its activations, its cost and its output error δ^L.

The foundation every backprop derivation specialises to: σ' for each distinct activation (softmax through its
Jacobian), ∂C/∂a for the cost, and δ^L for the (output activation, cost) pair.
"""

from __future__ import annotations

from derive.backprop.output_delta import SOFTMAX_WIDTH, derive_output_delta
from derive.core.steps import Derivation
from derive.functions.activations import derive_activation, derive_softmax
from derive.functions.costs import derive_cost
from numeric.spec import ModelSpec

__all__ = ["model_function_derivations"]


def model_function_derivations(spec: ModelSpec) -> list[Derivation]:
    """Ordered derivations: each distinct activation, the cost, then δ^L."""
    out: list[Derivation] = []
    seen = set()
    for act in spec.activations:
        if act in seen:
            continue
        seen.add(act)
        out.append(derive_activation(act).derivation if act.entry.elementwise
                   else derive_softmax(SOFTMAX_WIDTH).derivation)
    out.append(derive_cost(spec.cost).derivation)
    out.append(derive_output_delta(spec.activations[-1], spec.cost).derivation)
    return out
