"""Planted bugs in a convolution and a max-pool (tests/conv_bugs.py), caught by the gradient checker.

For each correct layer the check passes; for each planted bug exactly the inputs whose gradient the bug touches
fail: x for the unflipped kernel, x and w for the stride ignored in the backward (b's gradient does not depend on
the stride), x for a max-pool routing to the whole window. The diagnoses are pinned as far as numeric.diagnose
reads them today: the routing bug with non-overlapping windows is the mask pattern and is named; the two conv bugs
get the generic fallback sentence: it claims no pattern that is not there (and names none that is).
"""

from __future__ import annotations

import re

import conv_bugs as cb
import numpy as np
import pytest

from numeric import check_layer

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
    assert GENERIC.match(result.row("x").diagnosis)


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
        assert GENERIC.match(result.row(name).diagnosis)


# ----- max-pooling -----------------------------------------------------------------------------------------------


POOLS = [{}, {"pool_height": 3, "pool_width": 3, "stride": 2}, {"stride": 1}]  # 2x2/2, and two overlapping


@pytest.mark.parametrize("pool_param", POOLS)
def test_the_correct_max_pool_backward_passes(pool_param):
    x = _rng(2).standard_normal((N, F, H, W))
    assert check_layer(cb.max_pool_forward, _pool_backward(None), (x, pool_param), progress=False).ok


def test_routing_to_the_whole_window_is_named_as_a_too_permissive_mask():
    """2x2 windows at stride 2 on 5x6: rows 0-3 are pooled (row 4 is read by no window, zero in both gradients);
    the bug is right at each window's maximum and non-zero at the other 3 elements of every window."""
    x = _rng(2).standard_normal((N, F, H, W))
    result = check_layer(cb.max_pool_forward, _pool_backward("route_to_all"), (x, {}), progress=False)
    assert _wrong(result) == ["x"]
    windows = N * F * (H // 2) * (W // 2)
    text = result.row("x").diagnosis
    assert text.startswith(f"the analytic gradient is non-zero at {3 * windows} elements where the true gradient "
                           "is zero, and right everywhere else")
    assert "max-pool's routing to the argmax" in text


@pytest.mark.parametrize("pool_param", POOLS[1:])
def test_routing_to_the_whole_window_fails_with_overlapping_windows_too(pool_param):
    """Where windows overlap a pixel that is the maximum of one window but not of another gets a wrong non-zero
    value, so the clean mask pattern no longer holds and the diagnosis is the generic one."""
    x = _rng(2).standard_normal((N, F, H, W))
    result = check_layer(cb.max_pool_forward, _pool_backward("route_to_all"), (x, pool_param), progress=False)
    assert _wrong(result) == ["x"]
    assert GENERIC.match(result.row("x").diagnosis)
