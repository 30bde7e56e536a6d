"""A vanilla recurrent layer unrolled over T steps, NumPy side: the hand-written forward and BPTT reference.

For a character (token) sequence over a vocabulary of V symbols, with n_h hidden units, in the **columns** layout
(units x samples; a sample is one sequence, m of them side by side):

    a_t = W_xh x_t + W_hh h_{t-1} + b_h,   h_t = tanh(a_t),   z_t = W_hy h_t + b_y,   p_t = softmax(z_t),

x_t the one-hot column of the input token at step t, h_0 given (zeros by default). The cost is the cross-entropy
of the next-token targets summed over time and averaged over the sequences,
C = (1/m) sum_s sum_t -ln p_t[y_t, s], so m = 1 is min-char-rnn's loss. Parameters carry min-char-rnn's names:
``Wxh`` (n_h, V), ``Whh`` (n_h, n_h), ``bh`` (n_h, 1), ``Why`` (V, n_h), ``by`` (V, 1).

The backward pass is backpropagation through time written by hand, one loop over t from T down to 1 (vectorised
over the sequences): dz_t = (p_t - onehot(y_t)) / m, dh_t = W_hy^T dz_t + dh_next, da_t = (1 - h_t^2) * dh_t,
dh_next = W_hh^T da_t, the parameter gradients summed over t. The SymPy side (:mod:`derive.layers.rnn`) proves
each of those forms against ``sympy.diff`` of the unrolled cost.

Everything is analytic (tanh, exp, and a log-sum-exp whose shift is the maximum of ``z.real``,
:func:`numeric.functions.log_sum_exp`), so the complex step works through the loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from numeric.errors import BadInput
from numeric.functions import log_sum_exp

__all__ = ["PARAM_NAMES", "RNN"]

Array = np.ndarray

#: the parameters in the order min-char-rnn lists them
PARAM_NAMES = ("Wxh", "Whh", "bh", "Why", "by")


@dataclass(frozen=True)
class RNN:
    """A vanilla RNN over a vocabulary of ``vocab`` tokens with ``hidden`` tanh units (see the module doc)."""

    kind: ClassVar[str] = "rnn"
    vocab: int
    hidden: int

    def __post_init__(self) -> None:
        for what, n, least in (("vocab", self.vocab, 2), ("hidden", self.hidden, 1)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < least:
                raise BadInput(f"RNN {what} must be an integer >= {least}, got {n!r}")

    def param_names(self) -> list[str]:
        return list(PARAM_NAMES)

    def param_shapes(self, layout: Any = None) -> dict[str, tuple[int, ...]]:
        """Shapes in the columns layout (the only one this reference takes; ``layout`` is for the Layer protocol)."""
        if layout is not None and not getattr(layout, "columns", False):
            raise BadInput(f"the RNN reference works in the columns layout only, got layout {layout}; "
                           "transpose the parameters to (units x samples) form")
        V, n_h = self.vocab, self.hidden
        return {"Wxh": (n_h, V), "Whh": (n_h, n_h), "bh": (n_h, 1), "Why": (V, n_h), "by": (V, 1)}

    @property
    def n_params(self) -> int:
        return sum(int(np.prod(s)) for s in self.param_shapes().values())

    def to_dict(self) -> dict:
        return {"kind": self.kind, "vocab": self.vocab, "hidden": self.hidden}

    def init_params(self, seed: int = 0, scale: float = 0.5) -> dict[str, Array]:
        """Random parameters (normal, standard deviation ``scale``; biases too, so that no gradient is trivially 0)."""
        rng = np.random.default_rng(seed)
        return {k: scale * rng.standard_normal(s) for k, s in self.param_shapes().items()}

    # ----- checking the inputs ----------------------------------------------------------------------------------
    def _params(self, params: Mapping[str, Array]) -> dict[str, Array]:
        if not isinstance(params, Mapping):
            raise BadInput(f"RNN params must be a dict with keys {', '.join(PARAM_NAMES)}, got "
                           f"{type(params).__name__}")
        missing = [k for k in PARAM_NAMES if k not in params]
        if missing:
            raise BadInput(f"RNN params lack {', '.join(missing)} (expected {', '.join(PARAM_NAMES)})")
        out = {}
        for k, shape in self.param_shapes().items():
            arr = np.asarray(params[k])
            if arr.shape != shape:
                raise BadInput(f"RNN parameter {k} has shape {arr.shape}, expected {shape} for vocab {self.vocab}, "
                               f"hidden {self.hidden} (columns layout)")
            out[k] = arr
        return out

    def _labels(self, v: Any, what: str) -> Array:
        arr = np.asarray(v)
        if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
            raise BadInput(f"RNN {what} must be an integer array of shape (T, m) (time steps x sequences), "
                           f"got shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.integer):
            raise BadInput(f"RNN {what} must hold integer token ids, got dtype {arr.dtype}")
        bad = (arr < 0) | (arr >= self.vocab)
        if np.any(bad):
            t, s = (int(i) for i in np.argwhere(bad)[0])
            raise BadInput(f"RNN {what}[{t}, {s}] = {int(arr[t, s])} is not a token id of a vocabulary of "
                           f"{self.vocab} (0..{self.vocab - 1})")
        return arr

    def _inputs(self, params: Mapping[str, Array], x: Any, y: Any, h0: Any) -> tuple[dict, Array, Array, Array]:
        p = self._params(params)
        x, y = self._labels(x, "x"), self._labels(y, "y")
        if x.shape != y.shape:
            raise BadInput(f"RNN x and y must have the same shape (T, m): x is {x.shape}, y is {y.shape}")
        shape = (self.hidden, x.shape[1])
        if h0 is None:
            dtype = np.result_type(*p.values())
            h0 = np.zeros(shape, dtype=dtype)
        h0 = np.asarray(h0)
        if h0.shape != shape:
            raise BadInput(f"RNN h0 has shape {h0.shape}, expected (hidden, m) = {shape}")
        return p, x, y, h0

    # ----- the reference ----------------------------------------------------------------------------------------
    def _one_hot(self, tokens: Array) -> Array:
        """(T, m) token ids -> (T, V, m) one-hot columns."""
        return np.eye(self.vocab)[tokens].transpose(0, 2, 1)

    def forward(self, params: Mapping[str, Array], x: Any, y: Any, h0: Any = None) -> tuple[Any, tuple]:
        """The cost C and the cache (inputs, hidden states h_0..h_T, output pre-activations z_1..z_T)."""
        p, x, y, h0 = self._inputs(params, x, y, h0)
        T, m = x.shape
        xs = self._one_hot(x)
        hs = [h0]
        zs = []
        cost = 0.0
        cols = np.arange(m)
        for t in range(T):
            a = p["Wxh"] @ xs[t] + p["Whh"] @ hs[-1] + p["bh"]
            hs.append(np.tanh(a))
            z = p["Why"] @ hs[-1] + p["by"]
            zs.append(z)
            # -ln softmax(z)[y] = lse(z) - z[y]: stable, and analytic (the shift is a real constant)
            cost = cost + np.sum(log_sum_exp(z)[0] - z[y[t], cols])
        return cost / m, (p, xs, y, hs, zs)

    def loss(self, params: Mapping[str, Array], x: Any, y: Any, h0: Any = None) -> Any:
        """C = (1/m) sum over sequences, sum over t of the cross-entropy (complex when ``params`` are)."""
        return self.forward(params, x, y, h0)[0]

    def gradients(self, params: Mapping[str, Array], x: Any, y: Any, h0: Any = None) -> dict[str, Array]:
        """dC/d(each parameter) by backpropagation through time (see the module doc)."""
        _, (p, xs, y, hs, zs) = self.forward(params, x, y, h0)
        T, m = y.shape
        targets = self._one_hot(y)
        grads = {k: np.zeros_like(v, dtype=np.result_type(v, hs[0])) for k, v in p.items()}
        dh_next = np.zeros_like(hs[0])
        for t in range(T - 1, -1, -1):
            z = zs[t]
            dz = (np.exp(z - log_sum_exp(z)) - targets[t]) / m  # softmax from the same stable log-sum-exp
            h, h_prev = hs[t + 1], hs[t]
            grads["Why"] += dz @ h.T
            grads["by"] += np.sum(dz, axis=1, keepdims=True)
            dh = p["Why"].T @ dz + dh_next  # h_t reaches C through z_t and through a_{t+1}
            da = (1.0 - h * h) * dh  # tanh' = 1 - tanh^2
            grads["bh"] += np.sum(da, axis=1, keepdims=True)
            grads["Wxh"] += da @ xs[t].T
            grads["Whh"] += da @ h_prev.T  # h_{t-1}: the state the step multiplied by Whh
            dh_next = p["Whh"].T @ da
        return grads
