"""Every shipped kernel keeps the input's dtype end to end: float32 in, float32 out; complex in, complex out, and
the complex step through the kernel's loss is exact against the kernel's own float64 gradients."""

import numpy as np
import pytest

from derive.verification.witnesses import instance
from numeric.catalog import CATALOG
from numeric.kernels import KERNELS
from numeric.metrics import block_relative_error

H = 1e-20


def _error(name, g, ref, key):
    """Block-relative error; a proven-zero block (the bias before batch norm) against the largest block's scale."""
    spec = CATALOG[name]
    zero = spec.zero_gradient_blocks()
    if key not in zero:
        return block_relative_error(g[key], ref[key])
    scale = max(np.abs(ref[k]).max() for k in ref if k not in zero)
    return np.abs(g[key] - ref[key]).max() / scale


def _instance(name: str, m: int = 9, seed: int = 0):
    """params, x, y of catalog model ``name`` at its own widths."""
    return instance(CATALOG[name], seed, m)


@pytest.mark.parametrize("name", list(CATALOG))
@pytest.mark.parametrize("y_dtype", [np.float64, np.float32])
def test_float32_in_gives_float32_everywhere(name, y_dtype):
    params, x, y = _instance(name)
    k = KERNELS[name]
    p32 = {key: v.astype(np.float32) for key, v in params.items()}
    x32 = x.astype(np.float32)
    y = y.astype(y_dtype)  # float64 targets (as data often come) must not widen the result
    assert k.forward(p32, x32).dtype == np.float32
    grads = k.gradients(p32, x32, y)
    assert {key: g.dtype for key, g in grads.items()} == dict.fromkeys(params, np.float32)
    assert isinstance(k.loss(p32, x32, y), float)
    ref = k.gradients(params, x, y)  # the same kernel in float64
    for key in params:
        assert _error(name, grads, ref, key) < 1e-4, key


def test_integer_class_labels_give_float32_one_hot_for_float32_input():
    params, x, _ = _instance("softmax_classifier")
    k = KERNELS["softmax_classifier"]
    labels = np.arange(9) % 10
    grads = k.gradients({key: v.astype(np.float32) for key, v in params.items()}, x.astype(np.float32), labels)
    assert all(g.dtype == np.float32 for g in grads.values())


@pytest.mark.parametrize("name", list(CATALOG))
def test_complex_in_gives_complex_out_and_the_complex_step_is_exact(name):
    params, x, y = _instance(name)
    k = KERNELS[name]
    ref = k.gradients(params, x, y)
    pc = {key: v.astype(np.complex128) for key, v in params.items()}
    grads_c = k.gradients(pc, x, y)
    assert all(g.dtype == np.complex128 for g in grads_c.values())
    real = {key: g.real for key, g in grads_c.items()}
    assert all(np.array_equal(real[key], ref[key]) or _error(name, real, ref, key) < 1e-14 for key in params)
    assert k.forward(pc, x).dtype == np.complex128
    rng = np.random.default_rng(1)
    for key, value in params.items():
        flat = rng.choice(value.size, size=min(4, value.size), replace=False)
        step = np.zeros(len(flat))
        for i, f in enumerate(flat):
            probe = dict(pc)
            probe[key] = pc[key].copy()
            probe[key].flat[f] += 1j * H
            step[i] = k.loss(probe, x, y).imag / H
        # exact to rounding against the float64 gradient: the block-relative error of complex step (<= 1e-12)
        zero = CATALOG[name].zero_gradient_blocks()
        scale = max(np.abs(ref[k]).max() for k in ([key] if key not in zero else [k for k in ref if k not in zero]))
        scale = max(scale, 1e-300)
        assert np.abs(step - ref[key].flat[flat]).max() / scale < 1e-12, key


@pytest.mark.parametrize("name", ["mnist_nielsen", "numpy_tutorial"])
def test_real_and_complex_calls_interleaved_match_calls_made_alone(name):
    params, x, y = _instance(name)
    k = KERNELS[name]
    k.clear_workspace()
    alone = k.gradients(params, x, y)
    pc = {key: v + 1j * H for key, v in params.items()}
    complex_alone = k.gradients(pc, x, y)
    for _ in range(2):  # the two dtypes keep two workspaces: neither call sees the other's arrays
        real_again, complex_again = k.gradients(params, x, y), k.gradients(pc, x, y)
        for key in params:
            assert np.array_equal(real_again[key], alone[key])
            assert np.array_equal(complex_again[key], complex_alone[key])
