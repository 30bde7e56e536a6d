"""The layers and losses of the layer zoo (tests/layer_zoo.py): CS231n-style, written for bpv; not a test module.

Every layer is a forward ``(inputs..., param dict) -> (out, cache)`` (an LSTM step returns two outputs before the
cache) and a backward ``(dout..., cache, bug=None) -> gradients``; every loss is ``(inputs..., bug=None) -> (loss,
grads)``, averaged over the batch. ``bug`` names one planted mistake, written as a branch of the correct code so that
each bug is a small, readable variant of it (as in tests/planted_bugs.py); ``bug=None`` is the correct backward.
NumPy only, float64.

Forwards stay analytic (masks on ``.real``, no ``np.abs``/``np.maximum``/``np.var``) so that the complex step works
on them (docs/conventions.md § Finite differences); backwards are only ever called on real data.
"""

from __future__ import annotations

import functools

import numpy as np

Array = np.ndarray



def affine_forward(x: Array, w: Array, b: Array) -> tuple[Array, tuple]:
    """out = x_flat w + b, x of shape (N, d1, ..., dk) flattened to (N, D)."""
    return x.reshape(x.shape[0], -1) @ w + b, (x, w)


def affine_backward(dout: Array, cache: tuple, bug: str | None = None) -> tuple[Array, Array, Array]:
    x, w = cache
    x_flat = x.reshape(x.shape[0], -1)
    dx = dout @ w.T
    dx = dx if bug == "dx_not_reshaped" else dx.reshape(x.shape)
    dx = -dx if bug == "dx_sign" else dx
    if bug == "dw_unflattened_x":
        x_flat = np.swapaxes(x, 1, 2).reshape(x.shape[0], -1)
    dw = dout.T @ x_flat if bug == "dw_transposed" else x_flat.T @ dout
    db = {"db_wrong_axis": dout.sum(axis=1), "db_mean": dout.mean(axis=0)}.get(bug, dout.sum(axis=0))
    return dx, dw, db


def relu_forward(x: Array) -> tuple[Array, Array]:
    return x * (x.real > 0), x


def relu_backward(dout: Array, x: Array, bug: str | None = None) -> Array:
    mask = {"mask_inverted": x < 0, "no_mask": np.ones(x.shape, bool), "mask_from_dout": dout > 0}.get(bug, x > 0)
    return dout * mask


def relu_backward_closed(dout: Array, x: Array) -> Array:
    """x >= 0: the same away from 0, and at 0 the right derivative 1, a valid subgradient: not a bug."""
    return dout * (x >= 0)


def _sigmoid(x: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_forward(x: Array) -> tuple[Array, tuple]:
    out = _sigmoid(x)
    return out, (x, out)


def sigmoid_backward(dout: Array, cache: tuple, bug: str | None = None) -> Array:
    x, s = cache
    local = {"missing_prime": np.ones_like(s), "prime_at_output": _sigmoid(s) * (1 - _sigmoid(s)),
             "prime_sign": s * (s - 1), "prime_of_input": x * (1 - x)}.get(bug, s * (1 - s))
    return dout * local


def tanh_forward(x: Array) -> tuple[Array, tuple]:
    out = np.tanh(x)
    return out, (x, out)


def tanh_backward(dout: Array, cache: tuple, bug: str | None = None) -> Array:
    x, t = cache
    local = {"missing_prime": np.ones_like(t), "prime_of_input": 1 - x**2, "prime_plus": 1 + t**2}.get(bug, 1 - t**2)
    return dout * local


def leaky_relu_forward(x: Array, lrelu_param: dict) -> tuple[Array, tuple]:
    alpha = lrelu_param["alpha"]
    return np.where(x.real > 0, x, alpha * x), (x, alpha)


def leaky_relu_backward(dout: Array, cache: tuple, bug: str | None = None) -> Array:
    x, alpha = cache
    pos, neg = {"negative_slope_one": (1.0, 1.0), "negative_slope_zero": (1.0, 0.0),
                "slopes_swapped": (alpha, 1.0)}.get(bug, (1.0, alpha))
    return dout * np.where(x > 0, pos, neg)


def _norm_forward(x: Array, gamma: Array, beta: Array, eps: float, axis: int) -> tuple[Array, tuple]:
    """Normalise over ``axis`` (0: batch norm, 1: layer norm), then scale and shift per feature."""
    mu = x.mean(axis=axis, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axis, keepdims=True)  # not np.var: it takes |x - mu|^2 of complex data
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * inv_std
    return gamma * xhat + beta, (x, xhat, gamma, inv_std, axis)


def _norm_backward(dout: Array, cache: tuple, bug: str | None) -> tuple[Array, Array, Array]:
    x, xhat, gamma, inv_std, axis = cache
    dbeta = dout.sum(axis=1) if bug == "dbeta_wrong_axis" else dout.sum(axis=0)
    dgamma = {"dgamma_no_xhat": dout.sum(axis=0), "dgamma_uses_x": (dout * x).sum(axis=0),
              "dgamma_wrong_axis": (dout * xhat).sum(axis=1)}.get(bug, (dout * xhat).sum(axis=0))
    dxhat = dout * gamma
    ax = 1 - axis if bug == "dx_wrong_axis" else axis
    reduce = functools.partial(np.sum if bug == "sums_not_means" else np.mean, axis=ax, keepdims=True)
    centre = 0.0 if bug in ("missing_centering", "constant_stats") else reduce(dxhat)
    spread = 0.0 if bug in ("missing_xhat_term", "constant_stats") else xhat * reduce(dxhat * xhat)
    return inv_std * (dxhat - centre - spread), dgamma, dbeta


def batchnorm_forward(x: Array, gamma: Array, beta: Array, bn_param: dict) -> tuple[Array, tuple]:
    """Train mode: the batch's own mean and variance per feature (the batch is part of the input)."""
    assert bn_param.get("mode", "train") == "train"
    return _norm_forward(x, gamma, beta, bn_param.get("eps", 1e-5), axis=0)


def batchnorm_backward(dout: Array, cache: tuple, bug: str | None = None) -> tuple[Array, Array, Array]:
    return _norm_backward(dout, cache, bug)


def layernorm_forward(x: Array, gamma: Array, beta: Array, ln_param: dict) -> tuple[Array, tuple]:
    return _norm_forward(x, gamma, beta, ln_param.get("eps", 1e-5), axis=1)


def layernorm_backward(dout: Array, cache: tuple, bug: str | None = None) -> dict[str, Array]:
    """Returned as a dict keyed by input name (the other layers return tuples)."""
    dx, dgamma, dbeta = _norm_backward(dout, cache, bug)
    return {"x": dx, "gamma": dgamma, "beta": dbeta}


def _keep_mask(shape: tuple[int, ...], p: float, seed: int) -> Array:
    """Inverted dropout's mask (keep probability p), drawn the same way for the same seed."""
    return (np.random.default_rng(seed).random(shape) < p) / p


def dropout_forward(x: Array, dropout_param: dict) -> tuple[Array, tuple]:
    mask = _keep_mask(x.shape, dropout_param["p"], dropout_param["seed"])
    return x * mask, (mask, dropout_param)


def dropout_backward(dout: Array, cache: tuple, bug: str | None = None) -> Array:
    mask, param = cache
    p = param["p"]
    if bug == "new_mask":
        mask = _keep_mask(dout.shape, p, param["seed"] + 1)
    mask = {"no_rescale": mask != 0, "inverted_mask": (mask == 0) / p, "no_mask": 1.0}.get(bug, mask)
    return dout * mask


_FRESH_RNG = np.random.default_rng(2024)


def dropout_fresh_forward(x: Array, dropout_param: dict) -> tuple[Array, tuple]:
    """A dropout that draws a new mask on every call (ignores the seed): not checkable, a BadInput."""
    mask = (_FRESH_RNG.random(x.shape) < dropout_param["p"]) / dropout_param["p"]
    return x * mask, (mask, dropout_param)


def _conv_geometry(x: Array, w: Array, conv_param: dict) -> tuple[int, int, int, int]:
    s, pad = conv_param["stride"], conv_param["pad"]
    h_out = 1 + (x.shape[2] + 2 * pad - w.shape[2]) // s
    w_out = 1 + (x.shape[3] + 2 * pad - w.shape[3]) // s
    return s, pad, h_out, w_out


def _pad(x: Array, pad: int) -> Array:
    """x (N, C, H, W) with ``pad`` zeros around H and W (np.pad is slow for the thousands of calls of a check)."""
    xp = np.zeros((*x.shape[:2], x.shape[2] + 2 * pad, x.shape[3] + 2 * pad), dtype=x.dtype)
    xp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]] = x
    return xp


def conv_forward(x: Array, w: Array, b: Array, conv_param: dict) -> tuple[Array, tuple]:
    """Naive 2-D cross-correlation (CS231n's conv), x (N, C, H, W): the patch of every kernel offset, one product."""
    s, pad, h_out, w_out = _conv_geometry(x, w, conv_param)
    xp = _pad(x, pad)
    kh, kw = w.shape[2:]
    patches = np.stack([xp[:, :, i:i + s * h_out:s, j:j + s * w_out:s] for i in range(kh) for j in range(kw)], axis=2)
    out = np.tensordot(patches, w.reshape(*w.shape[:2], -1), axes=([1, 2], [1, 2]))  # (N, Ho, Wo, F)
    return out.transpose(0, 3, 1, 2) + b[:, None, None], (x, w, conv_param)


def conv_backward(dout: Array, cache: tuple, bug: str | None = None) -> tuple[Array, Array, Array]:
    x, w, conv_param = cache
    s, pad, h_out, w_out = _conv_geometry(x, w, conv_param)
    kh, kw = w.shape[2:]
    xp = _pad(x, pad)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    step = 1 if bug == "dx_no_stride" else s
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + s * h_out:s, j:j + s * w_out:s]
            wi, wj = (kh - 1 - i, kw - 1 - j) if bug == "kernel_not_flipped" else (i, j)
            dxp[:, :, i:i + step * h_out:step, j:j + step * w_out:step] += np.einsum(
                "nfyx,fc->ncyx", dout, w[:, :, wi, wj])
            di, dj = (j, i) if bug == "dw_kernel_transposed" else (i, j)
            dw[:, :, di, dj] = np.einsum("nfyx,ncyx->fc", dout, patch)
    db = dout.mean(axis=(0, 2, 3)) if bug == "db_mean" else dout.sum(axis=(0, 2, 3))
    h, wd = x.shape[2:]
    dx = {"wrong_crop": dxp[:, :, :h, :wd], "no_crop": dxp}.get(bug, dxp[:, :, pad:pad + h, pad:pad + wd])
    return dx, dw, db


def _windows(x: Array, ph: int, pw: int) -> Array:
    """(N, C, H, W) -> (N, C, H/ph, W/pw, ph*pw): the non-overlapping pooling windows, flattened."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // ph, ph, w // pw, pw).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // ph, w // pw, -1)


def maxpool_forward(x: Array, pool_param: dict) -> tuple[Array, tuple]:
    """Naive max-pool with stride = window size (windows do not overlap)."""
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    assert pool_param["stride"] == ph == pw and x.shape[2] % ph == 0 and x.shape[3] % pw == 0
    win = _windows(x, ph, pw)
    arg = np.argmax(win.real, axis=-1)[..., None]
    return np.take_along_axis(win, arg, axis=-1)[..., 0], (x.shape, win.real, arg, ph, pw)


def maxpool_backward(dout: Array, cache: tuple, bug: str | None = None) -> Array:
    shape, win, arg, ph, pw = cache
    k = ph * pw
    if bug in ("route_all", "average"):
        dwin = np.repeat(dout[..., None], k, axis=-1) / (k if bug == "average" else 1)
    elif bug == "route_to_all_maxima":  # the naive mask window == max: a tie gets dout twice
        dwin = (win == win.max(axis=-1, keepdims=True)) * dout[..., None]
    else:
        arg = {"route_to_min": np.argmin(win, axis=-1)[..., None], "first_in_window": np.zeros_like(arg)}.get(bug, arg)
        dwin = np.zeros(win.shape)
        np.put_along_axis(dwin, arg, dout[..., None], axis=-1)
    n, c, h, w = shape
    return dwin.reshape(n, c, h // ph, w // pw, ph, pw).transpose(0, 1, 2, 4, 3, 5).reshape(shape)


def rnn_step_forward(x: Array, prev_h: Array, Wx: Array, Wh: Array, b: Array) -> tuple[Array, tuple]:
    """h = tanh(x Wx + prev_h Wh + b)."""
    h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return h, (x, prev_h, Wx, Wh, h)


def rnn_step_backward(dh: Array, cache: tuple, bug: str | None = None) -> tuple[Array, ...]:
    x, prev_h, Wx, Wh, h = cache
    dz = {"no_tanh_prime": dh, "tanh_prime_at_output": dh * (1 - np.tanh(h) ** 2)}.get(bug, dh * (1 - h**2))
    dprev_h = dz @ Wh if bug == "dprev_h_untransposed" else dz @ Wh.T
    dWh = dz.T @ prev_h if bug == "dWh_transposed" else prev_h.T @ dz
    db = dz.sum(axis=1) if bug == "db_wrong_axis" else dz.sum(axis=0)
    return dz @ Wx.T, dprev_h, x.T @ dz, dWh, db


def lstm_step_forward(x: Array, prev_h: Array, prev_c: Array, Wx: Array, Wh: Array,
                      b: Array) -> tuple[Array, Array, tuple]:
    """Gates i, f, o, g from a = x Wx + prev_h Wh + b (in that order); c = f prev_c + i g, h = o tanh(c)."""
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = (_sigmoid(part) for part in np.split(a[:, :3 * prev_h.shape[1]], 3, axis=1))
    g = np.tanh(a[:, 3 * prev_h.shape[1]:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h: Array, dnext_c: Array, cache: tuple, bug: str | None = None) -> tuple[Array, ...]:
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, c = cache
    tc = np.tanh(c)
    dtanh = 1 - c**2 if bug == "tanh_c_prime_at_c" else 1 - tc**2
    dc = dnext_h * o * dtanh + (0.0 if bug == "ignores_dnext_c" else dnext_c)
    df_local = 1.0 if bug == "forget_prime_missing" else f * (1 - f)
    da = np.hstack([dc * g * i * (1 - i), dc * prev_c * df_local, dnext_h * tc * o * (1 - o), dc * i * (1 - g**2)])
    dprev_c = dc if bug == "dprev_c_missing_f" else dc * f
    return da @ Wx.T, da @ Wh.T, dprev_c, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def softmax_loss(x: Array, y: Array, bug: str | None = None) -> tuple[Array, Array]:
    """Mean cross-entropy of softmax(x) (scores x of shape (N, C)) at the integer labels y, and dx."""
    n = x.shape[0]
    rows = np.arange(n)
    shifted = x - x.real.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_p[rows, y].mean()
    p = np.exp(log_p)
    if bug == "unnormalised":
        p = np.exp(x)
    at = np.argmax(x.real, axis=1) if bug == "minus_one_at_argmax" else y
    dx = p.copy()
    if bug != "no_minus_one":
        dx[rows, at] -= 1
    dx = dx if bug == "missing_mean" else dx / n
    return loss, -dx if bug == "sign" else dx


def svm_loss(x: Array, y: Array, bug: str | None = None) -> tuple[Array, Array]:
    """Mean multiclass hinge loss sum_{j != y} max(0, x_j - x_y + 1), and dx."""
    n = x.shape[0]
    rows = np.arange(n)
    margins = x - x[rows, y][:, None] + 1.0
    counted = np.count_nonzero(margins.real > 0, axis=1)  # the label's own margin (exactly 1) included
    margins[rows, y] = 0.0
    positive = margins.real > 0
    loss = (margins * positive).sum() / n
    dx = positive.astype(np.float64)
    if bug != "no_label_term":
        dx[rows, y] -= counted if bug == "label_margin_counted" else positive.sum(axis=1)
    dx = dx if bug == "missing_mean" else dx / n
    return loss, -dx if bug == "sign" else dx


def affine_l2_loss(x: Array, w: Array, b: Array, y: Array, reg: float,
                   bug: str | None = None) -> tuple[Array, dict[str, Array]]:
    """Softmax classifier on affine scores plus 0.5 reg ||w||^2 (the bias is not regularised)."""
    scores, cache = affine_forward(x, w, b)
    data_loss, dscores = softmax_loss(scores, y)
    loss = data_loss + 0.5 * reg * np.sum(w * w)
    if bug == "data_not_averaged":
        dscores = dscores * x.shape[0]
    dx, dw, db = affine_backward(dscores, cache)
    dw = dw + {"reg_x2": 2 * reg * w, "reg_missing": 0.0, "reg_half": 0.5 * reg * w}.get(bug, reg * w)
    db = db + reg * b if bug == "reg_on_bias" else db
    return loss, {"x": dx, "w": dw, "b": db}
