"""numeric.diagnose: the sentences that say how a gradient block is wrong, and where the error enters."""

import functools

import numpy as np

from numeric.diagnose import batch_size_candidates, describe_factor, diagnose_block, fit_scale, localise_layers


def test_factors_are_named_after_their_likely_cause():
    assert "sign flip" in describe_factor(-1.0)
    assert "forgotten 1/2" in describe_factor(2.0)
    assert "x1/2" in describe_factor(0.5)
    assert "x1/m with m = 32" in describe_factor(1 / 32, [32])
    assert "xm with m = 32" in describe_factor(32.0, [32])
    assert "1/m if the batch has m = 7" in describe_factor(1 / 7)
    assert "x1/m with m = 6" in describe_factor(-1 / 6, [6]) and "sign flip" in describe_factor(-1 / 6, [6])
    assert describe_factor(1.37).startswith("a constant factor 1.37")
    assert "sign flip" not in describe_factor(1.0)


def test_fit_scale_is_the_least_squares_factor():
    r = np.array([1.0, -2.0, 3.0])
    assert fit_scale(3 * r, r) == 3.0
    assert fit_scale(r, np.zeros(3)) is None


def _diag(g, r, **kw):
    tol = np.full(r.shape, 1e-10)
    return diagnose_block(g, r, np.abs(g - r) > tol, tol, **kw)


def test_block_diagnoses_cover_nan_zero_scale_transpose_and_rows_or_columns():
    rng = np.random.default_rng(0)
    r = rng.standard_normal((4, 4))
    assert "NaN" in _diag(np.where(r > 1, np.nan, r), r)
    assert "all-zero gradient" in _diag(np.zeros_like(r), r)
    assert "x1/m with m = 8" in _diag(r / 8, r, batch_sizes=[8])
    assert "transposed gradient" in _diag(r.T.copy(), r)
    g = r.copy()
    g[2] += 1.0
    assert "confined to rows 2 of 4" in _diag(g, r)
    g = r.copy()
    g[:, 1] *= 3
    assert "columns 1 of 4" in _diag(g, r)
    noisy = r + rng.standard_normal(r.shape)
    assert "no constant factor" in _diag(noisy, r)


def test_localisation_follows_bp2_down_the_layers():
    v = {"W1": "wrong", "b1": "wrong", "W2": "wrong", "b2": "wrong", "W3": "ok", "b3": "ok"}
    assert "enters at delta^2" in localise_layers(v)
    every = dict.fromkeys(v, "wrong")
    assert "every block of every layer" in localise_layers(every)
    local = {"W1": "ok", "b1": "ok", "W2": "ok", "b2": "wrong", "W3": "ok", "b3": "ok"}
    assert "b2 (BP3" in localise_layers(local)
    assert localise_layers({"w": "wrong"}) is None
    assert localise_layers(dict.fromkeys(v, "ok")) is None


def test_batch_size_comes_from_an_attribute_or_the_arrays_a_loss_closes_over():
    x, y = np.zeros((5, 12)), np.zeros((3, 12))
    params = {"W": np.zeros((3, 5))}

    def loss(p):
        return float(np.sum(p["W"] @ x - y))

    assert batch_size_candidates(loss, params) == [12]

    def loss_of(p, x, y):
        return 0.0

    assert batch_size_candidates(functools.partial(loss_of, x=x, y=y), params) == [12]

    class Loss:
        batch_size = 9

    assert batch_size_candidates(Loss(), params) == [9]
