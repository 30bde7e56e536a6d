"""compose_model writes the forward pass and the cost out symbolically, per layout, reduction and activation."""

import numpy as np
import pytest
import sympy as sp

from derive.backprop.compose import ProvenActivation, activation_function, compose_model, x
from derive.core.symbols import b, w, y
from derive.functions.activations import derive_activation, zs
from derive.layers import LAYERS, symbolic_layer
from numeric.spec import ActSpec, ModelSpec


def test_parameters_are_book_indexed_and_shaped_per_the_columns_layout():
    cm = compose_model(ModelSpec.build("2-3-1", "sigmoid", "quadratic"))
    assert cm.theta["W1"].shape == (3, 2) and cm.theta["b1"].shape == (3, 1)
    assert cm.theta["W1"][2, 1] == w[1, 3, 2] and cm.theta["b2"][0, 0] == b[2, 1]
    assert cm.theta_symbols[:3] == [w[1, 1, 1], w[1, 1, 2], w[1, 2, 1]]
    assert len(cm.theta_symbols) == 13


def test_rows_layout_transposes_the_matrices_but_not_the_book_indices():
    spec = ModelSpec.build("3-2", "identity", "squared", "sum", "rows", bias=False)
    cm = compose_model(spec)
    assert cm.theta["W1"].shape == (3, 2) and cm.theta["W1"][2, 0] == w[1, 1, 3]
    assert "b1" not in cm.theta
    expected = sum(w[1, 1, k] * x[1, k] for k in (1, 2, 3))
    assert sp.expand(cm.z[1][0][0] - expected) == 0


def test_linear_quadratic_cost_is_the_written_out_forward_pass():
    cm = compose_model(ModelSpec.build("2-1", "identity", "quadratic"))
    by_hand = (w[1, 1, 1] * x[1, 1] + w[1, 1, 2] * x[1, 2] + b[1, 1] - y[1, 1]) ** 2 / 2
    assert sp.expand(cm.cost - by_hand) == 0


@pytest.mark.parametrize("reduction, factor", [("mean", sp.Rational(1, 3)), ("sum", 1)])
def test_batch_cost_reduces_the_per_sample_costs(reduction, factor):
    cm = compose_model(ModelSpec.build("2-1", "identity", "quadratic", reduction), m=3)
    assert len(cm.per_sample_cost) == 3 and cm.x[2][1] == x[3, 2] and cm.y[2][0] == y[3, 1]
    assert sp.expand(cm.cost - factor * sum(cm.per_sample_cost)) == 0


def test_activation_at_a_number_is_its_definition():
    sig = activation_function("sigmoid")
    assert sig(sp.Rational(1, 3)) == derive_activation(ActSpec("sigmoid")).f.xreplace({zs: sp.Rational(1, 3)})
    assert activation_function("relu")(sp.Integer(-2)) == 0
    with pytest.raises(ValueError):
        activation_function("softmax")


def test_sigmoid_derivative_is_the_proven_closed_form_and_relu_uses_h0_equal_0():
    t = sp.Symbol("t")
    sig = activation_function("sigmoid")
    assert sp.diff(sig(t), t) == sig(t) * (1 - sig(t))
    relu_d = sp.diff(activation_function("relu")(t), t)
    assert relu_d.xreplace({t: sp.Integer(0)}) == 0 and relu_d.xreplace({t: sp.Integer(1)}) == 1
    assert "sigmoid.closed" in compose_model(ModelSpec.build("2-1", "sigmoid", "quadratic")).uses


def test_numpy_printer_parenthesises_the_argument():
    t, u = sp.symbols("t u")
    f = sp.lambdify((t, u), activation_function("sigmoid")(-t * u + 1), "numpy")
    assert np.isclose(f(2.0, 3.0), 1 / (1 + np.exp(-(-2.0 * 3.0 + 1))))


def test_fixed_leaves_give_the_same_derivative_as_the_full_composition():
    spec = ModelSpec.build("2-2-1", "relu,sigmoid", "bce")
    full = compose_model(spec)
    point = {s: sp.Rational(k + 2, 7) * (-1) ** k for k, s in enumerate(full.theta_symbols)}
    point.update({x[1, 1]: sp.Rational(1, 2), x[1, 2]: sp.Rational(-1, 3), y[1, 1]: sp.Integer(1)})
    target = w[1, 2, 1]
    fixed = {k: v for k, v in point.items() if k != target}
    part = compose_model(spec, fixed=fixed)
    g_full = sp.N(sp.diff(full.cost, target).xreplace(point), 40)
    g_part = sp.N(sp.diff(part.cost, target).xreplace({target: point[target]}), 40)
    assert abs(g_full - g_part) < 1e-35


def test_softmax_outputs_sum_to_one_and_bce_is_the_textbook_form():
    cm = compose_model(ModelSpec.build("2-3", "softmax", "cce"))
    values = {s: sp.Rational(k, 5) for k, s in enumerate(cm.theta_symbols)}
    values.update({x[1, 1]: 1, x[1, 2]: -1})
    assert abs(sp.N(sum(v.xreplace(values) for v in cm.a[1][0]), 30) - 1) < 1e-25
    bce = compose_model(ModelSpec.build("1-1", "identity", "bce"))
    a_ = bce.a[1][0][0]
    assert sp.expand(bce.cost + y[1, 1] * sp.log(a_) + (1 - y[1, 1]) * sp.log(1 - a_)) == 0


def test_opaque_activation_classes_are_sympy_functions():
    assert issubclass(activation_function("tanh"), ProvenActivation)
    with pytest.raises(ValueError):
        compose_model(ModelSpec.build("2-1", "identity", "quadratic"), m=0)


@pytest.mark.parametrize("layout", ["columns", "rows"])
def test_the_sympy_layer_pairs_with_the_numpy_layer(layout):
    spec = ModelSpec.build("3-4-2", "tanh,sigmoid", "quadratic", layout=layout)
    rng = np.random.default_rng(0)
    for layer in spec.layers:
        dense = symbolic_layer(layer)
        assert dense.kind == layer.kind and type(dense) is LAYERS[layer.kind]
        assert [p.key for p in dense.params] == layer.param_names()
        assert {p.key: p.shape(spec.layout) for p in dense.params} == layer.param_shapes(spec.layout)
        # the same affine map: SymPy's forward at numbers equals the NumPy reference's pre-activation
        p = {name: rng.standard_normal(shape) for name, shape in layer.param_shapes(spec.layout).items()}
        x_in = rng.standard_normal(layer.n_in)
        values = {e: float(p[param.key][param.position(spec.layout, *[i - 1 for i in e.indices[1:]])])
                  for param in dense.params for e in param.matrix(spec.layout)}
        z_sym = [float(v) for v in dense.forward_at(list(x_in), value=values.__getitem__)]
        cols = {name: spec.layout.to_columns(arr) for name, arr in p.items()}
        z_np = layer.pre_activation(cols, x_in.reshape(-1, 1))[:, 0]
        assert np.allclose(z_sym, z_np, rtol=1e-14, atol=1e-14)


def test_the_dense_layer_writes_its_forward_once_in_three_forms():
    dense = symbolic_layer(ModelSpec.build("2-3-1", "sigmoid", "quadratic").layers[0])
    k = sp.Symbol("k", integer=True, positive=True)
    a0 = sp.IndexedBase("a")
    index_form = dense.forward(2, lambda kk: a0[0, kk], k).doit()
    written = w[1, 2, 1] * a0[0, 1] + w[1, 2, 2] * a0[0, 2] + b[1, 2]
    assert index_form == dense.forward_at([a0[0, 1], a0[0, 2]])[1] == written
    assert dense.tex() == r"W^{1} A^{0} + b^{1} \mathbb{1}^{\mathsf{T}}"
