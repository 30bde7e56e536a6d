"""Planted bugs in the blocks past the dense layer: batch norm, inverted dropout, an L2 term (not a test module).

CS231n-style layers written for bpv, samples as ROWS (x is (N, D)), each a correct backward with planted mistakes
as ``bug=`` branches, so that each bug is a small, readable variant of the correct code:

* ``batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache)`` and ``batchnorm_backward(dout, cache, bug)``,
  written as the staged graph (x -> mu -> centred -> var -> inv_std -> xhat -> out) and backpropagated stage by
  stage; bug ``no_mu_path``: the path through the batch mean mu dropped (dx without dmu / N);
* ``dropout_forward(x, dropout_param) -> (out, cache)``, ``dropout_param = {"p": keep probability, "mask": 0/1}``
  (the mask is given, so the forward is a function), and ``dropout_backward(dout, cache, bug)``; bug ``no_rescale``:
  the 1/p of inverted dropout forgotten in the backward pass;
* ``two_layer_loss(params, x, y, reg, n, ...) -> (loss, grads)``: affine - batch norm - ReLU - dropout - affine -
  softmax, plus the L2 term (reg / 2n) (||W1||^2 + ||W2||^2) (Nielsen's convention: n the training-set size; the
  biases, gamma and beta are not regularised); bugs ``reg_no_1_over_n`` (reg W where reg W / n is meant) and
  ``bias_kept`` (db1 summed from the gradient at batch norm's output: the bias before batch norm has a true gradient
  of exactly zero, its shift removed by the mean subtraction).

Forwards stay analytic (a mask on ``.real`` for ReLU, squares not ``np.var``) so that the complex step works on them.
Tests import it by name (``import block_bugs``: pytest puts tests/ on the path); benchmarks may load it by path.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["BUGS", "batchnorm_backward", "batchnorm_forward", "dropout_backward", "dropout_forward", "net_params",
           "two_layer_loss"]

Array = np.ndarray

#: bug -> the function it is planted in and what it gets wrong
BUGS = {
    "no_mu_path": "batchnorm_backward: dx without the path through the batch mean mu (dmu / N dropped)",
    "no_rescale": "dropout_backward: dx = dout * mask, without the 1/p of inverted dropout",
    "reg_no_1_over_n": "two_layer_loss: the L2 gradient reg W where (reg / n) W is meant",
    "bias_kept": "two_layer_loss: db1 from the gradient at batch norm's output (the mean subtraction cancels b1)",
}


def batchnorm_forward(x: Array, gamma: Array, beta: Array, bn_param: Mapping) -> tuple[Array, tuple]:
    """Training mode: per feature (column), the mean and biased variance over the batch (the rows)."""
    eps = bn_param.get("eps", 1e-5)
    N = x.shape[0]
    mu = x.sum(axis=0) / N
    centred = x - mu
    var = (centred * centred).sum(axis=0) / N
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = centred * inv_std
    return gamma * xhat + beta, (xhat, centred, inv_std, gamma)


def batchnorm_backward(dout: Array, cache: tuple, bug: str | None = None) -> tuple[Array, Array, Array]:
    """Back through the stages of the forward, last to first (dvar reaches mu too, but with weight sum(centred) = 0)."""
    xhat, centred, inv_std, gamma = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dinv_std = (dxhat * centred).sum(axis=0)
    dvar = dinv_std * (-0.5) * inv_std ** 3
    dcentred = dxhat * inv_std + dvar * 2.0 * centred / N
    dmu = -dcentred.sum(axis=0)
    dx = dcentred if bug == "no_mu_path" else dcentred + dmu / N
    return dx, dgamma, dbeta


def dropout_forward(x: Array, dropout_param: Mapping) -> tuple[Array, tuple]:
    """Inverted dropout with the given 0/1 mask: out = x * mask / p, p the keep probability."""
    p, mask = dropout_param["p"], dropout_param["mask"]
    return x * mask / p, (mask, p)


def dropout_backward(dout: Array, cache: tuple, bug: str | None = None) -> Array:
    mask, p = cache
    return dout * mask if bug == "no_rescale" else dout * mask / p


def _softmax_loss(scores: Array, y: Array) -> tuple[Array, Array]:
    """Mean cross-entropy of integer labels y, and its gradient; log-sum-exp around the row maximum (of .real, so
    that a complex step passes through)."""
    N = scores.shape[0]
    shifted = scores - scores.real.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    dscores = np.exp(log_p)
    dscores[np.arange(N), y] -= 1.0
    return -log_p[np.arange(N), y].sum() / N, dscores / N


def two_layer_loss(params: Mapping[str, Array], x: Array, y: Array, reg: float, n: int, bn_param: Mapping,
                   dropout_param: Mapping, bug: str | None = None) -> tuple[float, dict[str, Array]]:
    """affine - batch norm - ReLU - dropout - affine - softmax, plus (reg / 2n) sum W^2, and its gradients."""
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    z1 = x @ W1 + b1
    u1, bn_cache = batchnorm_forward(z1, params["gamma1"], params["beta1"], bn_param)
    h1 = u1 * (u1.real > 0)
    a1, drop_cache = dropout_forward(h1, dropout_param)
    scores = a1 @ W2 + b2
    data_loss, dscores = _softmax_loss(scores, y)
    loss = data_loss + reg / (2 * n) * (np.sum(W1 * W1) + np.sum(W2 * W2))

    scale = reg if bug == "reg_no_1_over_n" else reg / n  # d/dW of (reg / 2n) ||W||^2
    grads = {"W2": a1.T @ dscores + scale * W2, "b2": dscores.sum(axis=0)}
    dh1 = dropout_backward(dscores @ W2.T, drop_cache)
    du1 = dh1 * (u1 > 0)
    dz1, grads["gamma1"], grads["beta1"] = batchnorm_backward(du1, bn_cache)
    grads["W1"] = x.T @ dz1 + scale * W1
    grads["b1"] = du1.sum(axis=0) if bug == "bias_kept" else dz1.sum(axis=0)
    return loss, grads


def net_params(rng: np.random.Generator, D: int, H: int, C: int) -> dict[str, Array]:
    """Parameters of a D-H-C net (rows layout: W1 is (D, H)); gamma away from 0, where batch norm is constant."""
    return {"W1": rng.standard_normal((D, H)) / np.sqrt(D), "b1": rng.standard_normal(H),
            "gamma1": 1.0 + 0.3 * rng.standard_normal(H), "beta1": 0.5 * rng.standard_normal(H),
            "W2": rng.standard_normal((H, C)) / np.sqrt(H), "b2": rng.standard_normal(C)}
