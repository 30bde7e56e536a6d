"""The diagnoses real code needed (issue 16): L2 terms, true zeros, any layer order, structural zeros, masks, modes."""

import io

import numpy as np
import pytest

from numeric import gradcheck
from numeric.progress import Progress

rng0 = np.random.default_rng(3)
X = rng0.standard_normal((5, 7))  # 5 inputs, 7 samples
Y = rng0.standard_normal((3, 7))


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _net(lam=0.0):
    """A 5-4-3 sigmoid net with mean squared error and an L2 term lam/2 (||W1||^2 + ||W2||^2)."""
    rng = np.random.default_rng(0)
    params = {"W1": rng.standard_normal((4, 5)), "b1": rng.standard_normal((4, 1)),
              "W2": rng.standard_normal((3, 4)), "b2": rng.standard_normal((3, 1))}

    def forward(p, x=X):
        a1 = _sigmoid(p["W1"] @ x + p["b1"])
        return a1, _sigmoid(p["W2"] @ a1 + p["b2"])

    def loss(p):
        _, a2 = forward(p)
        return 0.5 * np.sum((a2 - Y) ** 2) / 7 + 0.5 * lam * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))

    def grad(p, reg=1.0, sigma_at_a=False):
        a1, a2 = forward(p)
        d2 = (a2 - Y) * a2 * (1 - a2) / 7
        s1 = _sigmoid(a1) * (1 - _sigmoid(a1)) if sigma_at_a else a1 * (1 - a1)
        d1 = (p["W2"].T @ d2) * s1
        return {"W1": d1 @ X.T + reg * lam * p["W1"], "b1": d1.sum(1, keepdims=True),
                "W2": d2 @ a1.T + reg * lam * p["W2"], "b2": d2.sum(1, keepdims=True)}

    return loss, grad, params


@pytest.mark.parametrize("reg, words", [(0.0, "missing (if lambda = 0.03)"), (2.0, "counted twice if lambda = 0.03")])
def test_a_wrong_l2_term_is_named_with_its_lambda(reg, words):
    loss, grad, params = _net(lam=0.03)
    result = gradcheck(loss, lambda p: grad(p, reg=reg), params)
    assert {r.name for r in result.rows if r.verdict == "wrong"} == {"W1", "W2"}
    for name in ("W1", "W2"):
        assert "L2 regularisation term" in result.row(name).diagnosis and words in result.row(name).diagnosis
    assert "regularisation term" in result.localisation
    assert gradcheck(loss, grad, params).ok


def _centred():
    """z = W x + b, then the batch mean subtracted (batch norm's first step): dC/db is exactly zero."""
    rng = np.random.default_rng(1)
    params = {"W": rng.standard_normal((3, 5)), "b": rng.standard_normal((3, 1))}
    dout = rng.standard_normal((3, 7))

    def loss(p):
        z = p["W"] @ X + p["b"]
        return float(np.sum(dout * np.tanh(z - z.mean(axis=1, keepdims=True))))

    def grad(p, keep_bias=False):
        z = p["W"] @ X + p["b"]
        zc = z - z.mean(axis=1, keepdims=True)
        dzc = dout * (1 - np.tanh(zc) ** 2)
        dz = dzc if keep_bias else dzc - dzc.mean(axis=1, keepdims=True)
        return {"W": dz @ X.T, "b": dz.sum(1, keepdims=True)}

    return loss, grad, params


def test_a_true_gradient_of_exactly_zero_is_said_in_words_for_right_and_wrong_code():
    loss, grad, params = _centred()
    right = gradcheck(loss, grad, params)
    assert right.ok and "true gradient is zero" in right.row("b").diagnosis
    assert not np.isfinite(right.row("b").rel_error) and right.row("b").to_dict()["rel_error"] is None
    wrong = gradcheck(loss, lambda p: grad(p, keep_bias=True), params)
    b = wrong.row("b")
    assert b.verdict == "wrong" and "the true gradient is zero" in b.diagnosis
    assert "batch size" not in b.diagnosis and "factor" not in b.diagnosis  # no x1e16 "m = 1e16 samples"


def test_one_hidden_layer_with_delta1_wrong_points_at_bp2():
    loss, grad, params = _net()
    result = gradcheck(loss, lambda p: grad(p, sigma_at_a=True), params)
    assert {r.name for r in result.rows if r.verdict == "wrong"} == {"W1", "b1"}
    assert "enters at delta^1" in result.localisation and "BP2" in result.localisation


def test_localisation_reads_any_ordered_layer_keys():
    rng = np.random.default_rng(2)
    params = {"Wxh": rng.standard_normal((4, 5)), "bh": rng.standard_normal(4),
              "Why": rng.standard_normal((3, 4)), "by": rng.standard_normal(3)}
    x = rng.standard_normal(5)

    def loss(p):
        h = np.tanh(p["Wxh"] @ x + p["bh"])
        return float(np.sum(np.sin(p["Why"] @ h + p["by"])))

    def grad(p, bug=False):
        h = np.tanh(p["Wxh"] @ x + p["bh"])
        dy = np.cos(p["Why"] @ h + p["by"])
        dh = (p["Why"].T @ dy) * (1 if bug else 1 - h ** 2)
        return {"Wxh": np.outer(dh, x), "bh": dh, "Why": np.outer(dy, h), "by": dy}

    layers = [["Wxh", "bh"], ["Why", "by"]]
    assert gradcheck(loss, lambda p: grad(p, bug=True), params).localisation is None  # no numbers: no guess
    result = gradcheck(loss, lambda p: grad(p, bug=True), params, layers=layers)
    assert "enters the backward pass at layer 1 (Wxh, bh)" in result.localisation


def test_a_structurally_zero_input_column_makes_no_pattern_claim():
    params = _net()[2]
    x = X.copy()
    x[2] = 0.0  # a one-hot feature that never fires: column 2 of dC/dW1 is zero in both gradients

    def loss0(p):
        a2 = _sigmoid(p["W2"] @ _sigmoid(p["W1"] @ x + p["b1"]) + p["b2"])
        return 0.5 * np.sum((a2 - Y) ** 2) / 7

    def grad0(p):
        a1 = _sigmoid(p["W1"] @ x + p["b1"])
        a2 = _sigmoid(p["W2"] @ a1 + p["b2"])
        d2 = (a2 - Y) * a2 * (1 - a2) / 7
        d1 = (p["W2"].T @ d2) * a1  # sigma' missing its (1 - a)
        return {"W1": d1 @ x.T, "b1": d1.sum(1, keepdims=True), "W2": d2 @ a1.T, "b2": d2.sum(1, keepdims=True)}

    w1 = gradcheck(loss0, grad0, params).row("W1")
    assert w1.verdict == "wrong" and "confined" not in w1.diagnosis


def test_a_mask_routed_wrong_is_named():
    rng = np.random.default_rng(4)
    params = {"x": rng.standard_normal((4, 6))}
    dout = rng.standard_normal((4, 6))
    result = gradcheck(lambda p: float(np.sum(dout * np.maximum(p["x"], 0))), lambda p: {"x": dout}, params)
    assert "non-zero at" in result.row("x").diagnosis and "mask" in result.row("x").diagnosis


def test_accept_reshape_checks_a_column_gradient_for_a_vector_parameter():
    rng = np.random.default_rng(5)
    params = {"b": rng.standard_normal(4)}

    def loss(p):
        return float(np.sum(np.sin(p["b"])))

    def grad(p):
        return {"b": np.cos(p["b"]).reshape(4, 1)}

    assert gradcheck(loss, grad, params).row("b").verdict == "wrong"
    result = gradcheck(loss, grad, params, accept_reshape=True)
    assert result.ok and any("accepted as (4,)" in n for n in result.notes)


def test_auto_mode_samples_big_blocks_and_its_probes_see_an_element_outside_the_sample():
    rng = np.random.default_rng(6)
    params = {"W": rng.standard_normal((100, 60)), "b": rng.standard_normal(100)}
    x = rng.standard_normal(60)

    def loss(p):
        return float(np.sum(np.tanh(p["W"] @ x + p["b"])))

    def grad(p):
        d = 1 - np.tanh(p["W"] @ x + p["b"]) ** 2
        return {"W": np.outer(d, x), "b": d}

    right = gradcheck(loss, grad, params)
    w = right.row("W")
    assert right.ok and w.n_checked == 256 and "stratified sample of 256 of 6000" in w.diagnosis
    assert right.row("b").n_checked == 100 and any("mode auto" in n for n in right.notes)
    for flat in range(0, 6000, 997):  # whichever element is wrong, sampled or not, the block is wrong

        def broken(p, flat=flat):
            g = grad(p)
            g["W"].reshape(-1)[flat] += 0.5
            return g

        assert gradcheck(loss, broken, params).row("W").verdict == "wrong"


def test_progress_stays_silent_for_short_work_and_speaks_after_its_delay():
    stream = io.StringIO()
    quick = Progress(10, stream=stream, delay=2.0)
    for i in range(1, 11):
        quick.bar(i, "gradcheck")
    assert stream.getvalue() == ""
    slow = Progress(10, stream=stream, delay=0.0, every=0.0)
    slow.bar(5, "gradcheck")
    assert "50%" in stream.getvalue() and "left" in stream.getvalue()
