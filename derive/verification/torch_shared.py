"""torch.autograd as the outside oracle of the nets with shared weights: a convolutional net and a vanilla RNN.

The same networks written with torch's own operations and differentiated by torch: ``F.conv2d`` (cross-correlation,
the layer's stride and padding), ``F.max_pool2d``, ``flatten(1)``, each activation's registry torch op, the dense
layers as matrix products in the columns working layout, and the cost's fused torch form for the output activation
(softmax with cce: a log-softmax). The RNN is unrolled in a Python loop over time, h_t = tanh(W_xh x_t + W_hh h_{t-1}
+ b_h), the cost summed over time and averaged over the sequences. No derivative is written here, and nothing is
shared with :mod:`numeric.conv`, :mod:`numeric.rnn` or :mod:`numeric.conv_net` but the parameter names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from numeric.conv import Conv2d, Flatten, MaxPool2d
from numeric.conv_spec import ConvNetSpec
from numeric.layers import Dense
from numeric.rnn_spec import RnnSpec

__all__ = ["shared_torch_gradients"]

#: the unit axis of the columns working layout
UNITS = 0


def _cost(spec: ConvNetSpec | RnnSpec, F: Any, z: Any, a: Any, target: Any) -> Any:
    cost = spec.cost_entry
    fused = cost.fused.get(spec.output_activation.name)
    if fused is not None and fused.torch is not None:
        return fused.torch(F, z, target, UNITS)
    return cost.torch(F, a, target, z.shape[0])


def _conv_total(spec: ConvNetSpec, p: Mapping[str, Any], x: np.ndarray, y: np.ndarray) -> Any:
    import torch
    import torch.nn.functional as F

    a = torch.tensor(x, dtype=torch.float64)
    m = x.shape[0]
    y = np.asarray(y)
    if y.ndim == 1:  # integer labels
        y = np.eye(spec.n_out)[y]
    target = torch.tensor(y, dtype=torch.float64).T  # columns: (n_L, m)
    z = a
    for layer in spec.layers:
        if isinstance(layer, Conv2d):
            z = F.conv2d(a, p[layer.W], p[layer.b].reshape(-1), stride=layer.stride, padding=layer.pad)
            act = spec.conv_act(layer)
            a = act.entry.torch(F, z, act.param, 1)
        elif isinstance(layer, MaxPool2d):
            a = F.max_pool2d(a, layer.k, layer.stride)
        elif isinstance(layer, Flatten):
            a = a.flatten(1).T  # samples as columns from here on
        elif isinstance(layer, Dense):
            z = p[layer.W].T @ a + p[layer.b].T  # rows-layout parameters: W (n_in, n_out), b (1, n_out)
            a = layer.activation.torch(F, z, layer.act.param, UNITS)
    total = _cost(spec, F, z, a, target).sum()
    return total / m if spec.reduction == "mean" else total


def _rnn_total(spec: RnnSpec, p: Mapping[str, Any], x: np.ndarray, y: np.ndarray) -> Any:
    import torch
    import torch.nn.functional as F

    T, m = np.shape(x)
    eye = np.eye(spec.vocab)
    h = torch.zeros((spec.hidden, m), dtype=torch.float64)
    total = torch.zeros((), dtype=torch.float64)
    for t in range(T):
        x_t = torch.tensor(eye[np.asarray(x)[t]].T)  # one-hot columns (V, m)
        h = torch.tanh(p["Wxh"] @ x_t + p["Whh"] @ h + p["bh"])
        z = p["Why"] @ h + p["by"]
        target = torch.tensor(eye[np.asarray(y)[t]].T)
        total = total + _cost(spec, F, z, F.softmax(z, dim=UNITS), target).sum()
    return total / m


def shared_torch_gradients(spec: ConvNetSpec | RnnSpec, params: Mapping[str, np.ndarray], x: np.ndarray,
                           y: np.ndarray) -> dict[str, np.ndarray]:
    """dC/d(every parameter) by torch.autograd, float64, in the spec's own shapes."""
    import torch

    leaves = {k: torch.tensor(np.asarray(v), dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    total = _rnn_total(spec, leaves, x, y) if isinstance(spec, RnnSpec) else _conv_total(spec, leaves, x, y)
    total.backward()
    return {k: v.grad.detach().numpy().copy() for k, v in leaves.items()}
