"""sympy.diff of the composed cost agrees with the BP recursion to >= 30 digits; a wrong BP value is caught."""

import random

import pytest
import sympy as sp

import derive.backprop.end_to_end as e2e
from derive.core.symbols import w
from numeric.spec import ModelSpec

MUST_SHOW = {
    "2-3-2 sigmoid/quadratic": ModelSpec.build("2-3-2", "sigmoid", "quadratic"),
    "4-5-3 relu,softmax/cce": ModelSpec.build("4-5-3", "relu,softmax", "cce"),
    "4-3-1 sigmoid/bce": ModelSpec.build("4-3-1", "sigmoid", "bce"),
    "no-bias rows summed relu": ModelSpec.build("3-4-2", "relu,identity", "squared", "sum", "rows", bias=False),
}


@pytest.mark.parametrize("name", list(MUST_SHOW))
def test_composed_derivative_matches_bp_on_twin_and_model(name):
    spec = MUST_SHOW[name]
    d = e2e.derive_end_to_end(spec)
    assert d.holds, [(s.label, s.check.short()) for s in d.failures()]
    tags = {s.label.split(".")[1] for s in d}
    assert tags == {"twin", "model"}
    blocks = {s.label.split(".")[2] for s in d if s.label.startswith("e2e.model")}
    assert blocks == set(spec.param_names())  # every parameter block represented


def test_stratified_sample_covers_every_block_of_the_regression_model():
    spec = ModelSpec.build("3-30-10-3-1", "sigmoid,sigmoid,relu,identity", "mse")
    picks = e2e.stratified_sample(spec, random.Random(0))
    assert {e2e.parameter_of(spec, s).key for s in picks} == set(spec.param_names()) and len(picks) <= 3 * 8


def test_the_model_is_not_composed_when_too_wide():
    d = e2e.derive_end_to_end(ModelSpec.build("5-3-1", "sigmoid", "quadratic"), full_limit=10)
    assert "not composed" in d["e2e.model.stop"].justification


def test_bp_gradient_agrees_with_the_mean_and_sum_reductions():
    mean = ModelSpec.build("2-2-1", "tanh,sigmoid", "bce", "mean")
    total = ModelSpec.build("2-2-1", "tanh,sigmoid", "bce", "sum")
    point = e2e.random_point(mean, 2)
    g_mean, g_sum = e2e.bp_gradient(mean, point, 2), e2e.bp_gradient(total, point, 2)
    assert all(abs(2 * g_mean[s] - g_sum[s]) < 1e-40 for s in g_mean)


def test_a_bp_value_without_the_activation_is_reported_with_a_counterexample(monkeypatch):
    real = e2e.bp_gradient

    def planted(spec, point, m):
        grad = real(spec, point, m)
        grad[w[1, 1, 1]] = grad[w[1, 1, 1]] / point[sp.IndexedBase("x")[1, 1]]  # BP4 without a^{l-1}_k
        return grad

    monkeypatch.setattr(e2e, "bp_gradient", planted)
    d = e2e.derive_end_to_end(ModelSpec.build("2-2-1", "sigmoid", "quadratic"))
    bad = d["e2e.twin.W1"]
    assert bad.holds is False and bad.check.counterexample["parameter"] == "w[1, 1, 1]"
