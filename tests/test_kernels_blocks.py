"""Generated kernels past the dense layer: normalisation, dropout and L2 lines printed from proven array forms.

Each kernel is compared with the hand-written reference (forward, loss, every gradient block; the bias before
batch norm by the proven-zero rule), through the complex step (analytic end to end), in float32 (float32 out), and
its ``sgd_step`` against the update rule computed from the reference's gradients.
"""

import numpy as np
import pytest

from derive.codegen import generate_kernel_source
from derive.verification.kernel_check import load_kernel
from numeric import backprop
from numeric.instances import init_params, random_batch, random_masks
from numeric.metrics import block_relative_error
from numeric.spec import ModelSpec

FAMILIES = [
    ("4-5-6-3", "relu,relu,softmax", "cce", "rows", {"norm": "batch"}),
    ("4-5-6-3", "tanh,tanh,softmax", "cce", "columns", {"norm": "layer"}),
    ("4-5-6-3", "relu,relu,softmax", "cce", "columns", {"keep_prob": 0.5}),
    ("5-4-1", "sigmoid,sigmoid", "bce", "columns", {"l2": 5.0, "l2_n": 50}),
    ("4-5-6-1", "sigmoid,tanh,identity", "mse", "rows", {"norm": "batch", "keep_prob": 0.7, "l2": 0.3}),
    ("4-5-6-2", "elu,softplus,sigmoid", "bce", "columns", {"norm": "layer", "keep_prob": 0.8}),
]


@pytest.fixture(scope="module", params=FAMILIES, ids=lambda f: f"{f[0]}-{f[3]}-" + "-".join(f[4]))
def family(request):
    net, act, cost, layout, blocks = request.param
    spec = ModelSpec.build(net, act, cost, layout=layout, **blocks)
    return spec, load_kernel(generate_kernel_source(spec), spec.slug)


def _instance(spec, m=7, seed=0):
    rng = np.random.default_rng(seed)
    params = init_params(spec, rng)
    x, y = random_batch(spec, m, rng)
    masks = random_masks(spec, m, rng)
    return params, x, y, ({} if masks is None else {"masks": masks})


def test_kernel_agrees_with_the_reference(family):
    spec, k = family
    params, x, y, extra = _instance(spec)
    g, r = k.gradients(params, x, y, **extra), backprop.gradients(spec, params, x, y, **extra)
    assert set(g) == set(spec.param_names())
    zero = spec.zero_gradient_blocks()
    scale = max(np.max(np.abs(r[key])) for key in r if key not in zero)
    for key in r:
        if key in zero:
            assert np.max(np.abs(g[key])) <= 1e-12 * scale, key
        else:
            assert block_relative_error(g[key], r[key]) <= 1e-12, key
    assert k.loss(params, x, y, **extra) == pytest.approx(backprop.loss(spec, params, x, y, **extra), rel=1e-13)
    assert block_relative_error(k.forward(params, x, **extra), backprop.forward(spec, params, x, **extra)) <= 1e-13


def test_kernel_is_analytic_complex_step_matches(family):
    spec, k = family
    params, x, y, extra = _instance(spec)
    g = k.gradients(params, x, y, **extra)
    h = 1e-20
    for key in ("W1", "W2"):
        for flat in (0, params[key].size - 1):
            moved = {n: v.astype(complex) for n, v in params.items()}
            moved[key].reshape(-1)[flat] += 1j * h
            cs = np.imag(k.loss(moved, x, y, **extra)) / h
            assert cs == pytest.approx(g[key].reshape(-1)[flat], rel=1e-10, abs=1e-14)


def test_float32_in_float32_out(family):
    spec, k = family
    params, x, y, extra = _instance(spec)
    p32 = {n: v.astype(np.float32) for n, v in params.items()}
    g = k.gradients(p32, x.astype(np.float32), y.astype(np.float32), **extra)
    assert all(v.dtype == np.float32 for v in g.values())
    assert k.forward(p32, x.astype(np.float32), **extra).dtype == np.float32


def test_sgd_step_is_the_update_rule(family):
    spec, k = family
    params, x, y, extra = _instance(spec)
    eta = 0.1
    new = k.sgd_step(params, x, y, eta, **extra)
    r = backprop.gradients(spec, params, x, y, **extra)
    for key in params:
        np.testing.assert_allclose(new[key], params[key] - eta * r[key], rtol=0, atol=1e-14)
        assert new[key] is not params[key]


def test_l2_keywords_override_the_family_constants():
    spec = ModelSpec.build("5-4-1", "sigmoid,sigmoid", "bce", l2=5.0, l2_n=50)
    k = load_kernel(generate_kernel_source(spec), spec.slug)
    params, x, y, _ = _instance(spec)
    other = ModelSpec.build("5-4-1", "sigmoid,sigmoid", "bce", l2=1.5, l2_n=None)
    r = backprop.gradients(other, params, x, y)
    g = k.gradients(params, x, y, l2=1.5, l2_n=None)
    assert max(block_relative_error(g[n], r[n]) for n in r) <= 1e-12
    assert (k.L2, k.L2_N) == (5.0, 50)


def test_kernel_refuses_bad_masks_and_parameters():
    spec = ModelSpec.build("4-5-6-3", "relu,relu,softmax", "cce", norm="batch", keep_prob=0.5)
    k = load_kernel(generate_kernel_source(spec), spec.slug)
    params, x, y, extra = _instance(spec)
    with pytest.raises(ValueError, match="masks must be None or a dict with keys M1, M2"):
        k.gradients(params, x, y, masks={"M1": extra["masks"]["M1"]})
    with pytest.raises(ValueError, match="only 0 and 1"):
        k.gradients(params, x, y, masks={"M1": 3 * extra["masks"]["M1"], "M2": extra["masks"]["M2"]})
    bad = dict(params, gamma2=params["gamma2"].ravel())
    with pytest.raises(ValueError, match=r"params\['gamma2'\] has shape \(6,\); expected \(n_2, 1\) = \(6, 1\), "
                                         "the shape of b2"):
        k.gradients(bad, x, y, **extra)
