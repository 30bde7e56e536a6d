"""The faster derivation is the same derivation: mpmath evaluation, the worker pool, the shipped activations."""

import random

import sympy as sp

import derive.backprop.end_to_end as e2e
from derive.backprop import parallel
from derive.backprop.compose import compose_model
from derive.backprop.mp_eval import evaluate
from derive.functions.activations import (
    derive_activation,
    derive_activation_fresh,
    difference_quotient_check,
    zs,
)
from derive.functions.registry import ACTIVATIONS as SYM_ACTIVATIONS
from numeric.spec import ActSpec, ModelSpec


def _derivative(spec: ModelSpec, m: int):
    point = e2e.random_point(spec, m, seed=3)
    param = e2e.stratified_sample(spec, random.Random(0))[0]
    t = sp.Symbol("t")
    cost = compose_model(spec, m=m, fixed={**point, param: t}).cost
    return sp.diff(cost, t), t, point[param]


def test_mpmath_evaluation_equals_sympy_evaluation_of_the_derivative():
    for spec in (ModelSpec.build("3-3-2", "sigmoid,relu", "mse"), ModelSpec.build("2-3-3", "tanh,softmax", "cce"),
                 ModelSpec.build("2-2-1", "leaky_relu:0.1,sigmoid", "bce")):
        g, t, value = _derivative(spec, 2)
        fast = evaluate(g, {t: value}, 60)
        slow = sp.N(g.xreplace({t: value}), 60)
        assert abs(fast - slow) <= sp.Float("1e-50") * max(1, abs(slow)), spec


def test_mpmath_evaluation_is_not_a_constant():
    g, t, value = _derivative(ModelSpec.build("2-2-1", "sigmoid", "quadratic"), 1)
    assert evaluate(g, {t: value}, 60) != evaluate(g, {t: value + 1}, 60)


def test_the_pool_gives_the_inline_results(monkeypatch):
    spec = ModelSpec.build("2-3-1", "tanh,sigmoid", "bce")
    monkeypatch.setenv("BPV_DERIVE_JOBS", "2")
    with parallel.pool() as executor:
        pooled = e2e.start_end_to_end(spec, executor)()
    inline = e2e.derive_end_to_end(spec)
    assert pooled.holds and inline.holds
    assert [(s.label, s.check.method) for s in pooled] == [(s.label, s.check.method) for s in inline]


def test_one_job_means_no_pool(monkeypatch):
    monkeypatch.setenv("BPV_DERIVE_JOBS", "1")
    assert isinstance(parallel.pool(), parallel.Inline)


def test_no_pool_is_forked_while_another_thread_runs(monkeypatch):
    """bpv report typesets in threads while it derives: a fork then could copy a lock a thread holds."""
    import threading

    monkeypatch.setenv("BPV_DERIVE_JOBS", "2")
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        assert isinstance(parallel.pool(), parallel.Inline)
    finally:
        stop.set()
        worker.join()


def test_smooth_activations_are_proven_symbolically_kinked_ones_say_why_not():
    for name in ("sigmoid", "tanh", "identity"):
        check = derive_activation(ActSpec.parse(name)).derivation[f"{name}.diff"].check
        assert check.holds and check.proven, (name, check.method)
        assert "difference quotient" in check.method
    check = derive_activation(ActSpec.parse("relu")).derivation["relu.diff"].check
    assert check.holds and not check.proven and "branches on the sign of z" in check.method


def test_a_wrong_derivative_is_refuted_by_the_difference_quotient():
    f = SYM_ACTIVATIONS["sigmoid"].definition(zs, None)
    wrong = sp.exp(-zs) / (1 + sp.exp(-zs))  # missing a factor 1/(1 + e^-z)
    check = difference_quotient_check(f, zs, wrong)
    assert check.holds is False and check.counterexample


def test_the_shipped_activation_is_the_derived_one():
    act = ActSpec.parse("sigmoid")
    served, fresh = derive_activation(act), derive_activation_fresh(act)
    assert served.fprime == fresh.fprime and served.closed == fresh.closed
    def steps(result):
        return [(s.label, s.rhs, s.holds, s.check and s.check.method) for s in result.derivation]

    assert steps(served) == steps(fresh)
