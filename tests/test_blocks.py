"""Past the dense layer, NumPy side: the spec, the reference backprop with normalisation, dropout and L2.

The reference is checked against finite differences and the complex step (it is the witness everything else is
compared with); the spec's validation and its views; the masks' and parameters' errors.
"""

import numpy as np
import pytest

from numeric import backprop, gradcheck
from numeric.errors import BadInput, SpecError
from numeric.instances import init_params, random_batch, random_masks
from numeric.normalisation import BatchNorm, LayerNorm
from numeric.spec import ModelSpec

BLOCKS = [{"norm": "batch"}, {"norm": "layer"}, {"keep_prob": 0.6}, {"l2": 0.7, "l2_n": 40},
          {"l2": 0.7}, {"norm": "batch", "keep_prob": 0.8, "l2": 0.3}, {"norm": "layer", "keep_prob": 0.5}]


def _problem(blocks, layout="columns", m=6, seed=0):
    spec = ModelSpec.build("4-5-6-3", "tanh,relu,softmax", "cce", layout=layout, **blocks)
    rng = np.random.default_rng(seed)
    params = init_params(spec, rng)
    x, y = random_batch(spec, m, rng)
    return spec, params, x, y, random_masks(spec, m, rng)


@pytest.mark.parametrize("layout", ["columns", "rows"])
@pytest.mark.parametrize("blocks", BLOCKS, ids=lambda b: ",".join(f"{k}={v}" for k, v in b.items()))
def test_reference_agrees_with_finite_differences_and_complex_step(blocks, layout):
    spec, params, x, y, masks = _problem(blocks, layout)
    loss, grad, p = backprop.problem(spec, params, x, y, masks=masks)
    result = gradcheck(loss, grad, p, mode="full")
    assert result.ok, str(result)


def test_the_bias_before_batch_norm_has_zero_gradient_and_before_layer_norm_not():
    spec, params, x, y, _ = _problem({"norm": "batch"})
    g = backprop.gradients(spec, params, x, y)
    scale = max(np.max(np.abs(g[k])) for k in g if k not in spec.zero_gradient_blocks())
    assert spec.zero_gradient_blocks() == ["b1", "b2"]
    assert np.max(np.abs(g["b1"])) <= 1e-12 * scale and np.max(np.abs(g["b2"])) <= 1e-12 * scale
    spec, params, x, y, _ = _problem({"norm": "layer"})
    g = backprop.gradients(spec, params, x, y)
    assert np.max(np.abs(g["b1"])) > 1e-6


def test_l2_adds_lambda_over_n_times_w_to_the_weights_only():
    spec, params, x, y, _ = _problem({"l2": 2.0, "l2_n": 10})
    plain = ModelSpec.build("4-5-6-3", "tanh,relu,softmax", "cce")
    g, g0 = backprop.gradients(spec, params, x, y), backprop.gradients(plain, params, x, y)
    for key in g:
        expected = g0[key] + (2.0 / 10 * params[key] if key.startswith("W") else 0.0)
        np.testing.assert_allclose(g[key], expected, rtol=0, atol=1e-15)
    term = 2.0 / (2 * 10) * sum(np.sum(params[k] ** 2) for k in ("W1", "W2", "W3"))
    assert backprop.loss(spec, params, x, y) == pytest.approx(backprop.loss(plain, params, x, y) + term, abs=1e-14)
    # n defaults to the batch size m
    spec_m = ModelSpec.build("4-5-6-3", "tanh,relu,softmax", "cce", l2=2.0)
    gm = backprop.gradients(spec_m, params, x, y)
    np.testing.assert_allclose(gm["W1"], g0["W1"] + 2.0 / 6 * params["W1"], atol=1e-15)


def test_dropout_with_all_ones_mask_over_p_scales_and_masks_none_switches_it_off():
    spec, params, x, y, _ = _problem({"keep_prob": 0.5})
    plain = ModelSpec.build("4-5-6-3", "tanh,relu,softmax", "cce")
    assert backprop.loss(spec, params, x, y) == backprop.loss(plain, params, x, y)  # masks=None: no dropout
    ones = {k: np.ones((n, 6)) for k, n in (("M1", 5), ("M2", 6))}
    a = backprop.forward_cache(spec, params, x, masks=ones)[1]
    a0 = backprop.forward_cache(plain, params, x)[1]
    np.testing.assert_allclose(a[1], a0[1] / 0.5)  # kept units are scaled by 1/p


def test_bad_masks_and_params_are_clear_errors():
    spec, params, x, y, masks = _problem({"keep_prob": 0.5})
    with pytest.raises(BadInput, match="expected keys M1, M2; missing M2"):
        backprop.gradients(spec, params, x, y, masks={"M1": masks["M1"]})
    with pytest.raises(BadInput, match=r"M1 has shape \(6, 5\), expected \(5, 6\)"):
        backprop.gradients(spec, params, x, y, masks={"M1": masks["M1"].T, "M2": masks["M2"]})
    with pytest.raises(BadInput, match="only 0 and 1"):
        backprop.gradients(spec, params, x, y, masks={"M1": 2 * masks["M1"], "M2": masks["M2"]})
    plain = ModelSpec.build("4-5-6-3", "tanh,relu,softmax", "cce")
    with pytest.raises(BadInput, match="has no dropout"):
        backprop.gradients(plain, params, x, y, masks=masks)
    spec, params, x, y, _ = _problem({"norm": "batch"}, layout="rows")
    params["gamma1"] = params["gamma1"].ravel()
    with pytest.raises(BadInput, match=r"gamma1 has shape \(5,\), expected \(1, 5\)"):
        backprop.gradients(spec, params, x, y)
    spec, params, x, y, _ = _problem({"norm": "batch"}, m=1)
    with pytest.raises(BadInput, match="only 1: the variance of one value is 0"):
        backprop.gradients(spec, params, x, y)


@pytest.mark.parametrize("kwargs, message", [
    ({"norm": "group"}, "unknown --norm 'group'"),
    ({"keep_prob": 0.0}, r"must lie in \(0, 1\]"),
    ({"keep_prob": 1.5}, r"must lie in \(0, 1\]"),
    ({"l2": -1.0}, "must be >= 0"),
    ({"l2": float("nan")}, "must be finite"),
    ({"l2": 1.0, "l2_n": 0}, "positive integer"),
    ({"l2_n": 5}, "--l2-n without --l2"),
])
def test_bad_block_options_are_spec_errors(kwargs, message):
    with pytest.raises(SpecError, match=message):
        ModelSpec.build("4-5-3", "relu,softmax", "cce", **kwargs)


def test_norm_and_dropout_need_a_hidden_layer():
    with pytest.raises(SpecError, match="a 1-layer net has none"):
        ModelSpec.build("4-3", "softmax", "cce", norm="batch")


def test_the_spec_round_trips_and_plain_nets_keep_their_keys():
    spec = ModelSpec.build("4-5-6-3", "tanh,relu,softmax", "cce", "sum", "rows", norm="layer", keep_prob=0.5,
                           l2=0.1, l2_n=100)
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert spec.with_sizes([3, 4, 5, 2]).extras_dict() == spec.extras_dict()
    assert "--norm layer --keep-prob 0.5 --l2 0.1 --l2-n 100" in spec.cli_args()
    plain = ModelSpec.build("4-5-3", "relu,softmax", "cce")
    assert "norm" not in plain.family_key() and set(plain.to_dict()) == {
        "name", "sizes", "activations", "cost", "reduction", "layout", "bias"}
    assert plain.plain and not spec.plain
    assert spec.param_names() == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]


def test_normalisations_normalise():
    rng = np.random.default_rng(1)
    z = 3 + 2 * rng.standard_normal((4, 7))
    p = {"gamma1": np.ones((4, 1)), "beta1": np.zeros((4, 1))}
    y, _ = BatchNorm(1, 4).forward(p, z)
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=1), 1, atol=1e-4)  # eps = 1e-5 keeps it just below 1
    y, _ = LayerNorm(1, 4).forward(p, z)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)
