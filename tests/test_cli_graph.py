"""``bpv graph`` end to end: the table and gradients printed, JSON, PDF, and exit codes 0 / 1 / 2."""

import json
import shutil
import subprocess
import time

import pytest

import derive.graph.gates as gates
from derive.cli.app import build_parser, main
from derive.core.texbuild import tex_available

NEURON = ["1/(1+exp(-(w0*x0+w1*x1+w2)))", "--at", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3"]


def run(capsys, *argv):
    code = main(["graph", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_first_circuit_prints_gates_and_checked_gradients(capsys):
    code, out, err = run(capsys, "(x+y)*z", "--at", "x=-2,y=5,z=-4")
    assert code == 0 and err == ""
    assert "g1    add" in out and "g2    multiply" in out
    assert "dg2/dg1 = z = -4" in out and "dg2/dz = g1 = 3" in out
    for line in ("df/dx     -4        -4          -4", "df/dy     -4        -4          -4",
                 "df/dz     3         3           3"):
        assert line in out
    assert out.rstrip().endswith("all checks agree")


def test_branching_shows_the_sum(capsys):
    code, out, _ = run(capsys, "(x + sigma(y)) / (sigma(x) + (x+y)^2)", "--at", "x=3,y=-4", "--fuse", "sigmoid")
    assert code == 0
    assert "df/dx     1.58319 (g4) + -0.0357615 (g3) + 0.512144 (g2) = 2.05957  2.05957     2.05957" in out
    assert "sigmoid gate: sigma' = sigma*(1 - sigma)" in out


def test_json_to_stdout_is_clean(capsys):
    code, out, _ = run(capsys, *NEURON, "--fuse", "sigmoid", "--json", "-")
    data = json.loads(out)
    assert code == 0 and data["bpv"] == "graph" and data["holds"] is True
    grads = {g["variable"]: g["backprop"] for g in data["gradients"]}
    assert grads["x0"] == pytest.approx(0.3932, abs=1e-4) and grads["w2"] == pytest.approx(0.1966, abs=1e-4)
    assert [g["kind"] for g in data["gates"]][-1] == "sigmoid"


def test_json_to_file(capsys, tmp_path):
    target = tmp_path / "g.json"
    code, out, _ = run(capsys, "x*y", "--at", "x=2,y=3", "--json", str(target))
    assert code == 0 and "df/dx" in out
    assert json.loads(target.read_text())["gradients"][0]["backprop"] == 3


def test_an_expression_starting_with_minus_after_double_dash(capsys):
    code, out, _ = run(capsys, "--at", "x=2", "--", "-x*x")
    assert code == 0 and "df/dx     -2 (g2) + -2 (g1) = -4  -4" in out  # (-x)*x: x is used twice


def test_a_disagreeing_check_exits_1(capsys, monkeypatch):
    monkeypatch.setitem(gates.RULES, "1/x", gates.LocalRule((1 / gates.u**2,)))  # sign bug
    code, out, _ = run(capsys, *NEURON)
    assert code == 1 and "DISAGREES" in out and "NOT all checks agree" in out


BAD = [
    (["foo(x)", "--at", "x=1"], "unknown function 'foo'; known functions: exp, log, ln, sqrt, tanh, sigmoid"),
    (["(x+y)*z", "--at", "x=1,y=2"], "variable z has no value: add z=... to --at"),
    (["__import__('os')", "--at", "x=1"], "not Python code"),
    (["__import__('os').system('touch /tmp/bpv_pwned')", "--at", "x=1"], "not Python code"),
    (["1/(x-2)", "--at", "x=2"], "division by zero at the point x=2"),
    (["x*y", "--at", "x=1;y=2"], "--at: the value of x, '1;y=2', is not a decimal number"),
    (["x*y", "--at", "x,y"], "--at: 'x' is not name=number"),
    (["x", "--at", "x=1", "--fuse", "relu"], "cannot fuse 'relu'"),
]


@pytest.mark.parametrize(("argv", "fragment"), BAD)
def test_bad_input_exits_2_with_one_clear_line(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    lines = err.rstrip("\n").split("\n")
    assert lines[0].startswith("bpv graph: error: ") and fragment in lines[0]
    assert len(lines) == 1 or (len(lines) == 3 and lines[2].strip() == "^")  # syntax errors add a caret
    assert "Traceback" not in err


def test_syntax_error_shows_a_caret_under_the_column(capsys):
    code, _, err = run(capsys, "(x+y))*z", "--at", "x=1,y=2,z=3")
    assert code == 2
    first, shown, caret = err.rstrip("\n").split("\n")
    assert "unmatched ')'" in first and "(column 6)" in first
    assert shown[caret.index("^")] == ")" and shown.strip() == "(x+y))*z"


def test_missing_at_is_a_usage_error():
    assert main(["graph", "x"]) == 2


def test_graph_is_listed_in_the_manual():
    assert "graph" in build_parser().format_help()


@pytest.mark.tex
@pytest.mark.skipif(not tex_available() or not shutil.which("pdftotext"), reason="needs TeX and pdftotext")
def test_pdf_has_the_circuit_table_and_checks(capsys, tmp_path):
    pdf = tmp_path / "neuron.pdf"
    t0 = time.perf_counter()
    code, out, _ = run(capsys, "(x + sigma(y)) / (sigma(x) + (x+y)^2)", "--at", "x=3,y=-4", "--pdf", str(pdf))
    elapsed = time.perf_counter() - t0
    assert code == 0 and f"wrote {pdf}" in out and pdf.with_suffix(".tex").exists()
    assert elapsed < 15
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    flat = " ".join(text.split())
    assert flat.startswith("bpv graph") and "As written: (x + sigma(y)) / (sigma(x) + (x+y)^2)" in flat
    assert "14 gates" in flat and "upstream" in flat and "downstream" in flat
    assert "3.02" in flat and "0.51" in flat  # a forward value and its gradient on the circuit
    assert "1.583 + (−0.03576) + 0.5121 = 2.06" in flat  # += for x
    assert "all agree" in flat
