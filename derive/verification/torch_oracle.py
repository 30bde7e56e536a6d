"""torch.autograd as an outside oracle: the same network written with torch operations, differentiated by torch.

Nothing here names an activation or a cost: each layer applies its registry entry's torch op
(:attr:`numeric.functions.Activation.torch`), and the cost is the entry's fused torch form for the output
activation when it has one, else the cost's own torch form (:attr:`numeric.functions.Cost.torch`). No derivative is
written by hand. The network runs in the columns working layout (the layout converts parameters and batches).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

import numpy as np

from derive.verification.rows import BOUNDS, Row, Verdict, all_elements, compared
from derive.verification.witnesses import Witness
from numeric.layers import Dense
from numeric.metrics import block_relative_error
from numeric.spec import ModelSpec

__all__ = ["CHECK", "torch_affine", "torch_available", "torch_gradients", "torch_rows"]

CHECK = "torch.autograd vs backprop"
#: the unit axis of the columns working layout
UNITS = 0


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def torch_affine(layer: Dense, p: Mapping[str, Any], a: Any) -> Any:
    """z = W a + b in torch, columns layout, from the layer's parameter names (numeric.layers.affine's twin)."""
    z = p[layer.W] @ a
    return z + p[layer.b] if layer.bias else z


def _cost(spec: ModelSpec, F: Any, z: Any, a: Any, target: Any) -> Any:
    """The per-unit cost in torch: from z where the cost has a fused torch form for this output, else from a."""
    cost = spec.cost_entry
    fused = cost.fused.get(spec.output_activation.name)
    if fused is not None and fused.torch is not None:
        return fused.torch(F, z, target, UNITS)
    return cost.torch(F, a, target, spec.sizes[-1])


def torch_gradients(spec: ModelSpec, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray
                    ) -> dict[str, np.ndarray]:
    """The gradients of the spec's loss by torch.autograd, in the spec's layout."""
    import torch
    import torch.nn.functional as F

    leaves = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    p = {k: spec.layout.to_columns(v) for k, v in leaves.items()}
    a = spec.layout.to_columns(torch.tensor(x, dtype=torch.float64))
    target = spec.layout.to_columns(torch.tensor(y, dtype=torch.float64))
    z = a
    for layer in spec.layers:
        z = torch_affine(layer, p, a)
        a = layer.activation.torch(F, z, layer.act.param, UNITS)
    total = _cost(spec, F, z, a, target).sum()
    if spec.reduction == "mean":
        total = total / x.shape[spec.layout.sample_axis]
    total.backward()
    return {k: v.grad.detach().numpy().copy() for k, v in leaves.items()}


def torch_rows(model: str, spec: ModelSpec, backprop_w: Witness, params: Mapping[str, np.ndarray], x: np.ndarray,
               y: np.ndarray) -> list[Row]:
    """One row per block, torch.autograd against the hand-written backprop (bound 1e-12); one skipped row without
    torch."""
    if not torch_available():
        return [Row(model, CHECK, "all", "torch.autograd", backprop_w.name, None, None, Verdict.SKIPPED, "",
                    "skipped: torch not installed")]
    bound = BOUNDS["exact"]
    try:
        gt = torch_gradients(spec, params, x, y)
        gb = backprop_w.grad(params)
    except Exception as exc:
        return [compared(model, CHECK, "all", "torch.autograd", backprop_w.name, float("inf"), bound, "",
                         f"{type(exc).__name__}: {exc}")]
    import torch

    return [compared(model, CHECK, name, "torch.autograd", backprop_w.name, block_relative_error(gt[name], gb[name]),
                     bound, f"{all_elements(int(np.prod(shape)))}, torch {torch.__version__}")
            for name, shape in spec.param_shapes().items()]
