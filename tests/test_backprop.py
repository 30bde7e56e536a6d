"""numeric.backprop: the hand-written reference backprop agrees with finite differences and the complex step."""

import json
import warnings

import numpy as np
import pytest

from numeric import CATALOG, BadInput, ModelSpec, backprop, init_params, random_batch
from numeric import finite_diff as fd

SAMPLE_PER_BLOCK = 200  # big catalog models: a stratified sample of this many elements of every block


def block_errors(spec, params, x, y, rng, sample=SAMPLE_PER_BLOCK):
    """Worst block-relative error of backprop against central differences, Richardson and the complex step.

    Every element of blocks up to ``sample`` elements; a random sample of ``sample`` elements of each bigger block
    (stratified by block: 200 of W1's 23520 in mnist_nielsen, of 78400 in softmax_classifier, of 100000 in
    numpy_tutorial, and so on). The exhaustive check of those models is in benchmarks/bench_gradcheck.py.
    With dropout, one seeded mask per layer; a block whose true gradient is identically zero (the bias before batch
    norm) is measured against the largest block's scale, as bpv verify does.
    """
    from numeric.instances import random_masks

    masks = random_masks(spec, x.shape[spec.layout.sample_axis], rng)
    g = backprop.gradients(spec, params, x, y, masks=masks)
    loss = backprop.SpecLoss(spec, x, y, masks)
    zero = spec.zero_gradient_blocks()
    scale = max(np.max(np.abs(b)) for k, b in g.items() if k not in zero)
    worst_rich = worst_cs = 0.0
    for name, block in g.items():
        n = block.size
        flat = np.arange(n) if n <= sample else np.sort(rng.choice(n, sample, replace=False))
        d = fd.differences(loss, params, name, flat)
        cs = fd.complex_step(loss, params, name, flat)
        assert cs is not None, f"{spec.title}: the complex step should work through backprop.loss"
        gk = block.reshape(-1)[flat]
        if name in zero:
            assert np.max(np.abs(gk)) <= 1e-12 * scale, f"{name}: the bias before batch norm has a nonzero gradient"

        def own(numerical, name=name):
            return scale if name in zero else max(np.max(np.abs(numerical)), 1e-300)

        for numerical in (d.central, d.richardson):
            worst_rich = max(worst_rich, np.max(np.abs(gk - numerical)) / own(numerical))
        worst_cs = max(worst_cs, np.max(np.abs(gk - cs)) / own(cs))
    return worst_rich, worst_cs


@pytest.mark.parametrize("name", list(CATALOG))
def test_every_catalog_model_agrees_with_central_richardson_and_complex_step(name, rng):
    spec = CATALOG[name]
    params = init_params(spec, rng)
    x, y = random_batch(spec, 4, rng)
    rich, cs = block_errors(spec, params, x, y, rng)
    assert rich <= 1e-7, f"{name}: central/Richardson block-relative error {rich:.2e}"
    assert cs <= 1e-12, f"{name}: complex-step block-relative error {cs:.2e}"


def _variants():
    for act in ["identity", "sigmoid", "tanh", "relu", "leaky_relu:0.1", "softplus", "elu:1.0"]:
        costs = ["quadratic", "squared", "mse"] + (["bce"] if act == "sigmoid" else [])
        for cost in costs:
            for layout, reduction, bias in [("columns", "mean", True), ("rows", "sum", False)]:
                yield ModelSpec.build("3-4-2", f"tanh,{act}", cost, reduction, layout, bias)
    for cost in ["cce", "bce", "mse"]:
        for layout in ["columns", "rows"]:
            yield ModelSpec.build("3-4-3", "elu,softmax", cost, "mean" if layout == "rows" else "sum", layout)


@pytest.mark.parametrize("spec", list(_variants()), ids=lambda s: s.slug)
def test_every_activation_cost_layout_reduction_and_bias_setting_agrees(spec, rng):
    params = init_params(spec, rng)
    x, y = random_batch(spec, 5, rng)
    rich, cs = block_errors(spec, params, x, y, rng)
    assert rich <= 1e-7 and cs <= 1e-12, (rich, cs)


def test_gradient_keys_and_shapes_match_params_without_b_keys_when_bias_is_off(rng):
    spec = CATALOG["numpy_tutorial"].with_sizes([6, 5, 3])
    params = init_params(spec, rng)
    x, y = random_batch(spec, 4, rng)
    g = backprop.gradients(spec, params, x, y)
    assert list(g) == ["W1", "W2"]
    assert {k: v.shape for k, v in g.items()} == spec.param_shapes()


def test_integer_labels_give_the_same_loss_and_gradients_as_one_hot(rng):
    for layout in ["columns", "rows"]:
        spec = ModelSpec.build("4-5-3", "relu,softmax", "cce", layout=layout)
        params = init_params(spec, rng)
        x, labels = random_batch(spec, 7, np.random.default_rng(3), labels="int")
        _, onehot = random_batch(spec, 7, np.random.default_rng(3), labels="onehot")
        assert backprop.loss(spec, params, x, labels) == pytest.approx(backprop.loss(spec, params, x, onehot),
                                                                       rel=1e-15)
        g_int = backprop.gradients(spec, params, x, labels)
        g_hot = backprop.gradients(spec, params, x, onehot)
        for k in g_int:
            np.testing.assert_allclose(g_int[k], g_hot[k], rtol=1e-14, atol=1e-16)


def test_rows_layout_is_the_transpose_of_columns(rng):
    cols = ModelSpec.build("3-4-2", "tanh,sigmoid", "bce")
    rows = ModelSpec.build("3-4-2", "tanh,sigmoid", "bce", layout="rows")
    p = init_params(cols, rng)
    x, y = random_batch(cols, 5, rng)
    p_rows = {k: v.T for k, v in p.items()}
    assert backprop.loss(rows, p_rows, x.T, y.T) == pytest.approx(backprop.loss(cols, p, x, y), rel=1e-14)
    g_cols = backprop.gradients(cols, p, x, y)
    g_rows = backprop.gradients(rows, p_rows, x.T, y.T)
    for k in g_cols:
        np.testing.assert_allclose(g_rows[k], g_cols[k].T, rtol=1e-13)


def test_forward_cache_keeps_x_and_every_layer_in_the_spec_layout(rng):
    spec = ModelSpec.build("3-4-2", "relu,identity", "mse", layout="rows")
    params = init_params(spec, rng)
    x, _ = random_batch(spec, 6, rng)
    zs, activations = backprop.forward_cache(spec, params, x)
    assert activations[0] is x or np.array_equal(activations[0], x)
    assert [z.shape for z in zs] == [(6, 4), (6, 2)]
    np.testing.assert_array_equal(backprop.forward(spec, params, x), activations[-1])
    np.testing.assert_array_equal(activations[1], np.where(zs[0] > 0, zs[0], 0.0))


@pytest.mark.parametrize("out,cost", [("sigmoid", "bce"), ("softmax", "cce"), ("softplus", "mse"),
                                      ("sigmoid", "quadratic"), ("elu", "squared"), ("tanh", "mse")])
def test_no_overflow_warning_for_pre_activations_up_to_1e3(out, cost):
    n_out = 3 if out == "softmax" else 2
    spec = ModelSpec.build([2, n_out], out, cost)
    params = {"W1": np.array([[1000.0, 0.0], [-1000.0, 0.0], [500.0, -500.0]])[:n_out], "b1": np.zeros((n_out, 1))}
    x = np.array([[1.0, -1.0, 0.5], [0.0, 1.0, 1.0]])
    y = np.eye(n_out)[:, [0, 1, 0]] if cost in ("cce",) else (np.array([[1.0, 0, 1], [0, 1, 0], [1, 1, 0]])[:n_out])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = backprop.loss(spec, params, x, y)
        g = backprop.gradients(spec, params, x, y)
        cs = fd.complex_step(backprop.SpecLoss(spec, x, y), params, "W1")
    assert np.isfinite(value) and all(np.all(np.isfinite(v)) for v in g.values())
    assert cs is not None and np.all(np.isfinite(cs))


def test_bce_with_sigmoid_at_z_1000_is_the_exact_linear_tail():
    spec = ModelSpec.build([1, 1], "sigmoid", "bce")
    params = {"W1": np.array([[1000.0]]), "b1": np.zeros((1, 1))}
    # y = 0 and z = 1000: -ln(1 - sigmoid(1000)) = softplus(1000) = 1000 exactly in floating point
    assert backprop.loss(spec, params, np.array([[1.0]]), np.array([[0.0]])) == 1000.0


def test_float32_stays_float32_and_agrees_at_float32_accuracy(rng):
    spec = ModelSpec.build("3-5-2", "tanh,sigmoid", "bce")
    p64 = init_params(spec, rng)
    x, y = random_batch(spec, 6, rng)
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    g32 = backprop.gradients(spec, p32, x.astype(np.float32), y.astype(np.float32))
    g64 = backprop.gradients(spec, p64, x, y)
    for k in g64:
        assert g32[k].dtype == np.float32
        assert np.max(np.abs(g32[k] - g64[k])) <= 1e-5 * np.max(np.abs(g64[k]))


def test_complex_inputs_give_a_complex_loss_whose_imaginary_part_is_the_directional_derivative(rng):
    spec = CATALOG["regression"]
    params = init_params(spec, rng)
    x, y = random_batch(spec, 4, rng)
    v = rng.standard_normal(x.shape)
    value = backprop.loss(spec, params, x + 1e-20j * v, y)
    assert isinstance(value, complex)
    d = fd.directional(lambda p: backprop.loss(spec, params, x + p["t"][0, 0] * v, y), {"t": np.zeros((1, 1))},
                       {"t": np.ones((1, 1))})
    assert value.imag / 1e-20 == pytest.approx(float(d.richardson[0]), rel=1e-7)


def test_perturbed_losses_equal_one_loss_call_per_element(rng):
    for spec in [CATALOG["regression"], CATALOG["numpy_tutorial"].with_sizes([5, 4, 3]),
                 ModelSpec.build("3-4-3", "elu,softmax", "cce", layout="rows")]:
        params = init_params(spec, rng)
        x, y = random_batch(spec, 5, rng)
        loss = backprop.SpecLoss(spec, x, y)
        for name in params:
            flat = np.arange(params[name].size)
            steps = rng.standard_normal(flat.size) * 1e-3
            fast = loss.perturbed(params, name, flat, steps)
            slow = fd.perturbed_losses(loss, params, name, flat, steps, vectorised=False)
            np.testing.assert_allclose(fast, slow, rtol=1e-12)


@pytest.mark.parametrize("change,words", [
    (lambda p: p.pop("b2"), ["missing b2"]),
    (lambda p: p.update(W3=np.zeros((2, 2))), ["unexpected W3"]),
    (lambda p: p.update(W1=np.zeros((3, 4))), ["W1", "(3, 4)", "(4, 3)"]),
])
def test_bad_params_raise_badinput_naming_the_parameter_and_the_expected_shape(change, words, rng):
    spec = ModelSpec.build("3-4-2", "sigmoid", "quadratic")
    params = init_params(spec, rng)
    x, y = random_batch(spec, 3, rng)
    change(params)
    with pytest.raises(BadInput) as err:
        backprop.gradients(spec, params, x, y)
    for w in words:
        assert w in str(err.value)


def test_bad_x_y_and_labels_raise_badinput(rng):
    spec = ModelSpec.build("3-4-2", "relu,softmax", "cce")
    params = init_params(spec, rng)
    x, y = random_batch(spec, 5, rng)
    with pytest.raises(BadInput, match="x has shape"):
        backprop.loss(spec, params, x.T, y)
    with pytest.raises(BadInput, match="y has shape"):
        backprop.loss(spec, params, x, y.T)
    with pytest.raises(BadInput, match=r"class labels must lie in 0\.\.1"):
        backprop.loss(spec, params, x, np.array([0, 1, 2, 1, 0]))


def test_problem_returns_a_loss_that_knows_the_batch_size(rng):
    spec = CATALOG["binary_classifier"]
    params = init_params(spec, rng)
    x, y = random_batch(spec, 9, rng)
    loss, grad, p = backprop.problem(spec, params, x, y)
    assert loss.batch_size == 9 and loss(p) == backprop.loss(spec, params, x, y)
    assert json.dumps({k: v.tolist() for k, v in grad(p).items()})
