"""The vanilla RNN (issue 14 part 3): the NumPy BPTT reference against gradcheck and torch, planted BPTT bugs
caught and named, and the SymPy derivation of BPTT from the unrolled cost (holding, and refuting a wrong claim)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from numeric import gradcheck
from numeric.check_result import Verdict
from numeric.errors import BadInput
from numeric.rnn import PARAM_NAMES, RNN

T, V, N_H = 4, 5, 8


def _data(m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, V, (T, m))
    y = rng.integers(0, V, (T, m))
    h0 = 0.4 * rng.standard_normal((N_H, m))
    return x, y, h0


def _check(grad, m: int):
    model = RNN(V, N_H)
    params = model.init_params(seed=1)
    x, y, h0 = _data(m)
    return gradcheck(lambda p: model.loss(p, x, y, h0), lambda p: grad(model, p, x, y, h0), params,
                     batch_size=m, progress=False)


# ----- the reference --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("m", [1, 3])
def test_reference_passes_gradcheck_with_the_complex_step(m):
    result = _check(lambda model, p, x, y, h0: model.gradients(p, x, y, h0), m)
    assert result.ok, str(result)
    assert [r.name for r in result.rows] == list(PARAM_NAMES)
    for row in result.rows:
        assert row.verdict is Verdict.OK
        assert row.method == "complex-step", row  # the loss is analytic: the complex step is the reference
        assert row.n_checked == row.shape[0] * row.shape[1]
        assert row.rel_error < 1e-12


def test_h0_defaults_to_zeros_and_m1_is_the_summed_cross_entropy():
    model = RNN(V, N_H)
    p = model.init_params(seed=2)
    x, y, _ = _data(1)
    assert model.loss(p, x, y) == model.loss(p, x, y, np.zeros((N_H, 1)))
    # min-char-rnn's loss, written independently: a plain loop with an explicit softmax
    h, total = np.zeros((N_H, 1)), 0.0
    for t in range(T):
        h = np.tanh(p["Wxh"][:, [x[t, 0]]] + p["Whh"] @ h + p["bh"])
        z = p["Why"] @ h + p["by"]
        total -= np.log(np.exp(z[y[t, 0], 0]) / np.sum(np.exp(z)))
    assert model.loss(p, x, y) == pytest.approx(total, rel=1e-13)


def test_stable_for_large_logits():
    model = RNN(V, N_H)
    p = {k: 300.0 * v for k, v in model.init_params(seed=3).items()}
    x, y, h0 = _data(2)
    grads = model.gradients(p, x, y, h0)
    assert np.isfinite(model.loss(p, x, y, h0))
    assert all(np.all(np.isfinite(g)) for g in grads.values())


@pytest.mark.parametrize("change, message", [
    (lambda p, x, y, h0: ({**p, "Whh": p["Whh"][:, :3]}, x, y, h0), "Whh has shape (8, 3)"),
    (lambda p, x, y, h0: ({k: v for k, v in p.items() if k != "by"}, x, y, h0), "lack by"),
    (lambda p, x, y, h0: (p, x.astype(float), y, h0), "integer token ids"),
    (lambda p, x, y, h0: (p, x, np.where(y == y[0, 0], V, y), h0), f"is not a token id of a vocabulary of {V}"),
    (lambda p, x, y, h0: (p, x[:, 0], y, h0), "shape (T, m)"),
    (lambda p, x, y, h0: (p, x, y[:-1], h0), "the same shape"),
    (lambda p, x, y, h0: (p, x, y, h0[:, :1]), "h0 has shape (8, 1)"),
])
def test_bad_input_is_reported(change, message):
    model = RNN(V, N_H)
    args = change(model.init_params(), *_data(2))
    for fn in (model.loss, model.gradients):
        with pytest.raises(BadInput, match=message.replace("(", r"\(").replace(")", r"\)")):
            fn(*args)


def test_bad_sizes_are_reported():
    with pytest.raises(BadInput, match="vocab must be an integer >= 2"):
        RNN(1, 4)
    with pytest.raises(BadInput, match="hidden must be an integer >= 1"):
        RNN(4, 0)


# ----- against torch --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("m", [1, 3])
def test_matches_an_unrolled_torch_rnn(m):
    torch = pytest.importorskip("torch")
    model = RNN(V, N_H)
    params = model.init_params(seed=4)
    x, y, h0 = _data(m, seed=5)
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    h = torch.tensor(h0, dtype=torch.float64)
    eye = torch.eye(V, dtype=torch.float64)
    loss = torch.zeros((), dtype=torch.float64)
    for t in range(T):  # torch's own ops, rows = samples for cross_entropy
        h = torch.tanh(tp["Wxh"] @ eye[:, torch.as_tensor(x[t])] + tp["Whh"] @ h + tp["bh"])
        z = tp["Why"] @ h + tp["by"]
        loss = loss + torch.nn.functional.cross_entropy(z.T, torch.as_tensor(y[t]), reduction="sum")
    loss = loss / m
    loss.backward()
    assert abs(model.loss(params, x, y, h0) - loss.item()) <= 1e-12 * max(1.0, abs(loss.item()))
    ours = model.gradients(params, x, y, h0)
    for k in PARAM_NAMES:
        assert np.max(np.abs(ours[k] - tp[k].grad.numpy())) <= 1e-12, k


# ----- planted BPTT bugs ----------------------------------------------------------------------------------------
def _buggy_bptt(model: RNN, p, x, y, h0, *, dh_next: bool = True, previous_state: bool = True):
    """A second, deliberately separate BPTT loop with the two classic mistakes as switches."""
    m = x.shape[1]
    hs, ps = [h0], []
    for t in range(x.shape[0]):
        hs.append(np.tanh(p["Wxh"][:, x[t]] + p["Whh"] @ hs[-1] + p["bh"]))
        z = p["Why"] @ hs[-1] + p["by"]
        e = np.exp(z - z.max(axis=0))
        ps.append(e / e.sum(axis=0))
    g = {k: np.zeros_like(v) for k, v in p.items()}
    carry = np.zeros_like(h0)
    for t in reversed(range(x.shape[0])):
        dz = ps[t].copy()
        dz[y[t], np.arange(m)] -= 1.0
        dz /= m
        h = hs[t + 1]
        g["Why"] += dz @ h.T
        g["by"] += dz.sum(axis=1, keepdims=True)
        dh = p["Why"].T @ dz + (carry if dh_next else 0.0)
        da = (1.0 - h**2) * dh
        g["bh"] += da.sum(axis=1, keepdims=True)
        np.add.at(g["Wxh"].T, x[t], da.T)
        g["Whh"] += da @ (hs[t] if previous_state else h).T
        carry = p["Whh"].T @ da
    return g


def test_the_separate_loop_without_bugs_passes():
    """So that the two failures below are the bugs, not the loop."""
    assert _check(_buggy_bptt, 3).ok


@pytest.mark.parametrize("m", [1, 3])
@pytest.mark.parametrize("bug, wrong", [
    ({"dh_next": False}, {"Wxh", "Whh", "bh"}),  # every gradient behind h_t; the output layer is untouched
    ({"previous_state": False}, {"Whh"}),
])
def test_planted_bptt_bugs_are_caught_on_the_right_rows(bug, wrong, m):
    result = _check(lambda model, p, x, y, h0: _buggy_bptt(model, p, x, y, h0, **bug), m)
    assert not result.ok
    assert {r.name for r in result.rows if r.verdict is Verdict.WRONG} == wrong, str(result)
    for r in result.rows:
        if r.name in wrong:
            assert r.diagnosis, r
            assert r.n_bad > 0


# ----- the derivation -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def derivation():
    from derive.layers.rnn import derive_bptt

    start = time.perf_counter()
    d = derive_bptt()
    return d, time.perf_counter() - start


def test_bptt_derivation_holds(derivation):
    from derive.core.render import derivation_text
    from derive.core.steps import StepKind

    d, seconds = derivation
    # about 8 s alone on this machine (the budget is 10 s); the margin is for a loaded 2-core box, and still
    # catches a symbolic blow-up (an expand of the differences takes minutes)
    assert seconds < 20.0
    assert d.holds, derivation_text(d)
    claims = [s for s in d if s.kind is StepKind.CLAIM]
    labels = {s.label for s in claims}
    assert {f"rnn.d{k}{t}" for k in "zha" for t in (1, 2, 3)} | {f"rnn.d{k}" for k in PARAM_NAMES} == labels
    assert all(s.check is not None and s.check.holds is True for s in claims)
    text = derivation_text(d)
    assert "W_hhᵀ*da_2" in text and "∂C/∂Whh" in text


def test_a_wrong_bptt_claim_is_refuted_by_the_same_checks(derivation):
    from derive.layers.rnn import MISTAKES, bptt_forms, check_form, random_points, unrolled_gradients

    u, direct = unrolled_gradients()  # the objects derive_bptt used (cached)
    points = random_points(u)
    no_next = MISTAKES["no dh_next"](u)
    refuted = check_form(direct["h", 1], no_next["h", 1], points)
    assert refuted.holds is False and refuted.counterexample
    # the last step has no dh_next, so the same wrong recursion is right there: the check is not merely hostile
    assert check_form(direct["h", u.T], no_next["h", u.T], points).holds is True
    assert check_form(direct["Whh"], no_next["Whh"], points).holds is False
    assert check_form(direct["Whh"], MISTAKES["h_t in dWhh"](u)["Whh"], points).holds is False
    assert check_form(direct["Whh"], bptt_forms(u)["Whh"], points).holds is True
