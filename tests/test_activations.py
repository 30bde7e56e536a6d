"""Every activation's derivative is derived from its definition and equals the textbook closed form."""

import pytest
import sympy as sp

from derive.core.steps import Derivation
from derive.functions.activations import derive_activation, derive_softmax, zs
from derive.functions.registry import ACTIVATIONS as SYM_ACTIVATIONS
from numeric.spec import ACTIVATIONS, ActSpec

ELEMENTWISE = [a for a in ACTIVATIONS if a != "softmax"]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_every_step_holds(name):
    result = derive_activation(ActSpec.parse(name))
    assert result.derivation.holds, [s.label for s in result.derivation.failures()]
    kinds = [s.kind for s in result.derivation]
    assert kinds[0] == "definition" and "derived" in kinds and kinds[-1] == "claim"


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_is_sympy_diff_of_the_definition_not_typed_in(name):
    act = ActSpec.parse(name)
    result = derive_activation(act)
    alpha = sp.Symbol("alpha", positive=True) if act.param is not None else None
    definition = SYM_ACTIVATIONS[name].definition(zs, alpha)
    assert result.fprime_raw == sp.diff(definition, zs)


def test_relu_convention_is_heaviside_with_value_zero_at_the_kink():
    result = derive_activation(ActSpec.parse("relu"))
    assert result.fprime_raw == sp.Heaviside(zs)
    assert result.fprime == sp.Heaviside(zs, 0)
    assert result.fprime.subs(zs, 0) == 0 and result.kinks == (0.0,)
    assert result.derivation["relu.convention"].kind == "convention"


def test_sigmoid_derivative_at_zero_is_a_quarter():
    result = derive_activation(ActSpec.parse("sigmoid"))
    assert result.fprime.subs(zs, 0) == sp.Rational(1, 4)


def test_a_wrong_closed_form_does_not_hold_and_shows_a_counterexample():
    result = derive_activation(ActSpec.parse("sigmoid"))
    sigma = sp.Function("sigma")
    d = Derivation("planted wrong claim")
    step = d.claim("wrong", sp.Derivative(sigma(zs), zs), sigma(zs) * (1 + sigma(zs)), result.fprime,
                   "sigma' = sigma(1 + sigma), a wrong textbook form", substitutions=result.closed_subs)
    assert step.holds is False and not d.holds
    assert "z" in step.check.counterexample and step.check.counterexample["lhs"] != step.check.counterexample["rhs"]


def test_parameterised_activations_keep_their_parameter():
    result = derive_activation(ActSpec.parse("leaky_relu:0.1"))
    assert result.fprime_numeric().subs(zs, -1) == sp.Rational(1, 10)
    assert result.fprime_numeric().subs(zs, 2) == 1


def test_softmax_jacobian_equals_diag_minus_outer_product():
    result = derive_softmax(3)
    assert result.derivation.holds
    labels = [s.label for s in result.derivation]
    assert labels == ["softmax.def", "softmax.diff", "softmax.jacobian_claim", "softmax.jacobian_width"]
    # the derived Jacobian's rows sum to zero (softmax outputs sum to 1)
    assert all(sp.simplify(sum(result.jacobian.row(i))) == 0 for i in range(3))
