"""A convolutional net end to end: sympy.diff of the composed cost of a twin against the chained rules.

The part holds for lenet_tiny and for other stage structures (stride 2 without padding and a hidden dense layer, no
pool, two convolutions with a pool, overlapping pool windows), and it fails when one proven rule is chained wrong:
the full convolution with the unflipped kernel as dX, or max-pool routing the gradient to the whole window.
"""

import random

import pytest
import sympy as sp

from derive.backprop import conv_end_to_end as E
from derive.core.proof import Strength
from derive.core.steps import Role
from derive.layers import conv
from derive.layers.conv import ConvSize, K
from numeric.catalog import get_model
from numeric.conv import Conv2d, MaxPool2d
from numeric.conv_spec import ConvNetSpec

TWO_CONVS = ConvNetSpec.build("1x6x6-c1k2p1-c2k2s2-pool2-3", "relu,tanh,softmax", "cce")


def _unflipped(size: ConvSize, n: int, c: int, h: int, w: int) -> sp.Expr:
    """dX as the full convolution with the kernel NOT rotated by 180 degrees (a common slip)."""
    k, hp, wp = size.k, h + size.padding, w + size.padding
    total = sp.Integer(0)
    for o in range(size.c_out):
        for u in range(k):
            for v in range(k):
                a, e = hp + u - (k - 1), wp + v - (k - 1)
                s = size.stride
                if a >= 0 and e >= 0 and a % s == 0 and e % s == 0 and a // s < size.out_h and e // s < size.out_w:
                    total += conv.G[n, o, a // s, e // s] * K[o, c, u, v]
    return total


def _whole_window(window, k):
    """Max-pool routing the gradient to every entry of the window (the planted bug of issue 14)."""
    return list(range(len(window)))


def _assert_holds(d):
    assert d.holds, [(s.label, s.check.method, s.check.counterexample) for s in d.steps if not s.holds]


def test_lenet_tiny_holds_one_step_per_block():
    spec = get_model("lenet_tiny")
    d = E.derive_conv_end_to_end(spec)
    _assert_holds(d)
    assert d.role is Role.END_TO_END
    assert [s.label for s in d.steps] == [f"e2e.conv.{k}" for k in ("W1", "b1", "W2", "b2")]
    assert all(s.check.strength is Strength.NUMERIC for s in d.steps)
    assert all("1e-40" in s.check.method and "twin 1x4x6-c2k3p1-pool2-flat-3" in s.justification
               for s in d.steps)
    # dense blocks and biases at every entry; the kernel at its corners and centre
    assert "every one of the 36 entries of W2" in d["e2e.conv.W2"].check.method
    assert "5 of the 18 entries" in d["e2e.conv.W1"].check.method


@pytest.mark.parametrize("net, acts, cost", [
    ("1x8x8-c3k3s2-4-3", "tanh,relu,softmax", "cce"),  # stride 2, padding 0, a hidden dense layer
    ("2x6x6-c3k2-2", "sigmoid,identity", "quadratic"),  # no pool, two input channels
    ("1x7x7-c2k2-pool3s2-3", "leaky_relu:0.1,sigmoid", "bce"),  # overlapping pool windows
])
def test_other_structures_hold(net, acts, cost):
    _assert_holds(E.derive_conv_end_to_end(ConvNetSpec.build(net, acts, cost)))


def test_two_convolutions_hold_and_an_unflipped_dx_is_caught():
    d = E.derive_conv_end_to_end(TWO_CONVS)
    _assert_holds(d)
    # the same point, a planted dX: only what lies below the second convolution sees it
    twin = E.conv_twin(TWO_CONVS)
    params, x, ys, _ = E.draw_point(twin, 0)
    entries = {name: list(block)[:2] if name in ("W1", "b1") else [] for name, block in params.items()}
    direct = E.direct_gradients(twin, params, x, ys, entries)
    wrong = E.chained_gradients(twin, params, x, ys, E.ChainRules(dx=_unflipped))
    assert E.block_check("W1", direct["W1"], wrong["W1"]).holds is False
    right = E.chained_gradients(twin, params, x, ys)
    assert E.block_check("W1", direct["W1"], right["W1"]).holds is True
    assert all(wrong[k] == right[k] for k in ("W2", "b2", "W3", "b3"))


def test_routing_to_the_whole_window_is_caught():
    spec = ConvNetSpec.build("1x4x4-c2k2-pool2-3", "relu,softmax", "cce")
    d = E.derive_conv_end_to_end(spec, rules=E.ChainRules(route=_whole_window))
    failed = {s.label for s in d.steps if not s.holds}
    assert failed == {"e2e.conv.W1", "e2e.conv.b1"}
    assert d["e2e.conv.W1"].check.counterexample


def test_the_twin_keeps_the_structure_with_tiny_sizes():
    spec = ConvNetSpec.build("3x28x30-c16k5s2p2-pool3s2-c8k3p1-flat-64-10", "relu,tanh,relu,softmax", "cce")
    twin = E.conv_twin(spec)
    kinds = [(type(x).__name__, getattr(x, "k", None), getattr(x, "stride", None), getattr(x, "pad", None))
             for x in twin.layers]
    assert kinds == [(type(x).__name__, getattr(x, "k", None), getattr(x, "stride", None), getattr(x, "pad", None))
                     for x in spec.layers]
    assert twin.activations == spec.activations and (twin.cost, twin.reduction) == (spec.cost, spec.reduction)
    assert twin.input_shape[0] == 2 and all(x.c_out <= 2 for x in twin.convs)
    assert [x.n_out for x in twin.dense] == [3, 3]
    _, h, w = twin.input_shape
    assert min(h, w) >= 4 and h != w
    assert all(a != b for a, b in (s[1:] for s in twin.shapes() if len(s) == 3))


def test_pool_max_has_sympys_derivative_and_is_sp_max_at_numbers():
    t = sp.Symbol("t")
    rng = random.Random(5)
    for _ in range(5):
        args = [sp.Rational(rng.randint(-99, 99), 97) * t + sp.Rational(rng.randint(-99, 99), 89) for _ in range(4)]
        value = sp.Rational(rng.randint(-99, 99), 101)
        assert E.PoolMax.of(args).xreplace({t: value}) == sp.Max(*args).xreplace({t: value})
        ours = sp.diff(E.PoolMax.of(args), t).xreplace({t: value})
        assert ours == sp.diff(sp.Max(*args), t).xreplace({t: value})
    assert type(E.PoolMax.of([sp.Integer(1), sp.Integer(3), sp.Integer(2)])) is sp.Integer


def test_first_argmax_routes_ties_to_the_first_maximum():
    assert E.first_argmax([1, 3, 3, 2], 2) == [1]
    assert E.first_argmax([5, 5, 5, 5], 2) == [0]
    assert E.first_argmax([0, 1, 2, 7, 7, 1, 0, 0, 0], 3) == [3]


def test_kernel_sample_covers_the_corners_centre_and_every_channel():
    sample = E.kernel_sample((2, 2, 3, 3))
    assert {(u, v) for *_, u, v in sample} == {(0, 0), (0, 2), (2, 0), (2, 2), (1, 1)}
    assert {o for o, *_ in sample} == {0, 1} and {c for _, c, *_ in sample} == {0, 1}
    twin = E.conv_twin(get_model("lenet_tiny"))
    entries = E.direct_entries(twin)
    assert len(entries["W2"]) == 36 and len(entries["W1"]) == 5
    assert len(E.direct_entries(twin, every_entry=True)["W1"]) == 18


def test_the_point_is_away_from_kinks_and_ties():
    twin = E.conv_twin(get_model("lenet_tiny"))
    params, x, _, _ = E.draw_point(twin, 3)
    caches = E.forward(twin, params, x)
    for layer, cache in zip(twin.layers, caches, strict=True):
        if isinstance(layer, Conv2d):
            assert min(abs(v) for v in cache["z"].values()) >= E.MARGIN
        if isinstance(layer, MaxPool2d):
            assert all(v.is_Number for v in cache["out"].values())
