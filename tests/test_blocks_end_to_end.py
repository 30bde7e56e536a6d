"""A model past the dense layer end to end: sympy.diff of the composed batch cost against the chained block rules.

The part holds for a model with every block at once, and it fails when one proven rule is chained wrong (a block
rule that is right on its own cannot hide a mistake in how the rules are put together, and vice versa).
"""

import pytest

from derive.backprop import blocks_end_to_end as B
from derive.layers import dropout, penalty
from numeric.spec import ModelSpec

SPEC = ModelSpec.build("3-4-3-1", "sigmoid,tanh,identity", "mse", reduction="sum", norm="batch", keep_prob=0.5,
                       l2=0.3, l2_n=7)


def test_every_block_holds_end_to_end_and_the_bias_before_batch_norm_is_zero():
    d = B.derive_blocks_end_to_end(SPEC)
    assert d.holds, [s.check.method for s in d.steps if not s.holds]
    assert [s.label for s in d.steps] == [f"e2e.blocks.{k}" for k in B._twin(SPEC).param_names()]
    zero = {s.label: s.check.method for s in d.steps if "b1" in s.label or "b2" in s.label}
    assert all("proven zero" in method for method in zero.values())


def test_layer_norm_holds_end_to_end():
    spec = ModelSpec.build("3-4-3-2", "tanh,identity,softmax", "cce", norm="layer")
    assert B.derive_blocks_end_to_end(spec).holds


@pytest.mark.parametrize("planted", ["dropout without 1/p", "L2 without 1/n"])
def test_a_rule_chained_wrong_is_caught(monkeypatch, planted):
    if planted == "dropout without 1/p":
        monkeypatch.setattr(dropout, "backward_forms", lambda: [(dropout.da, dropout.dout * dropout.mask)])
    else:
        monkeypatch.setattr(penalty, "gradient_forms",
                            lambda: [(penalty.nabla_W, penalty.nabla0_W + penalty.lam * penalty.W)])
    d = B.derive_blocks_end_to_end(SPEC)
    assert not d.holds
    assert any(not s.holds for s in d.steps if s.label.startswith("e2e.blocks.W"))
