"""derive.functions: the SymPy half of every activation and cost, and what is derived from it.

:mod:`~derive.functions.registry` holds one entry per activation and per cost (the NumPy half is
:mod:`numeric.functions`); :mod:`~derive.functions.activations` and :mod:`~derive.functions.costs` derive their
derivatives from the definitions; :mod:`~derive.functions.stable` proves the forms a kernel prints.
"""

from numeric.lazy import lazy_exports

_LAZY = {
    "ACTIVATIONS": "derive.functions.registry",
    "COSTS": "derive.functions.registry",
    "SymActivation": "derive.functions.registry",
    "SymCost": "derive.functions.registry",
    "derive_activation": "derive.functions.activations",
    "derive_softmax": "derive.functions.activations",
    "derive_cost": "derive.functions.costs",
    "derive_stable_forms": "derive.functions.stable",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

__all__ = sorted(_LAZY)
