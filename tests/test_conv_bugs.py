"""Planted bugs in a convolution and a max-pool (tests/conv_bugs.py), caught by the gradient checker and named.

For each correct layer the check passes; for each planted bug exactly the inputs whose gradient the bug touches
fail: x for the unflipped kernel, x and w for the stride ignored in the backward (b's gradient does not depend on
the stride), x for a max-pool routing to the whole window. ``check_layer`` alone reads them as numbers: the routing
bug with non-overlapping windows is the mask pattern; the two conv bugs get the generic fallback sentence, which
claims no pattern that is not there. ``check_named`` (what ``bpv gradcheck`` runs) then tests each bug's hypothesis
on the user's own layer (numeric.shared_diagnose) and names it; the experiments name nothing on correct layers, even
when every input is declared wrong, nor on a control bug that only resembles one.
"""

from __future__ import annotations

import re

import conv_bugs as cb
import numpy as np
import pytest

from numeric import LayerProblem, check_layer, gradcheck
from numeric.named_bugs import check_named
from numeric.shared_diagnose import layer_findings

N, C, F, H, W, K = 2, 2, 3, 5, 6, 3  # batch, input channels, filters, height, width, kernel
GEOMETRIES = [(1, 0), (1, 1), (2, 0), (2, 1)]  # (stride, pad)
#: the fallback sentence of numeric.diagnose: no factor, L2, mask, transpose, offset or confinement was claimed
GENERIC = re.compile(r"^\d+ of \d+ checked elements wrong, with no constant factor, transpose or row/column pattern")


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng([2026, 14, seed])


def _conv_inputs(stride: int, pad: int) -> tuple:
    rng = _rng(0)
    return (rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, K, K)), rng.standard_normal(F),
            {"stride": stride, "pad": pad})


def _conv_backward(bug):
    return lambda dout, cache: cb.conv_backward(dout, cache, bug)


def _pool_backward(bug):
    return lambda dout, cache: cb.max_pool_backward(dout, cache, bug)


def _wrong(result) -> list[str]:
    return sorted(r.name for r in result.rows if r.verdict == "wrong")


# ----- convolution -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stride, pad", GEOMETRIES)
def test_the_correct_conv_backward_passes(stride, pad):
    result = check_layer(cb.conv_forward, _conv_backward(None), _conv_inputs(stride, pad), progress=False)
    assert result.ok, str(result)
    assert sorted(r.name for r in result.rows) == ["b", "w", "x"]


@pytest.mark.parametrize("stride, pad", GEOMETRIES)
def test_dx_with_the_unflipped_kernel_fails_on_x_alone(stride, pad):
    result = check_layer(cb.conv_forward, _conv_backward("unflipped"), _conv_inputs(stride, pad), progress=False)
    assert _wrong(result) == ["x"]
    assert result.row("x").diagnosis.startswith("dx computed with the kernel not flipped")  # check_layer names it


def test_the_unflipped_dx_is_the_true_dx_of_the_kernel_flipped_in_space():
    """The maths a "kernel not flipped" diagnosis could rest on: dx is linear in (w, dout) and independent of x, so
    dx_bug(w) = dx(w[:, :, ::-1, ::-1]) exactly: the checker could compare the analytic dx with the numerical dx of
    the forward at the flipped kernel."""
    x, w, b, param = _conv_inputs(2, 1)
    out, cache = cb.conv_forward(x, w, b, param)
    dout = _rng(1).standard_normal(out.shape)
    dx_bug = cb.conv_backward(dout, cache, "unflipped")[0]
    _, flipped_cache = cb.conv_forward(x, w[:, :, ::-1, ::-1].copy(), b, param)
    dx_flipped = cb.conv_backward(dout, flipped_cache)[0]
    np.testing.assert_allclose(dx_bug, dx_flipped, rtol=1e-13, atol=1e-13)
    assert not np.allclose(dx_bug, cb.conv_backward(dout, cache)[0])


@pytest.mark.parametrize("pad", [0, 1])
def test_a_backward_that_ignores_the_stride_passes_at_stride_1_and_fails_on_x_and_w_at_stride_2(pad):
    """Why the geometries include stride 2: at stride 1 the bug is the correct code."""
    bug = _conv_backward("stride_ignored")
    assert check_layer(cb.conv_forward, bug, _conv_inputs(1, pad), progress=False).ok
    result = check_layer(cb.conv_forward, bug, _conv_inputs(2, pad), progress=False)
    assert _wrong(result) == ["w", "x"]
    assert result.row("b").verdict == "ok"
    for name in ("x", "w"):
        assert result.row(name).diagnosis.startswith("the backward ignores the stride")


# ----- max-pooling -----------------------------------------------------------------------------------------------


POOLS = [{}, {"pool_height": 3, "pool_width": 3, "stride": 2}, {"stride": 1}]  # 2x2/2, and two overlapping


@pytest.mark.parametrize("pool_param", POOLS)
def test_the_correct_max_pool_backward_passes(pool_param):
    x = _rng(2).standard_normal((N, F, H, W))
    assert check_layer(cb.max_pool_forward, _pool_backward(None), (x, pool_param), progress=False).ok


def test_routing_to_the_whole_window_is_named_as_a_too_permissive_mask():
    """2x2 windows at stride 2 on 5x6: rows 0-3 are pooled (row 4 is read by no window, zero in both gradients);
    the bug is right at each window's maximum and non-zero at the other 3 elements of every window. Without the
    named experiment (gradcheck alone) the mask pattern says so; check_layer names the bug."""
    x = _rng(2).standard_normal((N, F, H, W))
    loss, grad, params, _ = LayerProblem(cb.max_pool_forward, _pool_backward("route_to_all"), (x, {})).as_gradcheck(0)
    plain = gradcheck(loss, grad, params, seed=0, progress=False)
    windows = N * F * (H // 2) * (W // 2)
    text = plain.row("x").diagnosis
    assert text.startswith(f"the analytic gradient is non-zero at {3 * windows} elements where the true gradient "
                           "is zero, and right everywhere else")
    assert "max-pool's routing to the argmax" in text
    result = check_layer(cb.max_pool_forward, _pool_backward("route_to_all"), (x, {}), progress=False)
    assert _wrong(result) == ["x"]
    assert result.row("x").diagnosis.startswith("max-pool routes the gradient to every element of its window")


@pytest.mark.parametrize("pool_param", POOLS[1:])
def test_routing_to_the_whole_window_fails_with_overlapping_windows_too(pool_param):
    """Where windows overlap a pixel that is the maximum of one window but not of another gets a wrong non-zero
    value, so the clean mask pattern no longer holds (gradcheck alone is generic); the experiment still names it."""
    x = _rng(2).standard_normal((N, F, H, W))
    loss, grad, params, _ = LayerProblem(cb.max_pool_forward, _pool_backward("route_to_all"),
                                         (x, pool_param)).as_gradcheck(0)
    assert GENERIC.match(gradcheck(loss, grad, params, seed=0, progress=False).row("x").diagnosis)
    result = check_layer(cb.max_pool_forward, _pool_backward("route_to_all"), (x, pool_param), progress=False)
    assert _wrong(result) == ["x"]
    assert result.row("x").diagnosis.startswith("max-pool routes the gradient to every element of its window")


# ----- named by tested hypotheses (what bpv gradcheck prints) ------------------------------------------------------
UNFLIPPED = "dx computed with the kernel not flipped: at a random dout, the analytic dx equals the true dx of your " \
            "forward with w flipped in space (w[:, :, ::-1, ::-1]) and differs from the true dx"
STRIDE = "the backward ignores the stride (conv_param['stride'] = 2): at a random dout, the analytic "
ROUTE = "max-pool routes the gradient to every element of its window: your forward is the maximum over "


def _conv_problem(bug, stride, pad) -> LayerProblem:
    return LayerProblem(cb.conv_forward, _conv_backward(bug), _conv_inputs(stride, pad))


def _pool_problem(bug, pool_param) -> LayerProblem:
    return LayerProblem(cb.max_pool_forward, _pool_backward(bug), (_rng(2).standard_normal((N, F, H, W)), pool_param))


@pytest.mark.parametrize("stride, pad", GEOMETRIES)
def test_the_unflipped_kernel_is_named_at_every_geometry(stride, pad):
    result = check_named(_conv_problem("unflipped", stride, pad), progress=False)
    assert _wrong(result) == ["x"]
    assert result.row("x").diagnosis.startswith(UNFLIPPED), result.row("x").diagnosis


@pytest.mark.parametrize("pad", [0, 1])
def test_the_ignored_stride_is_named_on_x_and_w(pad):
    result = check_named(_conv_problem("stride_ignored", 2, pad), progress=False)
    assert _wrong(result) == ["w", "x"]
    for name in ("x", "w"):
        text = result.row(name).diagnosis
        assert text.startswith(STRIDE + "dx and dw equal the true gradients of your forward at stride 1"), text
    assert result.row("b").diagnosis == ""


@pytest.mark.parametrize("pool_param, geometry", [
    ({}, "2x2 windows at stride 2"),
    ({"pool_height": 3, "pool_width": 3, "stride": 2}, "3x3 windows at stride 2"),
    ({"stride": 1}, "2x2 windows at stride 1"),
])
def test_routing_to_every_element_is_named_with_or_without_overlapping_windows(pool_param, geometry):
    result = check_named(_pool_problem("route_to_all", pool_param), progress=False)
    assert _wrong(result) == ["x"]
    assert result.row("x").diagnosis.startswith(ROUTE + geometry), result.row("x").diagnosis


@pytest.mark.parametrize("stride, pad", GEOMETRIES)
def test_no_experiment_names_a_correct_conv_even_when_every_input_is_declared_wrong(stride, pad):
    assert layer_findings(_conv_problem(None, stride, pad), {"x", "w", "b"}) == []


@pytest.mark.parametrize("pool_param", POOLS)
def test_no_experiment_names_a_correct_max_pool_even_when_declared_wrong(pool_param):
    assert layer_findings(_pool_problem(None, pool_param), {"x"}) == []


def test_controls_that_only_resemble_a_named_bug_are_not_named():
    """An average-pool's backward on a max-pool, and a dx off by a factor 2, are wrong but neither named bug."""
    averaged = check_named(_pool_problem("average_routing", {}), progress=False)
    assert _wrong(averaged) == ["x"] and not averaged.row("x").diagnosis.startswith(ROUTE)

    def doubled(dout, cache):
        dx, dw, db = cb.conv_backward(dout, cache)
        return 2 * dx, dw, db

    result = check_named(LayerProblem(cb.conv_forward, doubled, _conv_inputs(2, 1)), progress=False)
    assert _wrong(result) == ["x"]
    assert result.row("x").diagnosis.startswith("x2: a forgotten 1/2"), result.row("x").diagnosis


def test_the_stride_experiment_says_nothing_about_an_unflipped_kernel_at_stride_2():
    """Each hypothesis is tested on its own: the unflipped bug at stride 2 is not "the stride ignored"."""
    found = layer_findings(_conv_problem("unflipped", 2, 1), {"x", "w", "b"})
    assert [f.rows for f in found] == [("x",)]
    assert found[0].text.startswith(UNFLIPPED)


def test_a_stride_passed_as_an_integer_input_and_a_backward_ignoring_it_in_dx_alone():
    """forward(x, w, b, stride, pad) is read too; only the gradients that match the stride-1 form are named."""

    def forward(x, w, b, stride, pad):
        return cb.conv_forward(x, w, b, {"stride": stride, "pad": pad})

    def dx_alone(dout, cache):
        dx, _, db = cb.conv_backward(dout, cache, "stride_ignored")
        return dx, cb.conv_backward(dout, cache)[1], db

    x, w, b, _ = _conv_inputs(2, 1)
    result = check_named(LayerProblem(forward, dx_alone, (x, w, b, 2, 1)), progress=False)
    assert _wrong(result) == ["x"]
    assert result.row("x").diagnosis.startswith(
        "the backward ignores the stride (stride = 2): at a random dout, the analytic dx equals the true gradient of "
        "your forward at stride 1"), result.row("x").diagnosis
