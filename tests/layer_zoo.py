"""The layer zoo: correct CS231n-style layers and losses, and a corpus of planted bugs in them (not a test module).

``ZOO`` (name -> :class:`Case`) holds each correct layer or loss with seeded inputs; ``BUGS`` (``case.bug`` ->
:class:`Bug`) the planted bugs, each a small variant of a correct backward (tests/zoo_layers.py writes them as
``bug=`` branches), with the rows a gradient check must call wrong. Small sizes with all dimensions distinct (a
transposed gradient cannot type-check by accident, except for the square Wh of the RNN step), inputs kept away from
the kinks of ReLU, max-pool and the SVM hinge, except in the deliberate kink cases (``Case.kinks``). ``FRESH_MASK``
is a dropout that draws a new mask on every call: a check must refuse it.

Tests import it by name (``import layer_zoo``: pytest puts tests/ on the path).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import zoo_layers as layers

__all__ = ["BUGS", "FRESH_MASK", "ZOO", "Bug", "Case", "gradients"]

Array = np.ndarray


@dataclass(frozen=True)
class Case:
    """One correct layer (``forward`` + ``backward``) or loss (``forward`` only: ``fn(*inputs) -> (loss, grads)``)."""

    name: str
    forward: Callable
    backward: Callable | None  # None: a loss
    make_inputs: Callable[[], tuple | dict]  # fresh, seeded inputs on every call
    wrt: tuple[str, ...] | None = None  # None: every float-array input
    kinks: tuple[str, ...] = ()  # rows expected to be "kink" (deliberately at a kink), all others "ok"

    @property
    def is_loss(self) -> bool:
        return self.backward is None

    @property
    def rows(self) -> tuple[str, ...]:
        """The names of the rows a check must report, in order."""
        if self.wrt is not None:
            return self.wrt
        return tuple(n for n, v in _named(self.forward, self.make_inputs()).items()
                     if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating))

    def impl(self, bug: str | None = None) -> Callable:
        """The backward (layer) or the loss function, with the named bug planted (None: the correct one)."""
        target = self.forward if self.is_loss else self.backward
        return target if bug is None else functools.partial(target, bug=bug)


@dataclass(frozen=True)
class Bug:
    """One planted bug: the case it lives in, the rows a check must call wrong, and phrases for their diagnoses.

    Phrases are given only where the bug is a pure constant factor, a transpose, or the L2 pattern.
    """

    case: str
    bug: str
    wrong: tuple[str, ...]
    description: str
    phrases: tuple[tuple[str, str], ...] = ()  # (row, phrase its diagnosis must contain)


def _b(case: str, bug: str, wrong: str, description: str, **phrases: str) -> tuple[str, Bug]:
    return f"{case}.{bug}", Bug(case, bug, tuple(wrong.split()), description, tuple(phrases.items()))


_RNN = "x prev_h Wx Wh b"
_LSTM_ALL = "x prev_h prev_c Wx Wh b"

#: bug name (case.bug) -> what a checker must find
BUGS: dict[str, Bug] = dict((
    _b("affine", "dw_transposed", "w", "dw = dout^T x: shape (M, D) for w of (D, M)", w="transposed"),
    _b("affine", "dx_not_reshaped", "x", "dx left as (N, D) instead of x's (N, d1, d2)"),
    _b("affine", "db_wrong_axis", "b", "db summed over the output axis (length N, not M)"),
    _b("affine", "db_mean", "b", "db averaged over the batch instead of summed (x1/N)", b="1/m"),
    _b("affine", "dx_sign", "x", "dx = -dout w^T", x="sign flip"),
    _b("affine", "dw_unflattened_x", "w", "x flattened in the wrong order (d1 and d2 swapped) for dw"),
    _b("relu", "mask_inverted", "x", "gradient passed where x < 0 instead of x > 0"),
    _b("relu", "no_mask", "x", "dout passed straight through"),
    _b("relu", "mask_from_dout", "x", "mask taken from dout > 0 instead of x > 0"),
    _b("sigmoid", "missing_prime", "x", "sigma' forgotten: dx = dout"),
    _b("sigmoid", "prime_at_output", "x", "sigma'(out) instead of sigma'(x) = out (1 - out)"),
    _b("sigmoid", "prime_sign", "x", "out (out - 1) instead of out (1 - out)", x="sign flip"),
    _b("sigmoid", "prime_of_input", "x", "x (1 - x): the from-the-output formula applied to the input"),
    _b("tanh", "missing_prime", "x", "tanh' forgotten: dx = dout"),
    _b("tanh", "prime_of_input", "x", "1 - x^2: the from-the-output formula applied to the input"),
    _b("tanh", "prime_plus", "x", "1 + out^2 instead of 1 - out^2"),
    _b("leaky_relu", "negative_slope_one", "x", "slope 1 on the negative side too"),
    _b("leaky_relu", "negative_slope_zero", "x", "slope 0 on the negative side (ReLU's backward)"),
    _b("leaky_relu", "slopes_swapped", "x", "alpha where x > 0, 1 where x < 0"),
    _b("softmax_loss", "no_minus_one", "x", "dx = p / N: 1 not subtracted at the label"),
    _b("softmax_loss", "missing_mean", "x", "dx = p - onehot: the 1/N of the mean loss missing",
       x="the 1/m of the mean is missing"),
    _b("softmax_loss", "sign", "x", "dx = (onehot - p) / N", x="sign flip"),
    _b("softmax_loss", "unnormalised", "x", "exp(x) used for the probabilities (no normalisation)"),
    _b("softmax_loss", "minus_one_at_argmax", "x", "1 subtracted at the predicted class, not the label"),
    _b("svm_loss", "label_margin_counted", "x", "the label's own margin (1) counted in the label's gradient"),
    _b("svm_loss", "missing_mean", "x", "no 1/N", x="the 1/m of the mean is missing"),
    _b("svm_loss", "no_label_term", "x", "the -count at the label class forgotten"),
    _b("svm_loss", "sign", "x", "gradient of the negated hinge", x="sign flip"),
    _b("batchnorm", "missing_centering", "x", "dx without the - mean(dxhat) term"),
    _b("batchnorm", "missing_xhat_term", "x", "dx without the - xhat mean(dxhat xhat) term"),
    _b("batchnorm", "constant_stats", "x", "mean and variance treated as constants: dx = dxhat / std"),
    _b("batchnorm", "dx_wrong_axis", "x", "the means in dx taken over the features, not the batch"),
    _b("batchnorm", "sums_not_means", "x", "the sums in dx not divided by N"),
    _b("batchnorm", "dbeta_wrong_axis", "beta", "dbeta summed over the features (length N, not D)"),
    _b("batchnorm", "dgamma_no_xhat", "gamma", "dgamma = sum(dout), without xhat"),
    _b("batchnorm", "dgamma_uses_x", "gamma", "dgamma = sum(dout x): x instead of xhat"),
    _b("layernorm", "dx_wrong_axis", "x", "batch norm's dx: the means taken over the batch, not the features"),
    _b("layernorm", "missing_centering", "x", "dx without the - mean(dxhat) term"),
    _b("layernorm", "dgamma_wrong_axis", "gamma", "dgamma summed over the features (length N, not D)"),
    _b("dropout", "no_rescale", "x", "mask applied without the 1/p of inverted dropout", x="0.75"),
    _b("dropout", "new_mask", "x", "backward draws its own mask (another seed)"),
    _b("dropout", "inverted_mask", "x", "gradient passed where the units were dropped"),
    _b("dropout", "no_mask", "x", "dout passed straight through"),
    _b("conv", "kernel_not_flipped", "x", "dx correlates dout with the kernel instead of convolving (not flipped)"),
    _b("conv", "wrong_crop", "x", "dx cropped from the padded corner [:H, :W] instead of [pad:pad+H, pad:pad+W]"),
    _b("conv", "no_crop", "x", "the padded dx returned (H + 2 pad, W + 2 pad)"),
    _b("conv", "dw_kernel_transposed", "w", "dw's kernel rows and columns swapped"),
    _b("conv", "db_mean", "b", "db averaged over batch and positions instead of summed"),
    _b("conv_stride2", "dx_no_stride", "x", "dx scattered at stride 1 (window positions of a stride-1 conv)"),
    _b("maxpool", "route_all", "x", "dout routed to every element of the window"),
    _b("maxpool", "average", "x", "average-pool backward: dout / k to every element"),
    _b("maxpool", "route_to_min", "x", "dout routed to the window's minimum"),
    _b("maxpool", "first_in_window", "x", "dout routed to the window's top-left element"),
    _b("maxpool_tie", "route_to_all_maxima", "x", "mask window == max: every tied maximum gets dout (at a tie "
       "each coordinate alone is a valid one-sided slope, the pair is not a subgradient)"),
    _b("rnn_step", "no_tanh_prime", _RNN, "dh not taken through tanh: dz = dh"),
    _b("rnn_step", "tanh_prime_at_output", _RNN, "1 - tanh(h)^2: tanh' evaluated at the output"),
    _b("rnn_step", "dWh_transposed", "Wh", "dWh = dz^T prev_h (square: it type-checks)", Wh="transposed"),
    _b("rnn_step", "dprev_h_untransposed", "prev_h", "dprev_h = dz Wh instead of dz Wh^T"),
    _b("rnn_step", "db_wrong_axis", "b", "db summed over the hidden units (length N, not H)"),
    _b("lstm_step", "ignores_dnext_c", _LSTM_ALL, "the upstream dnext_c not added to dc"),
    _b("lstm_step", "forget_prime_missing", "x prev_h Wx Wh b", "sigma' of the forget gate forgotten"),
    _b("lstm_step", "dprev_c_missing_f", "prev_c", "dprev_c = dc without the forget gate"),
    _b("lstm_step", "tanh_c_prime_at_c", _LSTM_ALL, "1 - c^2 instead of 1 - tanh(c)^2"),
    _b("affine_l2", "reg_x2", "w", "2 reg w: the derivative of reg ||w||^2 for 0.5 reg ||w||^2", w="regularisation"),
    _b("affine_l2", "reg_missing", "w", "the reg w term forgotten", w="regularisation"),
    _b("affine_l2", "reg_half", "w", "0.5 reg w: the loss's 1/2 kept in the derivative", w="regularisation"),
    _b("affine_l2", "reg_on_bias", "b", "reg b added to db (the bias is not regularised)", b="regularisation"),
    _b("affine_l2", "data_not_averaged", "x w b", "dscores without the 1/N of the mean data loss",
       x="the 1/m of the mean is missing", b="the 1/m of the mean is missing"),
))


def _named(fn: Callable, inputs: tuple | dict) -> dict[str, object]:
    if isinstance(inputs, dict):
        return dict(inputs)
    names = list(inspect.signature(fn).parameters)
    return dict(zip(names, inputs, strict=False))


def gradients(case: Case, impl: Callable, inputs: tuple | dict, rng: np.random.Generator) -> dict[str, object]:
    """The gradients ``impl`` (a backward or a loss) returns, by row name, for random douts (a self-check helper)."""
    call = (lambda f: f(**inputs)) if isinstance(inputs, dict) else (lambda f: f(*inputs))
    if case.is_loss:
        _, grads = call(impl)
    else:
        *outs, cache = call(case.forward)
        grads = impl(*(rng.standard_normal(np.shape(o)) for o in outs), cache)
    rows = case.rows
    if isinstance(grads, dict):
        return {n: grads.get(n) for n in rows}
    if len(rows) == 1:
        return {rows[0]: grads}
    return dict(zip(rows, grads, strict=True))


# ---------------------------------------------------------------------------------------------- inputs


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _away(rng: np.random.Generator, shape: tuple[int, ...], gap: float = 0.1) -> Array:
    """Signed normal values at least ``gap`` away from 0 (no ReLU kink within any finite-difference step)."""
    z = rng.standard_normal(shape)
    return np.sign(z) * (gap + np.abs(z))


def _distinct(rng: np.random.Generator, shape: tuple[int, ...]) -> Array:
    """Values pairwise at least 0.05 apart, in random order (no ties in a max-pool window)."""
    size = int(np.prod(shape))
    return ((rng.permutation(size) + 0.5 * rng.random(size)) * 0.1 - 0.05 * size).reshape(shape)


def _tied_windows(seed: int) -> Array:
    """Distinct values, except that three pooling windows (2 x 2) have their maximum twice: a deliberate kink."""
    x = _distinct(_rng(seed), (3, 2, 4, 6))
    for n, c, i, j in ((0, 0, 0, 0), (1, 1, 1, 2), (2, 0, 1, 1)):
        win = x[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
        top = np.unravel_index(np.argmax(win), win.shape)
        win[1 - top[0], top[1]] = win[top]
    return x


def _labels(rng: np.random.Generator, n: int, c: int) -> Array:
    return rng.integers(0, c, size=n)


def _hinge_inputs(seed: int, n: int = 5, c: int = 4) -> tuple[Array, Array]:
    """Scores whose margins x_j - x_y + 1 (j != y) are all at least 0.1 away from the hinge's kink at 0."""
    rng = _rng(seed)
    while True:
        x, y = rng.standard_normal((n, c)), _labels(rng, n, c)
        margins = x - x[np.arange(n), y][:, None] + 1.0
        margins[np.arange(n), y] = 1.0
        if np.all(np.abs(margins) > 0.1):
            return x, y


def _relu_kink_inputs() -> tuple[Array]:
    x = _away(_rng(3), (4, 5))
    x[0, 1] = x[2, 3] = x[3, 0] = 0.0  # exactly at the kink
    return (x,)


def _norm_inputs(seed: int, n: int, d: int, param: str) -> dict[str, object]:
    rng = _rng(seed)
    return {"x": 2.0 * rng.standard_normal((n, d)) + 1.0, "gamma": 1.0 + 0.5 * rng.standard_normal(d),
            "beta": rng.standard_normal(d), param: {"mode": "train", "eps": 1e-5}}


def _conv_inputs(seed: int, hw: tuple[int, int], stride: int) -> tuple[object, ...]:
    rng = _rng(seed)
    return (rng.standard_normal((3, 2, *hw)), 0.5 * rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4),
            {"stride": stride, "pad": 1})


def _rnn_inputs() -> tuple[Array, ...]:
    rng = _rng(11)
    return (rng.standard_normal((3, 4)), rng.standard_normal((3, 5)), 0.5 * rng.standard_normal((4, 5)),
            0.5 * rng.standard_normal((5, 5)), rng.standard_normal(5))


def _lstm_inputs() -> tuple[Array, ...]:
    rng = _rng(12)
    return (rng.standard_normal((3, 4)), rng.standard_normal((3, 5)), rng.standard_normal((3, 5)),
            0.5 * rng.standard_normal((4, 20)), 0.5 * rng.standard_normal((5, 20)), 0.5 * rng.standard_normal(20))


def _l2_inputs() -> tuple[object, ...]:
    rng = _rng(13)
    return (rng.standard_normal((5, 6)), rng.standard_normal((6, 4)), rng.standard_normal(4), _labels(rng, 5, 4), 0.1)


_DROPOUT = {"p": 0.75, "seed": 3, "mode": "train"}  # p: the keep probability
_POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}

#: name -> a correct layer or loss with its inputs
ZOO: dict[str, Case] = {c.name: c for c in (
    Case("affine", layers.affine_forward, layers.affine_backward,
         lambda: (_rng(1).standard_normal((4, 3, 2)), _rng(2).standard_normal((6, 5)), _rng(3).standard_normal(5))),
    Case("relu", layers.relu_forward, layers.relu_backward, lambda: (_away(_rng(4), (4, 5)),)),
    Case("relu_closed_mask", layers.relu_forward, layers.relu_backward_closed, lambda: (_away(_rng(4), (4, 5)),)),
    Case("relu_kink", layers.relu_forward, layers.relu_backward, _relu_kink_inputs, kinks=("x",)),
    Case("relu_kink_closed_mask", layers.relu_forward, layers.relu_backward_closed, _relu_kink_inputs, kinks=("x",)),
    Case("sigmoid", layers.sigmoid_forward, layers.sigmoid_backward, lambda: (2.0 * _rng(5).standard_normal((3, 4)),)),
    Case("tanh", layers.tanh_forward, layers.tanh_backward, lambda: (_rng(6).standard_normal((3, 5)),)),
    Case("leaky_relu", layers.leaky_relu_forward, layers.leaky_relu_backward,
         lambda: (_away(_rng(7), (4, 3)), {"alpha": 0.1})),
    Case("softmax_loss", layers.softmax_loss, None,
         lambda: (_rng(8).standard_normal((5, 4)), _labels(_rng(9), 5, 4))),
    Case("svm_loss", layers.svm_loss, None, lambda: _hinge_inputs(10)),
    Case("batchnorm", layers.batchnorm_forward, layers.batchnorm_backward, lambda: _norm_inputs(14, 5, 4, "bn_param")),
    Case("layernorm", layers.layernorm_forward, layers.layernorm_backward, lambda: _norm_inputs(15, 4, 5, "ln_param")),
    Case("dropout", layers.dropout_forward, layers.dropout_backward,
         lambda: (_rng(16).standard_normal((4, 6)), dict(_DROPOUT))),
    Case("conv", layers.conv_forward, layers.conv_backward, lambda: _conv_inputs(17, (5, 6), 1)),
    Case("conv_stride2", layers.conv_forward, layers.conv_backward, lambda: _conv_inputs(18, (5, 7), 2)),
    Case("maxpool", layers.maxpool_forward, layers.maxpool_backward,
         lambda: (_distinct(_rng(19), (3, 2, 4, 6)), dict(_POOL))),
    Case("maxpool_tie", layers.maxpool_forward, layers.maxpool_backward,
         lambda: (_tied_windows(19), dict(_POOL)), kinks=("x",)),
    Case("rnn_step", layers.rnn_step_forward, layers.rnn_step_backward, _rnn_inputs),
    Case("lstm_step", layers.lstm_step_forward, layers.lstm_step_backward, _lstm_inputs),
    Case("affine_l2", layers.affine_l2_loss, None, _l2_inputs, wrt=("x", "w", "b")),
)}

#: a dropout drawing a new mask on every call, with its inputs: a check must raise BadInput ("different outputs")
FRESH_MASK = Case("dropout_fresh_mask", layers.dropout_fresh_forward, layers.dropout_backward,
                  lambda: (_rng(16).standard_normal((4, 6)), dict(_DROPOUT)))
