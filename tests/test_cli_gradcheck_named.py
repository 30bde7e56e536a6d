"""`bpv gradcheck` names the convolution, max-pool and BPTT bugs of issue 14 and localises an RNN's in time.

The user files are tests/data/gradcheck_conv.py (CS231n-style layers from tests/conv_bugs.py) and
tests/data/gradcheck_rnn.py (a min-char-rnn-style lossFun from tests/rnn_bugs.py, whose functions take T). Each bug
exits 1 with its name in the table; each correct version exits 0.
"""

import json
from pathlib import Path

import pytest

from derive.cli.app import main

DATA = Path(__file__).parent / "data"
CONV, RNN = DATA / "gradcheck_conv.py", DATA / "gradcheck_rnn.py"


@pytest.mark.parametrize("target, code, words", [
    (f"{CONV}:make_problem", 0, ["OK"]),
    (f"{CONV}:pool_ok", 0, ["OK"]),
    (f"{CONV}:unflipped", 1, ["dx computed with the kernel not flipped", "w[:, :, ::-1, ::-1]"]),
    (f"{CONV}:stride_ignored", 1, ["the backward ignores the stride (conv_param['stride'] = 2)",
                                   "the analytic dx and dw equal the true gradients of your forward at stride 1"]),
    (f"{CONV}:route_to_all", 1, ["max-pool routes the gradient to every element of its window",
                                 "2x2 windows at stride 2"]),
    (f"{RNN}:no_dh_next", 1, ["BPTT without dh_next: from T' = 1 to T' = 2 steps the analytic dWhh grows by "
                              "exactly (its dbh increment) h_1^T",
                              "correct for T' = 1; wrong from T' = 2 on (Wxh, Whh, bh)"]),
    (f"{RNN}:carry_transposed", 1, ["BPTT's dh_next is missing or wrong",
                                    "correct for T' = 1; wrong from T' = 2 on (Wxh, Whh, bh)"]),
    (f"{RNN}:h_t_in_dWhh", 1, ["dWhh built from h_t where h_(t-1) is meant", "wrong from T' = 1 on (Whh)"]),
])
def test_each_bug_is_named_and_each_correct_layer_passes(target, code, words, capsys):
    assert main(["gradcheck", target]) == code
    out = capsys.readouterr().out
    for w in words:
        assert w in out, out
    if target.endswith("carry_transposed"):  # a carry that is there but wrong is not "without dh_next"
        assert "BPTT without dh_next" not in out


def test_a_correct_rnn_exits_0_after_checking_every_prefix(capsys):
    assert main(["gradcheck", f"{RNN}:make_problem"]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "where:" not in out
    assert "time steps checked (wrong blocks per prefix): T'=1: ok; T'=2: ok; T'=3: ok; T'=4: ok" in out


def test_the_time_step_localisation_is_in_the_json(tmp_path, capsys):
    target = tmp_path / "r.json"
    assert main(["gradcheck", f"{RNN}:no_dh_next", "--json", str(target)]) == 1
    d = json.loads(target.read_text())
    assert d["ok"] is False and "wrong from T' = 2 on (Wxh, Whh, bh)" in d["localisation"]
    assert {r["name"] for r in d["rows"] if r["verdict"] == "wrong"} == {"Wxh", "Whh", "bh"}
    capsys.readouterr()


def test_a_T_without_a_default_is_bad_input(tmp_path, capsys):
    user = tmp_path / "steps.py"
    user.write_text("def make_problem(T):\n    raise AssertionError('never called')\n")
    assert main(["gradcheck", str(user)]) == 2
    assert "make_problem(T) has no default for T" in capsys.readouterr().err


def test_the_docs_quote_what_the_command_prints(capsys):
    """docs/gradcheck.md's text block after `bpv gradcheck tests/data/gradcheck_rnn.py:no_dh_next` is the output."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "gradcheck.md").read_text(encoding="utf-8")
    command = "bpv gradcheck tests/data/gradcheck_rnn.py:no_dh_next"
    quoted = doc.split(f"```sh\n{command}\n```\n\n```text\n", 1)[1].split("```", 1)[0].splitlines()
    assert main(["gradcheck", f"{RNN}:no_dh_next"]) == 1
    printed = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    printed = [line for line in printed if not line.startswith(("== bpv gradcheck", "gradcheck (auto mode"))]
    assert [_noise_free(q) for q in quoted] == [_noise_free(p) for p in printed]


def _noise_free(line: str) -> str:
    """A row of a correct parameter with its error columns blanked: they are finite-difference round-off (~1e-10),
    whose digits and worst entry depend on the CPU's libm (seen: 3.8e-10 at 0,0 on one machine, 3.5e-10 at 4,1 on
    another); the verdict, the bad count and every wrong row are compared digit for digit."""
    cols = line.split()
    if len(cols) >= 7 and cols[2] == "ok":
        return " ".join(cols[:3] + cols[6:])
    return line


def test_a_prefix_that_cannot_be_built_leaves_the_verdict_and_says_why(tmp_path, capsys):
    user = tmp_path / "short.py"
    user.write_text(f"import sys\nsys.path.insert(0, {str(DATA.parent)!r})\nimport rnn_bugs\n\n\n"
                    "def make_problem(T=3):\n"
                    "    if T < 3:\n"
                    "        raise ValueError('needs 3 steps')\n"
                    "    return rnn_bugs.make_problem(T, 'no_dh_next')\n")
    assert main(["gradcheck", str(user)]) == 1
    out = capsys.readouterr().out
    assert "BPTT's dh_next is missing or wrong" in out  # the prefixes are needed for "without"
    assert "the prefixes T' = 1..3 were not checked: make_problem(T=1) raised ValueError: needs 3 steps" in out
