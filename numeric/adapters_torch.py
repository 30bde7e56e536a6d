"""Check a PyTorch hand-written backward (an ``autograd.Function``, or a module using one) against finite differences.

Autograd cannot witness a custom ``backward``: it *calls* it. So the forward is evaluated in float64 through torch
and differentiated numerically, and the gradients come from ``torch.autograd.grad`` (which runs the hand-written
backward). Optional: torch is imported only when these functions are called; without it they raise
:class:`~numeric.errors.BadInput` saying so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from numeric.errors import BadInput
from numeric.layer_check import LayerProblem

__all__ = ["layer_from_torch"]


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise BadInput("PyTorch is not installed: layer_from_torch needs it (pip install torch)") from None
    return torch


def _call(fn: Any, torch: Any, params: Mapping[str, Any], args: Sequence[Any]) -> Any:
    """``fn`` applied to ``args``: an autograd.Function subclass by ``apply``, a module with ``params`` swapped in."""
    if isinstance(fn, type) and issubclass(fn, torch.autograd.Function):
        return fn.apply(*args)
    if isinstance(fn, torch.nn.Module):
        return torch.func.functional_call(fn, dict(params), tuple(args))
    return fn(*args)


def layer_from_torch(fn: Any, inputs: Sequence[Any], wrt: Sequence[str] | None = None) -> LayerProblem:
    """A :class:`~numeric.layer_check.LayerProblem` for ``fn``: an ``autograd.Function`` subclass, a
    ``torch.nn.Module`` (its parameters are checked too, by name) or a function of tensors.

    ``inputs`` are NumPy arrays or tensors (converted to float64 NumPy; integer arrays stay integers). Outputs may
    be one tensor or a tuple of tensors.
    """
    torch = _torch()
    arrays = [t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t) for t in inputs]
    arrays = [a.astype(np.float64) if np.issubdtype(a.dtype, np.floating) else a for a in arrays]
    names = [f"input{i}" for i in range(len(arrays))] if len(arrays) > 1 else ["x"]
    module_params = {}
    if isinstance(fn, torch.nn.Module):
        module_params = {n: p.detach().cpu().numpy().astype(np.float64) for n, p in fn.named_parameters()}
        fn = fn.double()
    values = {**dict(zip(names, arrays, strict=True)), **module_params}

    def tensors(arrays_by_name: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for n, a in arrays_by_name.items():
            if np.iscomplexobj(a):
                raise TypeError("the torch forward is evaluated in real float64 (no complex step)")
            t = torch.from_numpy(np.ascontiguousarray(a))
            out[n] = t.requires_grad_(True) if t.is_floating_point() else t
        return out

    def forward(**given: Any) -> tuple[Any, ...]:
        ts = tensors(given)
        with torch.enable_grad():
            out = _call(fn, torch, {n: ts[n] for n in module_params}, [ts[n] for n in names])
        outs = out if isinstance(out, tuple | list) else (out,)
        return (*(o.detach().numpy() for o in outs), (ts, outs))

    def backward(*args: Any) -> dict[str, Any]:
        *douts, (ts, outs) = args
        chosen = [n for n in ts if ts[n].requires_grad and (wrt is None or n in wrt)]
        grads = torch.autograd.grad(outs, [ts[n] for n in chosen],
                                    grad_outputs=[torch.from_numpy(np.ascontiguousarray(d)) for d in douts],
                                    allow_unused=True)
        return {n: (np.zeros(ts[n].shape) if g is None else g.detach().numpy()) for n, g in zip(chosen, grads,
                                                                                                strict=True)}

    return LayerProblem(forward, backward, values, wrt)
