"""`bpv gradcheck FILE.py:FUNCTION`: the table, JSON, and exit status 0 / 1 / 2 with one clear line."""

import json
from pathlib import Path

import pytest

from derive.cli.app import main

DATA = Path(__file__).parent / "data"


def test_a_correct_gradient_exits_0_and_prints_the_table(capsys):
    assert main(["gradcheck", f"{DATA / 'gradcheck_ok.py'}:make_problem"]) == 0
    out = capsys.readouterr().out
    assert "param" in out and "OK" in out and "w1" in out


def test_a_relu_net_at_its_kinks_exits_0_with_kink_verdicts(capsys):
    assert main(["gradcheck", str(DATA / "gradcheck_relu_kink.py")]) == 0
    assert "kink" in capsys.readouterr().out


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_a_buggy_gradient_exits_1_and_says_what_is_wrong(mode, capsys):
    assert main(["gradcheck", str(DATA / "gradcheck_buggy.py"), "--mode", mode]) == 1
    out = capsys.readouterr().out
    assert "x1/m with m = 8" in out and "forgotten 1/2" in out


def test_json_goes_to_a_file_or_to_stdout(tmp_path, capsys):
    target = tmp_path / "r.json"
    assert main(["gradcheck", str(DATA / "gradcheck_buggy.py"), "--json", str(target), "--seed", "3"]) == 1
    d = json.loads(target.read_text())
    assert d["bpv"] == "gradcheck" and d["ok"] is False and d["seed"] == 3
    assert {r["name"] for r in d["rows"] if r["verdict"] == "wrong"} == {"b1", "w2"}
    capsys.readouterr()
    assert main(["gradcheck", str(DATA / "gradcheck_ok.py"), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


@pytest.mark.parametrize("target,words", [
    ("missing_file.py:make_problem", "not found"),
    (f"{DATA / 'gradcheck_ok.py'}:nope", "has no function 'nope'"),
    (f"{DATA / 'gradcheck_bad_return.py'}", "returned a tuple of 2; it must return (loss, grad, params)"),
    (f"{DATA / 'gradcheck_ok.py'}:not-a-name", "not a Python function name"),
])
def test_bad_input_exits_2_with_one_line_that_says_which(target, words, capsys):
    assert main(["gradcheck", target]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1


def test_a_file_that_raises_on_import_or_in_make_problem_exits_2(tmp_path, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    assert main(["gradcheck", str(broken)]) == 2
    assert "RuntimeError: boom" in capsys.readouterr().err
    raising = tmp_path / "raising.py"
    raising.write_text("def make_problem():\n    return {}['x']\n")
    assert main(["gradcheck", f"{raising}:make_problem"]) == 2
    assert "make_problem() raised KeyError" in capsys.readouterr().err
    not_callable = tmp_path / "nc.py"
    not_callable.write_text("def make_problem():\n    return 1, 2, {}\n")
    assert main(["gradcheck", str(not_callable)]) == 2
    assert "loss that is not callable" in capsys.readouterr().err


def test_help_warns_that_the_file_is_imported_and_run(capsys):
    assert main(["gradcheck", "--help"]) == 0
    out = capsys.readouterr().out
    assert "imports FILE.py and runs its code" in out and "make_problem" in out
