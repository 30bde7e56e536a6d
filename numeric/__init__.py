"""numeric: the NumPy-only base of bpv.

The model spec and catalog, the function registries and layers, random instances, the hand-written backprop,
finite differences, the gradient checker (:func:`gradcheck`, in :mod:`numeric.checker`; layer-level
:func:`check_layer` and :func:`check_loss`; :mod:`numeric.adapters` for the shapes real code has),
and the generated kernels
(``numeric.kernels``). Nothing here imports SymPy or ``derive``.

Every public name is imported on first use, so ``import numeric.blas`` loads no NumPy: a benchmark can pin BLAS
(:func:`numeric.blas.pin_blas_environment`) before NumPy loads it.
"""

from __future__ import annotations

from numeric.lazy import lazy_exports

#: public name -> the module that defines it
_LAZY = {
    "CATALOG": "numeric.catalog",
    "get_model": "numeric.catalog",
    "model_names": "numeric.catalog",
    "BadInput": "numeric.errors",
    "SpecError": "numeric.errors",
    "GradcheckResult": "numeric.check_result",
    "Row": "numeric.check_result",
    "Verdict": "numeric.check_result",
    "gradcheck": "numeric.checker",
    "check_named": "numeric.named_bugs",
    "LayerProblem": "numeric.layer_check",
    "LossProblem": "numeric.layer_check",
    "check_layer": "numeric.layer_check",
    "check_loss": "numeric.layer_check",
    "init_params": "numeric.instances",
    "random_batch": "numeric.instances",
    "to_one_hot": "numeric.instances",
    "ACTIVATIONS": "numeric.spec",
    "COSTS": "numeric.spec",
    "LAYOUTS": "numeric.spec",
    "REDUCTIONS": "numeric.spec",
    "ActSpec": "numeric.spec",
    "Layout": "numeric.spec",
    "ModelSpec": "numeric.spec",
    "parse_activations": "numeric.spec",
    "parse_net": "numeric.spec",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "ACTIVATIONS",
    "CATALOG",
    "COSTS",
    "LAYOUTS",
    "REDUCTIONS",
    "ActSpec",
    "BadInput",
    "GradcheckResult",
    "LayerProblem",
    "Layout",
    "LossProblem",
    "ModelSpec",
    "Row",
    "SpecError",
    "Verdict",
    "check_layer",
    "check_loss",
    "check_named",
    "get_model",
    "gradcheck",
    "init_params",
    "model_names",
    "parse_activations",
    "parse_net",
    "random_batch",
    "to_one_hot",
]
