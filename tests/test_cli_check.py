"""``bpv check``: one row per equation, JSON rows, exit codes 0/1/2, the catalog, the manual."""

import json
from pathlib import Path

import pytest

from derive.claims.runner import close_shared
from derive.cli.app import main

DATA = Path(__file__).parent / "data" / "claims"


@pytest.fixture(scope="module", autouse=True)
def _fresh_worker():
    # the next check forks a new worker, which inherits the models this test process has already evaluated
    close_shared()
    yield


def test_homework_rows_and_exit_status_one(capsys):
    assert main(["check", str(DATA / "homework.tex")]) == 1
    out = capsys.readouterr().out.splitlines()
    row = next(line for line in out if line.split()[:2] == ["8", "1b"])
    assert "refuted" in row and "sign" in row
    assert out[-1].endswith("3 proven, 8 refuted, 1 ambiguous, 3 unparsed")


def test_nothing_refuted_exits_zero_and_verbose_echoes_what_was_understood(capsys):
    assert main(["check", str(DATA / "blog_post.md"), "-v"]) == 0
    out = capsys.readouterr().out
    assert r"understood: \frac{\partial C}{\partial w^{l}_{jk}} = a^{l - 1}_{k} \delta^{l}_{j}" in out
    assert "method: numeric: both sides equal" in out


def test_json_rows_carry_line_tag_latex_understood_verdict_reason(tmp_path, capsys):
    target = tmp_path / "out.json"
    assert main(["check", str(DATA / "blog_post.md"), "--json", str(target)]) == 0
    data = json.loads(target.read_text())
    assert data["bpv"] == "check" and data["counts"]["proven"] == 6
    bp4 = next(r for r in data["rows"] if r["tag"] == "BP4")
    assert {"line", "tag", "latex", "understood", "verdict", "reason"} <= set(bp4)
    assert bp4["line"] == 37 and bp4["verdict"] == "proven"
    assert bp4["understood"] == r"\frac{\partial C}{\partial w^{l}_{jk}} = a^{l - 1}_{k} \delta^{l}_{j}"
    capsys.readouterr()
    assert main(["check", str(DATA / "blog_post.md"), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["unparsed"] == 2


def test_the_model_from_flags_overrides_the_directive(tmp_path, capsys):
    # the directive says sigmoid + bce, where delta^L = a - y holds; with the quadratic cost it does not
    doc = tmp_path / "d.tex"
    doc.write_text("% bpv: net=2-3-1 act=sigmoid cost=bce\n\\[ \\delta^L = a^L - y \\]\n")
    assert main(["check", str(doc)]) == 0
    assert main(["check", str(doc), "--net", "2-3-1", "--cost", "quadratic"]) == 1
    out = capsys.readouterr()
    assert "refuted" in out.out and "overrides" in out.err


@pytest.mark.parametrize("argv", [
    ["check"],
    ["check", "no/such/file.tex"],
    ["check", "--catalog", "x.tex"],
    ["check", "x.tex", "--act", "tanh"],
    ["check", "x.tex", "--timeout", "0"],
])
def test_bad_input_exits_two_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0]


def test_a_bad_directive_is_bad_input(tmp_path, capsys):
    doc = tmp_path / "d.md"
    doc.write_text("<!-- bpv: act=sigmoid colour=blue -->\n$$a^L_j = \\sigma(z^L_j)$$\n")
    assert main(["check", str(doc)]) == 2
    assert "colour" in capsys.readouterr().err


def test_catalog_every_textbook_claim_is_proven(tmp_path, capsys):
    target = tmp_path / "catalog.json"
    assert main(["check", "--catalog", "--json", str(target)]) == 0
    rows = json.loads(target.read_text())["rows"]
    tags = [r["tag"] for r in rows]
    assert {"BP1", "BP1a", "BP2", "BP2v", "BP3", "BP3v", "BP4", "BP4v", "sigmoid'", "bce'", "delta^L", "dW", "db",
            "dA"} <= set(tags)
    assert [r["tag"] for r in rows if r["verdict"] != "proven"] == []


def test_the_manual_has_examples(capsys):
    assert main(["check", "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "bpv check --catalog" in out and "% bpv:" in out
