"""Planted bugs past the dense layer (tests/block_bugs.py), caught by the gradient checker and named.

For each correct layer the check passes; for each planted bug exactly the wrong parameter fails, and the diagnosis
says how: the path through the batch mean missing (an offset constant over the batch, per feature), a factor equal
to the keep probability (the 1/p of inverted dropout), the L2 pattern with the missing 1/n and the lambda it implies,
a bias before batch norm whose true gradient is exactly zero.
"""

from __future__ import annotations

import block_bugs as bb
import numpy as np
import pytest

from numeric import check_layer, gradcheck
from numeric.diagnose import diagnose_block

N, D, H, C = 8, 5, 6, 3  # batch, inputs, hidden units, classes: all distinct
EPS = {"eps": 1e-5}


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng([2026, seed])


def _bn_inputs() -> tuple:
    rng = _rng(1)
    return rng.standard_normal((N, D)), 1.0 + 0.3 * rng.standard_normal(D), rng.standard_normal(D), dict(EPS)


def _bn_backward(bug):
    return lambda dout, cache: bb.batchnorm_backward(dout, cache, bug)


def _wrong(result) -> list[str]:
    return [r.name for r in result.rows if r.verdict == "wrong"]


# ----- batch norm: the path through mu ----------------------------------------------------------------------------


def test_the_staged_batchnorm_backward_passes():
    result = check_layer(bb.batchnorm_forward, _bn_backward(None), _bn_inputs())
    assert result.ok and [r.name for r in result.rows] == ["x", "gamma", "beta"]


@pytest.mark.parametrize("mode", ["auto", "full"])
def test_batchnorm_without_the_mu_path_is_named_as_a_missing_mean_over_the_batch(mode):
    result = check_layer(bb.batchnorm_forward, _bn_backward("no_mu_path"), _bn_inputs(), mode=mode)
    assert _wrong(result) == ["x"]
    text = result.row("x").diagnosis
    assert f"the same in all {N} rows of each column" in text
    assert "with samples as rows, batch normalisation's path through the batch mean mu" in text


def test_the_error_without_mu_is_the_batch_mean_of_dxhat_over_sigma_per_feature():
    """The maths the diagnosis rests on: dx_bug - dx = mean over the batch of dxhat / sigma, one constant per column."""
    x, gamma, beta, bn = _bn_inputs()
    dout = _rng(2).standard_normal((N, D))
    _, cache = bb.batchnorm_forward(x, gamma, beta, bn)
    dx_bug, dx = bb.batchnorm_backward(dout, cache, "no_mu_path")[0], bb.batchnorm_backward(dout, cache)[0]
    inv_std = 1.0 / np.sqrt(x.var(axis=0) + bn["eps"])
    expected = np.mean(dout * gamma * inv_std, axis=0, keepdims=True)
    np.testing.assert_allclose(dx_bug - dx, np.broadcast_to(expected, (N, D)), rtol=1e-12, atol=1e-15)


def test_with_samples_as_columns_the_offset_is_per_row_and_named_so():
    def forward(x, gamma, beta, bn_param):
        out, cache = bb.batchnorm_forward(x.T, gamma, beta, bn_param)
        return out.T, cache

    def backward(dout, cache):
        dx, dgamma, dbeta = bb.batchnorm_backward(dout.T, cache, "no_mu_path")
        return dx.T, dgamma, dbeta

    x, gamma, beta, bn = _bn_inputs()
    result = check_layer(forward, backward, (x.T.copy(), gamma, beta, bn))
    assert _wrong(result) == ["x"]
    text = result.row("x").diagnosis
    assert f"the same in all {N} columns of each row" in text
    assert "with samples as columns, batch normalisation's path through the batch mean mu" in text


def test_an_error_that_is_not_constant_over_the_batch_is_not_called_a_missing_mean():
    rng = _rng(3)
    r = rng.standard_normal((N, D))
    g = r + rng.standard_normal((1, D)) * (1.0 + 0.5 * rng.standard_normal((N, 1)))  # per column, but varying
    tol = np.full(r.shape, 1e-9)
    text = diagnose_block(g, r, np.abs(g - r) > tol, tol)
    assert "mean mu" not in text and "same in all" not in text


# ----- dropout: the 1/p --------------------------------------------------------------------------------------------


def _dropout_inputs(keep: float) -> tuple:
    rng = _rng(4)
    mask = (rng.random((N, D)) < keep).astype(np.float64)
    return rng.standard_normal((N, D)), {"p": keep, "mask": mask}


@pytest.mark.parametrize("keep", [0.6, 0.5, 0.8])
def test_dropout_passes_and_its_forgotten_1_over_p_is_named_with_the_keep_probability(keep):
    inputs = _dropout_inputs(keep)
    assert check_layer(bb.dropout_forward, bb.dropout_backward, inputs).ok
    result = check_layer(bb.dropout_forward, lambda d, c: bb.dropout_backward(d, c, "no_rescale"), inputs)
    assert _wrong(result) == ["x"]
    text = result.row("x").diagnosis
    assert f"analytic = {keep:g} x numerical on every element" in text
    assert f"keep probability p = {keep:g}, its backward forgot the 1/p" in text
    dropped = int(np.count_nonzero(inputs[1]["mask"] == 0))
    assert f"{dropped} of {N * D} elements are zero in both gradients" in text


def test_a_factor_below_one_without_dropped_units_is_not_read_as_dropout():
    r = _rng(5).standard_normal((N, D))
    tol = np.full(r.shape, 1e-9)
    text = diagnose_block(0.6 * r, r, np.ones(r.shape, bool), tol)
    assert text.startswith("a constant factor 0.6") and "dropout" not in text


# ----- the two-layer net: L2 with 1/n, and the bias before batch norm -------------------------------------------------


def _net(bug: str | None, n: int, reg: float = 0.4):
    """(loss, grad, params) of the affine-BN-ReLU-dropout-affine-softmax net; x and y live in the closures, so the
    checker reads the batch size m = N from them."""
    rng = _rng(6)
    x, y = rng.standard_normal((N, D)), rng.integers(0, C, N)
    dropout = {"p": 0.7, "mask": (rng.random((N, H)) < 0.7).astype(np.float64)}
    params = bb.net_params(rng, D, H, C)

    def loss(p):
        return bb.two_layer_loss(p, x, y, reg, n, EPS, dropout, bug)[0]

    def grad(p):
        return bb.two_layer_loss(p, x, y, reg, n, EPS, dropout, bug)[1]

    return loss, grad, params


@pytest.mark.parametrize("mode", ["auto", "full"])
def test_the_correct_net_passes_and_its_zero_bias_gradient_is_said_in_words(mode):
    result = gradcheck(*_net(None, N), mode=mode, progress=False)
    assert result.ok, str(result)
    b1 = result.row("b1")
    assert "true gradient is zero" in b1.diagnosis and not np.isfinite(b1.rel_error)


@pytest.mark.parametrize("n, implied", [(N, f"lambda = 0.4 if n = m = {N}, the batch size"),
                                        (50, "lambda is about 0.392 for a large training set n")])
def test_the_l2_gradient_without_1_over_n_is_the_l2_pattern_with_the_lambda_it_implies(n, implied):
    result = gradcheck(*_net("reg_no_1_over_n", n), progress=False)
    assert sorted(_wrong(result)) == ["W1", "W2"]
    for name in ("W1", "W2"):
        text = result.row(name).diagnosis
        assert "the L2 regularisation term is not" in text
        assert f"the 1/n of (lambda/2n) ||{name}||^2 dropped" in text and implied in text
    assert "mistake is in the regularisation term" in result.localisation


def test_a_nonzero_gradient_for_the_bias_before_batch_norm_fails_with_a_clear_text():
    result = gradcheck(*_net("bias_kept", N), progress=False)
    assert _wrong(result) == ["b1"]
    text = result.row("b1").diagnosis
    assert text.startswith("the true gradient is zero: the loss does not change with b1")
    assert "a bias before batch normalisation" in text
