"""torch.autograd as an outside oracle: the same network written with torch operations, differentiated by torch.

Nothing here names an activation or a cost: each layer applies its registry entry's torch op
(:attr:`numeric.functions.Activation.torch`), and the cost is the entry's fused torch form for the output
activation when it has one, else the cost's own torch form (:attr:`numeric.functions.Cost.torch`). No derivative is
written by hand. The network runs in the columns working layout (the layout converts parameters and batches).

The blocks past the dense layer are torch's own ops too, so the oracle shares no formula with
:mod:`numeric.normalisation`: ``F.batch_norm`` (training mode, no running statistics) and ``F.layer_norm`` on the
affine output, transposed to torch's samples-first layout and back; inverted dropout as ``a * M / keep`` with the
caller's mask (the same 0/1 data every witness gets, so the function is the same); the L2 term
``lambda / (2n) sum W^2`` over :meth:`~numeric.spec.ModelSpec.weight_names`, n the spec's ``l2_n`` or the batch.
A block whose true gradient is identically zero (:meth:`~numeric.spec.ModelSpec.zero_gradient_blocks`: the bias
before a batch norm) is compared with the scale of the largest other block, never by its own relative error.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

import numpy as np

from derive.verification.rows import BOUNDS, Row, Verdict, all_elements, compared, largest_block, proven_zero
from derive.verification.witnesses import Witness
from numeric.backprop import masks_columns
from numeric.instances import to_one_hot
from numeric.layers import Dense
from numeric.metrics import block_relative_error
from numeric.spec import ModelSpec

__all__ = ["CHECK", "torch_affine", "torch_available", "torch_gradients", "torch_loss", "torch_norm", "torch_rows"]

CHECK = "torch.autograd vs backprop"
#: the unit axis of the columns working layout
UNITS = 0

Masks = Mapping[str, np.ndarray] | None


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def torch_affine(layer: Dense, p: Mapping[str, Any], a: Any) -> Any:
    """z = W a + b in torch, columns layout, from the layer's parameter names (numeric.layers.affine's twin)."""
    z = p[layer.W] @ a
    return z + p[layer.b] if layer.bias else z


def torch_norm(layer: Dense, F: Any, p: Mapping[str, Any], z: Any) -> Any:
    """The layer's normalisation of z (units x samples) by torch's op, which wants the samples first: z^T in, out^T.

    gamma and beta are (n, 1) columns here; torch's ops take them as vectors of the n units (features).
    """
    norm = layer.norm
    gamma, beta = p[norm.gamma].reshape(-1), p[norm.beta].reshape(-1)
    out = norm.torch(F, z.T, gamma, beta)
    return out.T


def _cost(spec: ModelSpec, F: Any, z: Any, a: Any, target: Any) -> Any:
    """The per-unit cost in torch: from z where the cost has a fused torch form for this output, else from a."""
    cost = spec.cost_entry
    fused = cost.fused.get(spec.output_activation.name)
    if fused is not None and fused.torch is not None:
        return fused.torch(F, z, target, UNITS)
    return cost.torch(F, a, target, spec.sizes[-1])


def _total(spec: ModelSpec, leaves: Mapping[str, Any], x: np.ndarray, y: np.ndarray, masks: Masks) -> Any:
    """The loss C as a torch scalar, a function of ``leaves`` (the parameters in the spec's layout)."""
    import torch
    import torch.nn.functional as F

    m = x.shape[spec.layout.sample_axis]
    drop = masks_columns(spec, masks, m, np.dtype(np.float64))  # checked as the reference checks them
    p = {k: spec.layout.to_columns(v) for k, v in leaves.items()}
    a = spec.layout.to_columns(torch.tensor(x, dtype=torch.float64))
    y = np.asarray(y)
    if y.ndim == 1:  # integer class labels, as numeric.backprop takes them for cce: one-hot in the spec's layout
        y = to_one_hot(y, spec.sizes[-1], spec.layout)
    target = spec.layout.to_columns(torch.tensor(y, dtype=torch.float64))
    for layer in spec.layers:  # affine -> norm -> activation -> dropout, numeric.layers.Dense's order
        z = torch_affine(layer, p, a)
        u = z if layer.norm is None else torch_norm(layer, F, p, z)
        a = layer.activation.torch(F, u, layer.act.param, UNITS)
        if drop[layer.index - 1] is not None:
            a = layer.dropout.forward(torch.tensor(drop[layer.index - 1], dtype=torch.float64), a)
    # the cost is taken at the output layer's own u and a (it has no normalisation: u is z^L)
    total = _cost(spec, F, u, a, target).sum()
    if spec.reduction == "mean":
        total = total / m
    if spec.penalty is not None:
        total = total + spec.penalty.term([leaves[w] for w in spec.weight_names()], m)
    return total


def _leaves(params: Mapping[str, np.ndarray]) -> dict[str, Any]:
    import torch

    return {k: torch.tensor(np.asarray(v), dtype=torch.float64, requires_grad=True) for k, v in params.items()}


def torch_loss(spec: ModelSpec, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray,
               masks: Masks = None) -> float:
    """The spec's loss computed by torch (float64), for comparing the value as well as the gradients."""
    return float(_total(spec, _leaves(params), x, y, masks).item())


def torch_gradients(spec: ModelSpec, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray,
                    masks: Masks = None) -> dict[str, np.ndarray]:
    """The gradients of the spec's loss by torch.autograd, in the spec's layout (``masks``: the dropout masks,
    ``{"M1": ...}`` shaped like a^l in the spec's layout; None switches dropout off)."""
    leaves = _leaves(params)
    _total(spec, leaves, x, y, masks).backward()
    return {k: v.grad.detach().numpy().copy() for k, v in leaves.items()}


def torch_rows(model: str, spec: ModelSpec, backprop_w: Witness, params: Mapping[str, np.ndarray], x: np.ndarray,
               y: np.ndarray, masks: Masks = None) -> list[Row]:
    """One row per block, torch.autograd against the hand-written backprop (bound 1e-12); one skipped row without
    torch. ``masks`` must be the masks ``backprop_w`` was built with. A net with shared weights (convolution,
    recurrence) is written with torch's ops by :mod:`derive.verification.torch_shared`."""
    if not torch_available():
        return [Row(model, CHECK, "all", "torch.autograd", backprop_w.name, None, None, Verdict.SKIPPED, "",
                    "skipped: torch not installed")]
    bound = BOUNDS["exact"]
    try:
        if getattr(spec, "kind", "dense") != "dense":
            from derive.verification.torch_shared import shared_torch_gradients

            gt = shared_torch_gradients(spec, params, x, y)
        else:
            gt = torch_gradients(spec, params, x, y, masks)
        gb = backprop_w.grad(params)
    except Exception as exc:
        return [compared(model, CHECK, "all", "torch.autograd", backprop_w.name, float("inf"), bound, "",
                         f"{type(exc).__name__}: {exc}")]
    import torch

    # a block whose true gradient is identically 0 (the bias before batch norm): both sides are rounding noise, so
    # it is measured against the largest other block, as the kernel and numerical checks do (rows.proven_zero)
    zero = spec.zero_gradient_blocks()
    scale = largest_block(gb, [k for k in spec.param_names() if k not in zero])
    method = f"torch {torch.__version__}"
    rows = []
    for name, shape in spec.param_shapes().items():
        if name in zero:
            rows.append(proven_zero(model, CHECK, name, "torch.autograd", backprop_w.name, gt[name], gb[name], scale,
                                    bound, method))
        else:
            rows.append(compared(model, CHECK, name, "torch.autograd", backprop_w.name,
                                 block_relative_error(gt[name], gb[name]), bound,
                                 f"{all_elements(int(np.prod(shape)))}, {method}"))
    return rows
