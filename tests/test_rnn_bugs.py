"""BPTT bugs named by tested hypotheses (numeric.rnn_diagnose) and localised in time (numeric.time_steps).

The user code is tests/rnn_bugs.py, a min-char-rnn-style lossFun with the parameters as module globals; a second,
batched BPTT below (m sequences side by side, numeric.rnn's loss) shows the experiments do not depend on m = 1.
Each named bug is asserted on the rows it touches, with the sentence that names it; the correct code, the controls
and every experiment forced onto correct code name nothing.
"""

from __future__ import annotations

import numpy as np
import pytest
import rnn_bugs

from numeric.check_result import Verdict
from numeric.errors import BadInput
from numeric.layer_check import check_problem
from numeric.named_bugs import check_named
from numeric.rnn import RNN
from numeric.rnn_diagnose import dh_next_missing, dh_next_wrong, h_t_in_dWhh, rnn_findings, rnn_roles
from numeric.time_steps import TimeSteps, check_time_steps, steps_parameter

DH_NEXT = "BPTT's dh_next is missing or wrong"
H_T = "dWhh built from h_t where h_(t-1) is meant"
NAMES = ["Wxh", "Whh", "Why", "bh", "by"]


def _wrong(result) -> set[str]:
    return {r.name for r in result.rows if r.verdict is Verdict.WRONG}


@pytest.mark.parametrize("T", [1, 2, 4])
def test_the_correct_lossFun_passes_and_no_experiment_names_it_even_when_forced(T):
    loss, grad, params = rnn_bugs.make_problem(T)
    assert check_named((loss, grad, params), progress=False).ok
    # every block declared wrong: each experiment still has to see the named bug's gradient, and does not
    assert rnn_findings(loss, grad, params, set(NAMES)) == []


@pytest.mark.parametrize("T", [2, 4])
def test_no_dh_next_is_named_on_the_blocks_behind_h(T):
    result = check_named(rnn_bugs.make_problem(T, "no_dh_next"), progress=False)
    assert _wrong(result) == {"Wxh", "Whh", "bh"}
    for name in ("Wxh", "Whh", "bh"):
        text = result.row(name).diagnosis
        assert text.startswith(DH_NEXT), text
        assert "at Whh = 0, where that term vanishes, the analytic dWxh, dWhh, dbh are right" in text


def test_no_dh_next_is_invisible_with_one_step():
    assert check_named(rnn_bugs.make_problem(1, "no_dh_next"), progress=False).ok


@pytest.mark.parametrize("T", [1, 4])
def test_h_t_in_dWhh_is_named_on_Whh_alone(T):
    result = check_named(rnn_bugs.make_problem(T, "h_t_in_dWhh"), progress=False)
    assert _wrong(result) == {"Whh"}
    text = result.row("Whh").diagnosis
    assert text.startswith(H_T) and "the analytic dWhh equals dbh c^T" in text, text


def test_the_controls_a_wrong_carry_is_named_dh_next_and_a_missing_tanh_prime_is_not_named():
    carry = check_named(rnn_bugs.make_problem(4, "carry_transposed"), progress=False)
    assert _wrong(carry) == {"Wxh", "Whh", "bh"}
    assert all(carry.row(n).diagnosis.startswith(DH_NEXT) for n in ("Wxh", "Whh", "bh"))
    plain = check_named(rnn_bugs.make_problem(4, "no_tanh_prime"), progress=False)
    assert _wrong(plain) == {"Wxh", "Whh", "bh"}
    for r in plain.rows:
        assert DH_NEXT not in r.diagnosis and H_T not in r.diagnosis, r.diagnosis


def test_each_experiment_alone_says_nothing_about_the_other_bug():
    for bug, experiment in (("no_dh_next", h_t_in_dWhh), ("h_t_in_dWhh", dh_next_wrong)):
        loss, grad, params = rnn_bugs.make_problem(4, bug)
        roles = rnn_roles(params)
        assert roles is not None
        assert experiment(loss, grad, params, roles, set(NAMES), np.random.default_rng(0)) is None


def test_other_parameter_names_get_no_rnn_experiment():
    loss, grad, params = rnn_bugs.make_problem(3, "no_dh_next")
    renamed = {f"p{i}": v for i, v in enumerate(params.values())}
    assert rnn_roles(renamed) is None
    assert rnn_findings(loss, grad, renamed, set(renamed)) == []


def test_without_dh_next_is_told_from_a_wrong_carry_by_the_first_two_prefixes():
    """With one sequence, T' = 1 and 2 show whether the loss of step 2 reaches step 1 at all."""
    everything = {"Wxh", "Whh", "bh"}
    found = dh_next_missing(lambda t: rnn_bugs.make_problem(t, "no_dh_next"), everything)
    assert found is not None and found.rows == ("Wxh", "Whh", "bh")
    assert found.text.startswith("BPTT without dh_next: from T' = 1 to T' = 2 steps the analytic dWhh grows by "
                                 "exactly (its dbh increment) h_1^T")
    for bug in (None, "carry_transposed", "no_tanh_prime", "h_t_in_dWhh"):
        assert dh_next_missing(lambda t, bug=bug: rnn_bugs.make_problem(t, bug), everything | {"Why"}) is None, bug


# ----- m sequences side by side (numeric.rnn's loss, averaged over them) ------------------------------------------
def _bptt_columns(p, x, y, h0, bug=None):
    """BPTT over (T, m) token arrays, columns layout, C averaged over the m sequences, with the two bugs."""
    T, m = x.shape
    hs, ps = [h0], []
    for t in range(T):
        hs.append(np.tanh(p["Wxh"][:, x[t]] + p["Whh"] @ hs[-1] + p["bh"]))
        e = np.exp(p["Why"] @ hs[-1] + p["by"])
        ps.append(e / e.sum(axis=0))
    g = {k: np.zeros(np.shape(v)) for k, v in p.items()}
    carry = np.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        dz = ps[t].copy()
        dz[y[t], np.arange(m)] -= 1.0
        dz /= m
        g["Why"] += dz @ hs[t + 1].T
        g["by"] += dz.sum(axis=1, keepdims=True)
        da = (1.0 - hs[t + 1] ** 2) * (p["Why"].T @ dz + (0.0 if bug == "no_dh_next" else carry))
        g["bh"] += da.sum(axis=1, keepdims=True)
        np.add.at(g["Wxh"].T, x[t], da.T)
        g["Whh"] += da @ (hs[t + 1] if bug == "h_t_in_dWhh" else hs[t]).T
        carry = p["Whh"].T @ da
    return g


@pytest.mark.parametrize("bug, wrong, words", [
    (None, set(), None),
    ("no_dh_next", {"Wxh", "Whh", "bh"}, DH_NEXT),
    ("h_t_in_dWhh", {"Whh"}, H_T),
])
def test_three_sequences_side_by_side(bug, wrong, words):
    model = RNN(5, 7)
    params = model.init_params(seed=3)
    rng = np.random.default_rng(4)
    x, y = rng.integers(0, 5, (4, 3)), rng.integers(0, 5, (4, 3))
    h0 = 0.3 * rng.standard_normal((7, 3))
    problem = (lambda p: model.loss(p, x, y, h0), lambda p: _bptt_columns(p, x, y, h0, bug), params)
    result = check_named(problem, progress=False)
    assert _wrong(result) == wrong, str(result)
    for name in wrong:
        assert result.row(name).diagnosis.startswith(words)


# ----- time steps -------------------------------------------------------------------------------------------------
def _steps(bug, T=4) -> TimeSteps:
    return check_time_steps(lambda t: rnn_bugs.make_problem(t, bug), T, lambda p: check_problem(p, progress=False))


def test_time_steps_no_dh_next_is_correct_for_one_step_and_wrong_from_two():
    steps = _steps("no_dh_next")
    assert steps.first_wrong == 2
    assert steps.wrong[1] == [] and all(steps.wrong[t] == ["Wxh", "Whh", "bh"] for t in (2, 3, 4))
    text = steps.text()
    assert "correct for T' = 1; wrong from T' = 2 on (Wxh, Whh, bh)" in text
    assert "the gradient through h_(t-1) (dh_next" in text


def test_time_steps_h_t_in_dWhh_is_wrong_from_one_step_and_a_correct_rnn_says_nothing():
    steps = _steps("h_t_in_dWhh")
    assert steps.first_wrong == 1
    assert steps.text().startswith("by time step (make_problem(T) for T' = 1..4): wrong from T' = 1 on (Whh)")
    correct = _steps(None, 3)
    assert correct.first_wrong is None and correct.text() is None


def test_a_failure_that_needs_three_steps_and_a_gap_are_worded_as_such():
    assert "correct for T' = 1..2; wrong from T' = 3 on (Whh)" in TimeSteps(3, {1: [], 2: [], 3: ["Whh"]}).text()
    assert "wrong at T' = 2, 4 (bh)" in TimeSteps(4, {1: [], 2: ["bh"], 3: [], 4: ["bh"]}).text()


def test_the_steps_parameter_is_read_from_the_signature():
    assert steps_parameter(rnn_bugs.make_problem) == ("T", 4)
    assert steps_parameter(lambda: None) is None
    assert steps_parameter(lambda steps=3: None) is None  # only T is read as the number of steps
    with pytest.raises(BadInput, match=r"has no default for T: write def make_problem\(T=4\)"):
        steps_parameter(lambda T: None)
    with pytest.raises(BadInput, match="is not a number of time steps"):
        steps_parameter(lambda T=0: None)
