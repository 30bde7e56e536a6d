"""numeric: the NumPy-only base of bpv.

The model spec and catalog, random instances, the hand-written backprop, finite differences, the gradient
checker, and the generated kernels (``numeric.kernels``). Nothing here imports SymPy or ``derive``.
"""

from numeric.catalog import CATALOG, get_model, model_names
from numeric.errors import BadInput, SpecError
from numeric.gradcheck import GradcheckResult, Row, gradcheck
from numeric.instances import init_params, random_batch, to_one_hot
from numeric.spec import ACTIVATIONS, COSTS, LAYOUTS, REDUCTIONS, ActSpec, ModelSpec, parse_activations, parse_net

__all__ = [
    "ACTIVATIONS",
    "CATALOG",
    "COSTS",
    "LAYOUTS",
    "REDUCTIONS",
    "ActSpec",
    "BadInput",
    "GradcheckResult",
    "ModelSpec",
    "Row",
    "SpecError",
    "get_model",
    "gradcheck",
    "init_params",
    "model_names",
    "parse_activations",
    "parse_net",
    "random_batch",
    "to_one_hot",
]
