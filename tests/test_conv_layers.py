"""The NumPy reference layers of numeric.conv: Conv2d, MaxPool2d, Flatten.

Each backward is checked against finite differences (numeric.check_layer, with the complex step) for stride 1 and 2
and padding 0 and 1, and against torch's F.conv2d / F.max_pool2d and autograd when torch is importable, to 1e-12
block-relative error. Shapes are C_in = 2, C_out = 3, a 5x6 input, k = 3, batch 2: all distinct, H != W, and 5 and
6 give different floors at stride 2 (5 - 3 is even, 6 - 3 is odd: the last column is read by no window).
"""

from __future__ import annotations

import numpy as np
import pytest

from numeric import check_layer
from numeric.conv import Conv2d, Flatten, MaxPool2d, output_size
from numeric.errors import BadInput
from numeric.metrics import block_relative_error

M, C_IN, C_OUT, H, W, K = 2, 2, 3, 5, 6, 3
BOUND = 1e-12
GEOMETRIES = [(1, 0), (1, 1), (2, 0), (2, 1)]  # (stride, pad)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng([2026, 14, seed])


def _conv_inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = _rng(seed)
    return (rng.standard_normal((M, C_IN, H, W)), rng.standard_normal((C_OUT, C_IN, K, K)),
            rng.standard_normal((1, C_OUT)))


def _conv_pair(layer: Conv2d):
    """The layer as a CS231n pair forward(x, w, b) / backward(dout, cache) for check_layer."""

    def forward(x, w, b):
        return layer.forward({layer.W: w, layer.b: b}, x)

    def backward(dout, cache):
        p = {layer.W: cache[1], layer.b: cache[2]}
        dx, grads = layer.backward(p, dout, cache[0])
        return dx, grads[layer.W], grads[layer.b]

    def forward_keeping_params(x, w, b):
        out, cache = forward(x, w, b)
        return out, (cache, w, b)

    return forward_keeping_params, backward


def _pool_pair(layer: MaxPool2d | Flatten):
    return (lambda x: layer.forward({}, x)), (lambda dout, cache: layer.backward({}, dout, cache)[0])


# ----- finite differences --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stride, pad", GEOMETRIES)
def test_conv_backward_passes_the_gradient_check(stride, pad):
    forward, backward = _conv_pair(Conv2d(1, C_IN, C_OUT, K, stride, pad))
    result = check_layer(forward, backward, _conv_inputs(), progress=False)
    assert result.ok, str(result)
    assert [r.name for r in result.rows] == ["x", "w", "b"]


@pytest.mark.parametrize("stride", [1, 2])
def test_maxpool_and_flatten_backward_pass_the_gradient_check(stride):
    x = _rng(1).standard_normal((M, C_OUT, H, W))
    assert check_layer(*_pool_pair(MaxPool2d(2, 2, stride)), (x,), progress=False).ok
    assert check_layer(*_pool_pair(Flatten(3)), (x,), progress=False).ok


def test_the_forwards_are_analytic_so_the_complex_step_goes_through():
    """Im f(x + ih) / h = the directional derivative, to rounding: no abs/maximum broke analyticity."""
    x, w, b = _conv_inputs(2)
    e = _rng(3).standard_normal(x.shape)
    h = 1e-30
    conv = Conv2d(1, C_IN, C_OUT, K, 2, 1)
    p = {conv.W: w, conv.b: b}
    z, cache = conv.forward(p, x)
    dz = _rng(4).standard_normal(z.shape)
    z_c, _ = conv.forward(p, x + 1j * h * e)
    dx, _ = conv.backward(p, dz, cache)
    assert abs(np.sum(dz * z_c).imag / h - np.sum(dx * e)) <= 1e-12 * np.sum(np.abs(dx * e))
    pool = MaxPool2d(2)
    out, pcache = pool.forward({}, z)
    out_c, _ = pool.forward({}, z + 1j * h * dz)
    d = _rng(5).standard_normal(out.shape)
    dx_pool, _ = pool.backward({}, d, pcache)
    assert np.iscomplexobj(out_c)
    assert abs(np.sum(d * out_c).imag / h - np.sum(dx_pool * dz)) <= 1e-12 * np.sum(np.abs(dx_pool * dz))


def test_dx_is_the_full_convolution_of_the_dilated_delta_with_the_flipped_kernel():
    """The col2im scatter against the textbook formula, built from the layer's own forward on another input: dilate
    delta by the stride, pad it by k - 1, correlate with W flipped in space and with in/out channels swapped."""
    x, w, b = _conv_inputs(6)
    for stride, pad in GEOMETRIES:
        conv = Conv2d(1, C_IN, C_OUT, K, stride, pad)
        z, cache = conv.forward({conv.W: w, conv.b: b}, x)
        delta = _rng(7).standard_normal(z.shape)
        dx, _ = conv.backward({conv.W: w, conv.b: b}, delta, cache)
        h_out, w_out = z.shape[2:]
        dilated = np.zeros((M, C_OUT, (h_out - 1) * stride + 1, (w_out - 1) * stride + 1))
        dilated[:, :, ::stride, ::stride] = delta
        flipped = Conv2d(2, C_OUT, C_IN, K, 1, K - 1)
        full, _ = flipped.forward({"W2": w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3), "b2": np.zeros((1, C_IN))},
                                  dilated)
        dx_pad = np.zeros((M, C_IN, H + 2 * pad, W + 2 * pad))  # pixels no window reads get 0
        dx_pad[:, :, :full.shape[2], :full.shape[3]] = full
        expected = dx_pad[:, :, pad:pad + H, pad:pad + W]
        assert block_relative_error(dx, expected) <= BOUND, (stride, pad)


# ----- torch as the outside oracle -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stride, pad", GEOMETRIES)
def test_conv_matches_torch_forward_and_autograd(stride, pad):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, w, b = _conv_inputs(8)
    conv = Conv2d(1, C_IN, C_OUT, K, stride, pad)
    p = {conv.W: w, conv.b: b}
    z, cache = conv.forward(p, x)
    delta = _rng(9).standard_normal(z.shape)
    dx, grads = conv.backward(p, delta, cache)
    xt, wt, bt = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w, b[0]))
    zt = F.conv2d(xt, wt, bt, stride=stride, padding=pad)
    (zt * torch.tensor(delta)).sum().backward()
    assert z.shape == tuple(zt.shape)
    assert block_relative_error(z, zt.detach().numpy()) <= BOUND
    assert block_relative_error(dx, xt.grad.numpy()) <= BOUND
    assert block_relative_error(grads["W1"], wt.grad.numpy()) <= BOUND
    assert block_relative_error(grads["b1"], bt.grad.numpy()[None, :]) <= BOUND


@pytest.mark.parametrize("k, stride", [(2, 2), (3, 2), (2, 1)])
def test_maxpool_matches_torch_forward_and_autograd(k, stride):
    torch = pytest.importorskip("torch")
    x = _rng(10).standard_normal((M, C_OUT, H, W))
    pool = MaxPool2d(1, k, stride)
    out, cache = pool.forward({}, x)
    d = _rng(11).standard_normal(out.shape)
    dx, _ = pool.backward({}, d, cache)
    xt = torch.tensor(x, requires_grad=True)
    ot = torch.nn.functional.max_pool2d(xt, k, stride)
    (ot * torch.tensor(d)).sum().backward()
    assert out.shape == tuple(ot.shape)
    assert block_relative_error(out, ot.detach().numpy()) <= BOUND
    assert block_relative_error(dx, xt.grad.numpy()) <= BOUND


def test_flatten_matches_torch_flatten_order():
    torch = pytest.importorskip("torch")
    x = _rng(12).standard_normal((M, C_OUT, H, W))
    out, _ = Flatten(1).forward({}, x)
    np.testing.assert_array_equal(out, torch.flatten(torch.tensor(x), 1).numpy())


# ----- shapes, ties, bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stride, pad, shape", [(1, 0, (3, 4)), (1, 1, (5, 6)), (2, 0, (2, 2)), (2, 1, (3, 3))])
def test_output_shapes_are_floor_of_h_plus_2p_minus_k_over_s_plus_1(stride, pad, shape):
    x, w, b = _conv_inputs()
    conv = Conv2d(1, C_IN, C_OUT, K, stride, pad)
    z, cache = conv.forward({conv.W: w, conv.b: b}, x)
    assert z.shape == (M, C_OUT, *shape) == (M, *conv.out_shape(H, W))
    assert shape == (output_size(H, K, stride, pad), output_size(W, K, stride, pad))
    dx, grads = conv.backward({conv.W: w, conv.b: b}, np.ones(z.shape), cache)
    assert dx.shape == x.shape and grads["W1"].shape == w.shape and grads["b1"].shape == b.shape
    assert conv.param_shapes() == {"W1": w.shape, "b1": b.shape} and conv.n_params == w.size + b.size
    assert MaxPool2d(2).forward({}, x)[0].shape == (M, C_IN, 2, 3)
    assert Flatten(3).forward({}, z)[0].shape == (M, C_OUT * shape[0] * shape[1])


def test_a_tie_in_a_pool_window_sends_the_gradient_to_the_first_maximum_only():
    x = np.zeros((1, 1, 2, 4))
    x[0, 0] = [[1.0, 3.0, 5.0, 2.0],
               [3.0, 0.0, 5.0, 5.0]]  # window 1: 3 at (0, 1) and (1, 0); window 2: 5 three times
    pool = MaxPool2d(1)
    out, cache = pool.forward({}, x)
    dx, _ = pool.backward({}, np.array([[[[10.0, 20.0]]]]), cache)
    expected = np.zeros_like(x)
    expected[0, 0, 0, 1] = 10.0  # row-major: (0, 1) comes before (1, 0)
    expected[0, 0, 0, 2] = 20.0
    np.testing.assert_array_equal(out, [[[[3.0, 5.0]]]])
    np.testing.assert_array_equal(dx, expected)


def test_a_first_maximum_at_a_tie_is_a_valid_subgradient_for_the_checker():
    x = _rng(13).standard_normal((M, 1, 4, 4))
    x[:, :, 0, 1] = x[:, :, 1, 0] = np.max(x[:, :, :2, :2], axis=(2, 3)) + 0.5  # a tie in the first window
    result = check_layer(*_pool_pair(MaxPool2d(1)), (x,), progress=False)
    assert result.ok, str(result)


def test_complex_input_is_pooled_by_its_real_part():
    x = np.array([[[[1.0 + 5j, 2.0 - 1j], [0.5 + 9j, -1.0]]]])
    out, cache = MaxPool2d(1).forward({}, x)
    assert out[0, 0, 0, 0] == 2.0 - 1j
    dx, _ = MaxPool2d(1).backward({}, np.ones((1, 1, 1, 1)), cache)
    np.testing.assert_array_equal(dx.real, [[[[0.0, 1.0], [0.0, 0.0]]]])


@pytest.mark.parametrize("make, pattern", [
    (lambda conv, x, p: conv.forward(p, x[0]), r"4-D array \(m, C, H, W\).*got shape \(2, 5, 6\)"),
    (lambda conv, x, p: conv.forward(p, x[:, :1]), r"the input has 1 channels.*c_in = 2"),
    (lambda conv, x, p: conv.forward({**p, "W1": p["W1"][:, :, :2]}, x), r"parameter W1 has shape \(3, 2, 2, 3\)"),
    (lambda conv, x, p: conv.forward({"W1": p["W1"]}, x), r"parameter b1 has shape None, expected \(1, 3\)"),
    (lambda conv, x, p: conv.forward(p, x[:, :, :2]), r"the 3x3 kernel does not fit the 2x6 input padded by 0"),
    (lambda conv, x, p: conv.backward(p, np.ones((2, 3, 3, 3)), conv.forward(p, x)[1]),
     r"dout has shape \(2, 3, 3, 3\), the output's shape \(2, 3, 3, 4\)"),
    (lambda conv, x, p: MaxPool2d(2, 3).forward({}, x[:, :, :2]), r"maxpool layer 2: the 3x3 window does not fit"),
    (lambda conv, x, p: MaxPool2d(2).forward({}, x[0, 0]), r"maxpool layer 2: the input must be a 4-D array"),
    (lambda conv, x, p: Conv2d(4, 2, 3, 0), r"conv2d layer 4: k must be a positive integer, got 0"),
    (lambda conv, x, p: Conv2d(4, 2, 3, 3, pad=-1), r"pad must be a non-negative integer, got -1"),
    (lambda conv, x, p: Flatten(5).backward({}, np.ones((2, 7)), (2, 3, 2, 2)), r"flatten layer 5: dout has shape"),
])
def test_bad_shapes_are_bad_input_with_a_clear_message(make, pattern):
    x, w, b = _conv_inputs()
    with pytest.raises(BadInput, match=pattern):
        make(Conv2d(1, C_IN, C_OUT, K), x, {"W1": w, "b1": b})
