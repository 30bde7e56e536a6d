"""`bpv derive`: the full derivation with verdicts, --latex, --json with LaTeX and srepr, exit 1 when not holding."""

import json

import pytest

import derive.backprop.general_rule as gr
from derive.backprop.general_rule import L, dC, j
from derive.cli.app import main
from derive.core.symbols import a

NET = ["--net", "2-3-2", "--act", "sigmoid", "--cost", "quadratic", "--quiet"]


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BPV_CACHE_DIR", str(tmp_path / "cache"))


def test_prints_every_part_with_verdicts_and_bp2(capsys):
    assert main(["derive", *NET]) == 0
    out = capsys.readouterr().out
    assert "BP1-BP4 for every width" in out and "axiom: multivariate chain rule" in out
    assert "δ^l_j = σ'(z^l_j)*(Σ_(k=1..n_(l+1)) (w^(l + 1)_kj*δ^(l + 1)_k))" in out  # book order: w before δ
    assert "end to end" in out and "all hold" in out and "✗" not in out


def test_progress_goes_to_stderr(capsys):
    assert main(["derive", *NET[:-1], "--no-cache"]) == 0
    captured = capsys.readouterr()
    assert "bpv derive:" in captured.err and "bpv derive:" not in captured.out


def test_json_has_latex_and_srepr(tmp_path):
    target = tmp_path / "d.json"
    assert main(["derive", *NET, "--json", str(target)]) == 0
    data = json.loads(target.read_text())
    model = data["models"][0]
    assert data["holds"] and model["hash"] and len(model["derivations"]) == 7
    step = next(s for d in model["derivations"] for s in d["steps"] if s["label"] == "BP4")
    assert step["rhs_latex"] == "a^{l - 1}_{k} \\delta^{l}_{j}" and step["rhs_srepr"].startswith("Mul(")


def test_latex_output(capsys):
    assert main(["derive", *NET, "--latex"]) == 0
    assert "\\begin{dmath*}" in capsys.readouterr().out


def test_exit_1_when_a_step_does_not_hold(monkeypatch, capsys):
    real = gr.derive_general_rule
    monkeypatch.setattr(gr, "derive_general_rule", lambda claims=None: real({"BP1": dC(a[L, j])}))
    assert main(["derive", *NET, "--no-cache"]) == 1
    out = capsys.readouterr().out
    assert "✗ does not hold" in out and "counterexample:" in out and "NOT holding: BP1" in out


def test_list_and_functions_only(capsys):
    assert main(["derive", "--list"]) == 0
    assert "regression" in capsys.readouterr().out
    assert main(["derive", "--net", "3-1", "--act", "sigmoid", "--cost", "bce", "--functions-only"]) == 0
    out = capsys.readouterr().out
    assert "δ^L_j = a^L_j - y_j" in out and "BP1-BP4" not in out
