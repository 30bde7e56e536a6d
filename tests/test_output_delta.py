"""delta^L = a - y is proven for sigmoid+bce, softmax+cce (targets summing to 1) and identity+quadratic."""

import pytest

from derive.backprop.output_delta import FUSED, derive_output_delta
from numeric.spec import ActSpec


@pytest.mark.parametrize(("act", "cost"), list(FUSED))
def test_fused_pairs_give_a_minus_y(act, cost):
    result = derive_output_delta(ActSpec.parse(act), cost)
    assert result.fused and result.derivation.holds
    assert result.derivation["out.fused"].kind == "claim"


def test_softmax_cce_states_its_condition_on_y():
    result = derive_output_delta(ActSpec.parse("softmax"), "cce")
    assert "sum to 1" in result.condition
    assert "y_3 = 1 - (y_1 + y_2)" in result.derivation["out.fused"].check.method


@pytest.mark.parametrize(("act", "cost"), [("sigmoid", "quadratic"), ("relu", "mse"), ("tanh", "squared"),
                                           ("softmax", "quadratic"), ("identity", "mse"),
                                           ("leaky_relu:0.1", "mse"), ("elu:0.5", "quadratic")])
def test_unfused_pairs_are_derived_through_the_chain_rule(act, cost):
    result = derive_output_delta(ActSpec.parse(act), cost)
    assert not result.fused and result.derivation.holds
    assert result.derivation["out.delta"].kind == "derived"
