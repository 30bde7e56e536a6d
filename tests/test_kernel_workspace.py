"""The kernels' workspace: intermediates reused across calls of one dtype and shape, results never overwritten."""

import threading
import tracemalloc

import numpy as np
import pytest

from derive.verification.witnesses import instance
from numeric.catalog import CATALOG
from numeric.kernels import KERNELS


def _instance(name: str, m: int, seed: int):
    """params, x, y of catalog model ``name`` at its own widths."""
    return instance(CATALOG[name], seed, m)


@pytest.mark.parametrize("name", list(CATALOG))
def test_returned_arrays_are_fresh_and_survive_later_calls(name):
    k = KERNELS[name]
    params, x, y = _instance(name, 6, 0)
    other, _, _ = _instance(name, 6, 1)
    grads, out = k.gradients(params, x, y), k.forward(params, x)
    kept = {key: g.copy() for key, g in grads.items()}, out.copy()
    later, later_out = k.gradients(other, x, y), k.forward(other, x)
    k.loss(other, x, y)
    for key, g in grads.items():
        assert np.array_equal(g, kept[0][key]), f"{key} was overwritten by a later call"
        assert not np.shares_memory(g, later[key])
    assert np.array_equal(out, kept[1]) and not np.shares_memory(out, later_out)


@pytest.mark.parametrize("name", ["regression", "numpy_tutorial", "softmax_classifier"])
def test_results_do_not_depend_on_reusing_the_workspace(name, monkeypatch):
    k = KERNELS[name]
    params, x, y = _instance(name, 11, 2)
    reused = [k.gradients(params, x, y) for _ in range(2)][-1]
    monkeypatch.setattr(k, "REUSE_WORKSPACE", False)
    fresh = k.gradients(params, x, y)
    assert all(np.array_equal(reused[key], fresh[key]) for key in params)
    assert k.loss(params, x, y) == (monkeypatch.undo() or k.loss(params, x, y))


def _peak_bytes(fn) -> int:
    tracemalloc.start()  # NumPy reports its data buffers to tracemalloc
    try:
        fn()
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_repeated_call_allocates_little_more_than_the_gradients_it_returns(monkeypatch):
    k = KERNELS["mnist_nielsen"]
    params, x, y = _instance("mnist_nielsen", 512, 3)
    returned = sum(g.nbytes for g in k.gradients(params, x, y).values())
    reused = _peak_bytes(lambda: k.gradients(params, x, y))
    monkeypatch.setattr(k, "REUSE_WORKSPACE", False)
    fresh = _peak_bytes(lambda: k.gradients(params, x, y))
    intermediates = 4 * 30 * 512 * 8  # Z1, A1, E1 and a scratch array of the 30-wide layer alone
    assert reused < returned + 0.5 * intermediates < fresh


def test_the_workspace_keeps_a_bounded_number_of_shapes_and_can_be_cleared():
    k = KERNELS["binary_classifier"]
    k.clear_workspace()
    for m in range(1, 3 * k.WORKSPACE_SLOTS):
        params, x, y = _instance("binary_classifier", m, m)
        k.gradients(params, x, y)
    assert k.WORKSPACE_SLOTS >= 1
    k.clear_workspace()
    params, x, y = _instance("binary_classifier", 5, 0)
    assert set(k.gradients(params, x, y)) == set(params)


def test_threads_do_not_share_a_workspace():
    k = KERNELS["tanh_net"]
    cases = [_instance("tanh_net", 64, seed) for seed in range(4)]
    expected = [k.gradients(*case) for case in cases]
    failures = []

    def work(i: int) -> None:
        for _ in range(30):
            got = k.gradients(*cases[i])
            if not all(np.array_equal(got[key], expected[i][key]) for key in got):
                failures.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
