"""torch.autograd as the outside oracle for the blocks past the dense layer: batch norm, layer norm, dropout, L2.

The oracle builds the network from torch's own ops (F.batch_norm, F.layer_norm, a * M / keep, lambda/(2n) sum W^2)
and lets autograd differentiate it; numeric.backprop writes every backward by hand. They must agree to 1e-12 per
block, and on the loss value, in both layouts. Biases right before a batch norm have a true gradient of exactly 0,
so there the two are compared to the scale of the layer's weight gradient, not to each other's rounding noise.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from derive.verification.rows import Verdict  # noqa: E402
from derive.verification.torch_oracle import torch_gradients, torch_loss, torch_rows  # noqa: E402
from derive.verification.witnesses import Witness  # noqa: E402
from numeric import backprop  # noqa: E402
from numeric.errors import BadInput  # noqa: E402
from numeric.instances import init_params, random_batch, random_masks  # noqa: E402
from numeric.metrics import block_relative_error  # noqa: E402
from numeric.spec import ModelSpec  # noqa: E402

BOUND = 1e-12
M = 9  # batch size: odd, not 2, not a width

CASES = {
    "batchnorm-columns": dict(norm="batch"),
    "batchnorm-rows": dict(norm="batch", layout="rows"),
    "layernorm-columns": dict(norm="layer"),
    "layernorm-rows": dict(norm="layer", layout="rows"),
    "dropout-columns": dict(keep_prob=0.6),
    "dropout-rows": dict(keep_prob=0.5, layout="rows"),
    "l2-batch-n": dict(l2=0.7),
    "l2-training-set-n": dict(l2=5.0, l2_n=50, layout="rows"),
    "all-batchnorm": dict(norm="batch", keep_prob=0.7, l2=0.4, l2_n=30),
    "all-layernorm-rows": dict(norm="layer", keep_prob=0.5, l2=0.3, layout="rows"),
}


def _instance(seed: int = 0, sizes: str = "5-7-6-3", acts: str = "tanh,sigmoid,softmax", cost: str = "cce",
              **extras):
    layout = extras.pop("layout", "columns")
    spec = ModelSpec.build(sizes, acts, cost, layout=layout, **extras)
    rng = np.random.default_rng(seed)
    params = init_params(spec, rng)
    x, y = random_batch(spec, M, rng)
    return spec, params, x, y, random_masks(spec, M, rng)


def _zero_biases(spec: ModelSpec) -> dict[str, str]:
    """Bias -> the weight of its layer, for the biases right before a batch norm (true gradient exactly 0)."""
    zero = {layer.b: layer.W for layer in spec.layers if layer.norm is not None and layer.norm.kind == "batchnorm"}
    assert sorted(zero) == sorted(spec.zero_gradient_blocks())
    return zero


@pytest.mark.parametrize("case", CASES)
def test_torch_and_the_hand_written_backprop_agree_on_every_block(case):
    spec, params, x, y, masks = _instance(**CASES[case])
    gt = torch_gradients(spec, params, x, y, masks=masks)
    gb = backprop.gradients(spec, params, x, y, masks=masks)
    assert sorted(gt) == sorted(gb) == sorted(spec.param_names())
    zero = _zero_biases(spec)
    for name in spec.param_names():
        assert gt[name].shape == gb[name].shape == spec.param_shapes()[name]
        if name in zero:  # both are rounding noise around 0: compare to the scale of the layer's dC/dW
            scale = np.max(np.abs(gb[zero[name]]))
            assert np.max(np.abs(gt[name])) <= BOUND * scale and np.max(np.abs(gb[name])) <= BOUND * scale, name
        else:
            assert np.max(np.abs(gb[name])) > 1e-8, f"{name}: a zero gradient would make the check vacuous"
            assert block_relative_error(gt[name], gb[name]) <= BOUND, name
    lt, lb = torch_loss(spec, params, x, y, masks=masks), backprop.loss(spec, params, x, y, masks=masks)
    assert abs(lt - lb) <= BOUND * abs(lb)


def test_every_block_is_really_in_the_network():
    """Each block changes torch's answer: batch norm, dropout and the L2 term are not silently left out."""
    spec, params, x, y, masks = _instance(**CASES["all-batchnorm"])
    plain = ModelSpec.build(spec.sizes, [str(a) for a in spec.activations], spec.cost)
    plain_params = {k: params[k] for k in plain.param_names()}
    base = torch_loss(spec, params, x, y, masks)
    assert abs(base - torch_loss(plain, plain_params, x, y)) > 1e-3  # no norm, no dropout, no L2
    assert abs(base - torch_loss(spec, params, x, y, None)) > 1e-3  # dropout off
    no_l2 = ModelSpec.build(spec.sizes, [str(a) for a in spec.activations], spec.cost, norm="batch", keep_prob=0.7)
    assert abs(base - torch_loss(no_l2, params, x, y, masks)) > 1e-3


def test_the_l2_n_defaults_to_the_batch_size():
    spec, params, x, y, _ = _instance(l2=2.0)
    given = ModelSpec.build(spec.sizes, [str(a) for a in spec.activations], spec.cost, l2=2.0, l2_n=M)
    gt, gn = torch_gradients(spec, params, x, y), torch_gradients(given, params, x, y)
    assert all(block_relative_error(gt[k], gn[k]) <= BOUND for k in gt)


def _witness(spec, x, y, masks):
    return Witness("hand-written backprop", backprop.SpecLoss(spec, x, y, masks),
                   lambda p: backprop.gradients(spec, p, x, y, masks=masks))


def test_torch_rows_pass_with_the_same_masks_and_fail_with_other_ones():
    spec, params, x, y, masks = _instance(**CASES["all-batchnorm"])
    rows = torch_rows("blocks", spec, _witness(spec, x, y, masks), params, x, y, masks=masks)
    assert [r.block for r in rows] == spec.param_names()
    assert all(r.verdict is Verdict.HOLDS for r in rows), [(r.block, r.error) for r in rows]
    assert next(r for r in rows if r.block == "b1").method.startswith("proven zero")
    other = random_masks(spec, M, np.random.default_rng(99))
    rows = torch_rows("blocks", spec, _witness(spec, x, y, other), params, x, y, masks=masks)
    assert any(r.verdict is Verdict.FAILS for r in rows)


def test_the_existing_caller_without_masks_still_works():
    spec, params, x, y, _ = _instance(norm="layer", l2=0.5)
    rows = torch_rows("blocks", spec, _witness(spec, x, y, None), params, x, y)
    assert rows and all(r.verdict is Verdict.HOLDS for r in rows)


def test_a_bias_before_batch_norm_with_a_nonzero_gradient_fails_its_row():
    spec, params, x, y, masks = _instance(norm="batch")
    good = _witness(spec, x, y, masks)

    def bad_grad(p):
        g = good.grad(p)
        g["b1"] = g["b1"] + 1e-3  # the term the mean subtraction cancels, kept
        return g

    rows = torch_rows("blocks", spec, Witness("hand-written backprop", good.loss, bad_grad), params, x, y, masks)
    assert [r.block for r in rows if r.verdict is Verdict.FAILS] == ["b1"]
    assert "identically 0 (the bias before batch norm" in next(r for r in rows if r.block == "b1").detail


def test_masks_for_a_net_without_dropout_are_bad_input():
    spec, params, x, y, _ = _instance(norm="batch")
    with pytest.raises(BadInput, match="no dropout"):
        torch_gradients(spec, params, x, y, masks={"M1": np.ones((7, M))})


def test_integer_labels_give_the_same_gradients_as_one_hot_targets():
    spec, params, x, _, masks = _instance(**CASES["all-layernorm-rows"])
    labels = np.random.default_rng(5).integers(0, spec.sizes[-1], M)
    onehot = np.eye(spec.sizes[-1])[labels]  # rows layout: (m, n_L)
    gi, go = torch_gradients(spec, params, x, labels, masks), torch_gradients(spec, params, x, onehot, masks)
    gb = backprop.gradients(spec, params, x, labels, masks=masks)
    assert all(block_relative_error(gi[k], go[k]) == 0.0 and block_relative_error(gi[k], gb[k]) <= BOUND for k in gb)
