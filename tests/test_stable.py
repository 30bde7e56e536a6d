"""The stable and closed forms the kernels print: each proven equal to the raw form, and wrong forms refuted."""

import pytest
import sympy as sp
from sympy.codegen.cfunctions import log1p

from derive.functions.stable import a, derive_stable_forms, prove_on_real_line, stable_activation, stable_cost, z
from numeric.catalog import CATALOG
from numeric.spec import ActSpec

ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "elu"]


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_each_activation_form_and_its_derivative_from_the_forward_value_hold(name):
    _, _, d = stable_activation(ActSpec.parse(name))
    assert d.holds, [(s.label, s.check) for s in d.failures()]
    assert all("z = 0: exact" in s.method for s in d)


def test_sigmoid_prime_is_printed_from_the_forward_value():
    _, prime, _ = stable_activation(ActSpec.parse("sigmoid"))
    assert prime.expr == a * (1 - a)


@pytest.mark.parametrize(("cost", "out"), [("cce", "softmax"), ("bce", "sigmoid"), ("quadratic", "sigmoid"),
                                           ("mse", "identity"), ("squared", "relu"), ("bce", "tanh")])
def test_each_cost_form_holds(cost, out):
    pieces, d = stable_cost(cost, ActSpec.parse(out))
    assert d.holds, [(s.label, s.check) for s in d.failures()]
    assert "cost_term" in pieces


def test_bce_after_sigmoid_is_softplus_minus_yz_with_a_proof_not_evidence():
    _, d = stable_cost("bce", ActSpec.parse("sigmoid"))
    step = d["bce.sigmoid_fused"]
    assert step.holds and "numeric" not in step.method


def test_softplus_is_split_on_the_sign_of_z_with_log1p():
    fwd, _, _ = stable_activation(ActSpec.parse("softplus"))
    assert isinstance(fwd.expr, sp.Piecewise)
    assert fwd.expr.args[0][1] == (z > 0) and fwd.expr.has(log1p)


def test_a_wrong_sigmoid_derivative_is_refuted_with_a_counterexample():
    sig = 1 / (1 + sp.exp(-z))
    check = prove_on_real_line(sp.diff(sig, z), (a * (1 + a)).xreplace({a: sig}))
    assert check.holds is False and check.counterexample


def test_a_softplus_that_forgets_the_z_on_the_positive_side_is_refuted():
    wrong = sp.Piecewise((log1p(sp.exp(-z)), z > 0), (log1p(sp.exp(z)), True))
    check = prove_on_real_line(sp.log(1 + sp.exp(z)), wrong)
    assert check.holds is False
    assert check.method.startswith("z > 0")


@pytest.mark.parametrize("spec", list(CATALOG.values()), ids=lambda s: s.name)
def test_every_catalog_family_has_all_its_pieces_proven(spec):
    forms = derive_stable_forms(spec)
    assert forms.holds
    for act in spec.activations:
        if act.name != "softmax":
            assert act.name in "".join(forms.pieces)
