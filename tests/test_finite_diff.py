"""numeric.finite_diff: step sizes, central/Richardson/complex-step accuracy, directional probes, error curves."""

import numpy as np
import pytest

from numeric import CATALOG, backprop, init_params, random_batch
from numeric import finite_diff as fd
from numeric.metrics import block_relative_error


def cubic(p):
    """f = sum(sin(w) * w^2); f' = cos(w) w^2 + 2 w sin(w)."""
    return float(np.sum(np.sin(p["w"]) * p["w"] ** 2))


def cubic_grad(w):
    return np.cos(w) * w**2 + 2 * w * np.sin(w)


def test_step_is_eps_cube_root_times_max_1_abs_theta_and_exactly_representable():
    theta = np.array([0.0, 0.5, -3.0, 1e4])
    h = fd.step_sizes(theta)
    eps13 = np.finfo(np.float64).eps ** (1 / 3)
    np.testing.assert_allclose(h, eps13 * np.maximum(1, np.abs(theta)), rtol=1e-3)
    np.testing.assert_array_equal((theta + h) - theta, h)
    h32 = fd.step_sizes(theta.astype(np.float32))
    assert h32.dtype == np.float32 and h32[0] == pytest.approx(np.finfo(np.float32).eps ** (1 / 3), rel=1e-3)


def test_richardson_beats_central_and_its_error_estimate_covers_the_true_error():
    w = np.linspace(-2, 3, 11)
    d = fd.differences(cubic, {"w": w}, "w")
    true = cubic_grad(w)
    central_err = np.abs(d.central - true)
    rich_err = np.abs(d.richardson - true)
    assert np.max(rich_err) < np.max(central_err) and np.max(rich_err) < 1e-9
    assert np.all(rich_err <= 10 * d.error)


def test_complex_step_is_exact_to_rounding_for_analytic_code():
    w = np.linspace(-2, 3, 11)
    cs = fd.complex_step(lambda p: np.sum(np.sin(p["w"]) * p["w"] ** 2), {"w": w}, "w")
    np.testing.assert_allclose(cs, cubic_grad(w), rtol=1e-14, atol=1e-15)


def test_complex_step_gives_none_for_code_that_rejects_complex_input_or_returns_a_real_number():
    params = {"w": np.array([0.3, -0.2])}
    assert fd.complex_step(lambda p: float(np.sum(np.logaddexp(0, p["w"]))), params, "w") is None
    assert fd.complex_step(lambda p: float(np.sum(np.real(p["w"]) ** 2)), params, "w") is None

    def casts_to_float(p):
        out = np.zeros(2)
        out[:] = p["w"]  # ComplexWarning: the imaginary part is dropped
        return np.sum(out**2)

    assert fd.complex_step(casts_to_float, params, "w") is None


def test_vectorised_perturbations_give_the_same_differences_as_the_loop(rng):
    spec = CATALOG["tanh_net"]
    params = init_params(spec, rng)
    x, y = random_batch(spec, 5, rng)
    loss = backprop.SpecLoss(spec, x, y)
    for name in params:
        a = fd.differences(loss, params, name)
        b = fd.differences(loss, params, name, vectorised=False)
        # two Richardson estimates, each within its own truncation error of the truth: compare them by the
        # block-relative metric at the method's bound (element-wise rtol explodes on the tiny elements)
        assert block_relative_error(a.richardson, b.richardson) <= 1e-7, name


def test_numerical_gradient_methods_agree_with_backprop(rng):
    spec = CATALOG["binary_classifier"]
    params = init_params(spec, rng)
    x, y = random_batch(spec, 5, rng)
    loss = backprop.SpecLoss(spec, x, y)
    g = backprop.gradients(spec, params, x, y)
    for method, tol in [("central", 1e-6), ("richardson", 1e-8), ("complex", 1e-13)]:
        num = fd.numerical_gradient(loss, params, method=method)
        for k in g:
            assert np.max(np.abs(num[k] - g[k])) <= tol * np.max(np.abs(g[k])), (method, k)


def test_random_directions_are_signed_and_zero_outside_the_chosen_blocks(rng):
    params = {"a": np.zeros((30, 4)), "b": np.zeros(5)}
    for kind in ["gaussian", "rademacher"]:
        (d,) = fd.random_directions(params, 1, rng, kind=kind, names=["a"])
        assert np.any(d["a"] > 0) and np.any(d["a"] < 0) and not np.any(d["b"])
    (r,) = fd.random_directions(params, 1, rng, kind="rademacher")
    assert set(np.unique(r["a"])) == {-1.0, 1.0}


def test_directional_derivative_matches_the_gradient_dotted_with_the_probe(rng):
    w = rng.standard_normal(20)
    (v,) = fd.random_directions({"w": w}, 1, rng)
    d = fd.directional(cubic, {"w": w}, v)
    exact = float(np.sum(cubic_grad(w) * v["w"]))
    assert abs(d.richardson[0] - exact) <= 10 * d.error[0] + 1e-12
    assert abs(d.richardson[0] - exact) <= 1e-8 * abs(exact)


def test_error_curve_falls_with_truncation_then_rises_with_rounding(rng):
    spec = CATALOG["mnist_nielsen"].with_sizes([6, 4, 3])
    params = init_params(spec, rng)
    x, y = random_batch(spec, 4, rng)
    loss = backprop.SpecLoss(spec, x, y)
    g = backprop.gradients(spec, params, x, y)
    curve = fd.error_curve(loss, params, "W1", (1, 2), grad=g)
    assert set(curve) == {"h", "central_error", "richardson_error", "complex_step_error", "chosen_h", "reference"}
    err = np.array(curve["central_error"])
    assert len(curve["h"]) == err.size == len(curve["richardson_error"])
    bottom = int(np.argmin(err))
    assert 0 < bottom < err.size - 1, "the V has a bottom inside the range"
    assert err[0] > 10 * err[bottom] and err[-1] > 10 * err[bottom]
    assert curve["complex_step_error"] < 1e-15 + 1e-12 * abs(curve["reference"])
    assert curve["reference"] == pytest.approx(float(g["W1"][1, 2]))
    assert 1e-6 < curve["chosen_h"] < 1e-5
    no_grad = fd.error_curve(loss, params, "W1", 1 * 6 + 2)  # the same element by its flat index
    assert no_grad["complex_step_error"] is None and no_grad["reference"] == pytest.approx(float(g["W1"][1, 2]))
