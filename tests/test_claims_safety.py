"""Hostile documents: no eval/exec/sympify/shell on document text, no crash, no hang, no false refutation."""

import builtins
import os
import subprocess
import time

import pytest

import derive.claims.l2s as l2s_adapter
from derive.claims import check_text
from derive.claims.extract import MAX_BYTES
from derive.claims.runner import Runner
from derive.cli.app import main

MARK = "qzbpvmark"

HOSTILE = rf"""
\input{{/etc/passwd}}
$$ a^L_j = \input{{/etc/passwd}} $$
$$ \write18{{rm -rf / ; echo {MARK}}} = a^L_j $$
$$ \def\{MARK}{{a^L_j}} \{MARK} = a^L_j $$
$$ \csname {MARK}\endcsname = \delta^L_j $$
$$ \immediate\write18{{touch /tmp/{MARK}}} = 1 $$
$$ __import__('os').system('echo {MARK}') = a^L_j $$
$$ {MARK}(1) = eval({MARK}) $$
$$ x := {MARK} $$
$$ A \in \mathbb{{R}}^{{2 \times 2}} = {MARK} $$
$$ \variable{{{MARK}}} = 1 $$
"""


def test_document_text_never_reaches_eval_exec_sympify_or_a_shell(monkeypatch):
    seen = []

    def spy(name, real):
        def wrapped(*args, **kwargs):
            if any(MARK in str(a) for a in args):
                seen.append(name)
            return real(*args, **kwargs)
        return wrapped

    import sympy.parsing.sympy_parser as sympy_parser

    monkeypatch.setattr(builtins, "eval", spy("eval", builtins.eval))
    monkeypatch.setattr(builtins, "exec", spy("exec", builtins.exec))
    monkeypatch.setattr(sympy_parser, "parse_expr", spy("parse_expr", sympy_parser.parse_expr))
    latex2sympy2 = l2s_adapter.latex2sympy_module()
    monkeypatch.setattr(latex2sympy2, "parse_expr", spy("latex2sympy2.parse_expr", latex2sympy2.parse_expr))
    monkeypatch.setattr(subprocess.Popen, "__init__", spy("Popen", subprocess.Popen.__init__))
    monkeypatch.setattr(os, "system", spy("os.system", os.system))
    report = check_text(HOSTILE, "tex", timeout=None)
    assert seen == []
    # the one \def is expanded by the bounded macro expander (text substitution), so its row reads a^L_j = a^L_j
    assert any(MARK in e for e in report.expansions)
    assert report.rows and all(r.verdict in ("unparsed", "definition", "not checkable") for r in report.rows
                               if MARK not in r.latex and r.latex != "a^L_j = a^L_j")
    assert not report.refuted
    assert not os.path.exists(f"/tmp/{MARK}")


@pytest.mark.parametrize(("tex", "why"), [
    (r"\input{/etc/passwd} = 1", r"\input"),
    (r"\write18{ls} = a^L_j", r"\write"),
    (r"\csname x\endcsname = 1", r"\csname"),
])
def test_tex_primitives_are_unparsed_with_the_command_named(tex, why):
    row = check_text(f"$${tex}$$", "tex", timeout=None).rows[0]
    assert row.verdict == "unparsed" and why in row.reason


def test_ten_thousand_nested_braces_are_unparsed_quickly():
    t0 = time.perf_counter()
    rows = check_text("$$ a^L_j = " + "{" * 10000 + "1" + "}" * 10000 + " $$", "tex", timeout=None).rows
    assert [r.verdict for r in rows] == ["unparsed"]
    assert "longer than" in rows[0].reason
    short = check_text("$$ a^L_j = " + "(" * 300 + "a^L_j" + ")" * 300 + " $$", "tex", timeout=None).rows
    assert short[0].verdict == "unparsed" and "nested" in short[0].reason
    assert time.perf_counter() - t0 < 5


def test_an_equation_that_would_make_sympy_think_forever_is_bounded():
    rows = check_text(r"$$ a^L_j = 10^{10^{10^{10}}} $$ $$ a^L_j = 2^{64} a^L_j $$", "tex", timeout=None).rows
    assert rows[0].verdict == "unparsed" and "exponent" in rows[0].reason
    assert rows[1].verdict != "unparsed"


def _forever(**_job):
    while True:
        time.sleep(0.05)


def _quick(**job):
    return {"verdict": "proven", "reason": job["x"]}


def test_the_per_equation_time_limit_kills_a_hung_worker_and_goes_on():
    with Runner(_forever, timeout=0.5) as slow:
        t0 = time.perf_counter()
        got = slow.run({"x": "1"})
        assert got["verdict"] == "unparsed" and "gave up" in got["reason"]
        assert time.perf_counter() - t0 < 5
    with Runner(_quick, timeout=5) as quick:
        assert quick.run({"x": "a"}) == {"verdict": "proven", "reason": "a"}
        assert quick.run({"x": "b"})["reason"] == "b"


_ORPHAN = """
import os
from derive.claims.runner import Runner
def job(**_):
    return {"verdict": "proven", "reason": "x"}
r = Runner(job, timeout=5)
r.run({})
print(r.proc.pid, flush=True)
os._exit(0)
"""


def test_the_worker_ends_when_its_parent_dies_without_cleaning_up():
    import sys

    out = subprocess.run([sys.executable, "-c", _ORPHAN], capture_output=True, text=True, timeout=60, check=True)
    pid = int(out.stdout.split()[-1])
    deadline = time.time() + 10
    while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower()


def _hog(**_job):
    block = bytearray(64 << 30)  # far beyond the worker's address-space cap
    return {"verdict": "proven", "reason": str(len(block))}


def test_an_equation_that_eats_memory_is_stopped_by_the_worker_cap():
    with Runner(_hog, timeout=20) as runner:
        got = runner.run({})
    assert got["verdict"] == "unparsed" and "memory" in got["reason"]


def test_a_one_megabyte_file_is_a_clean_error_and_just_under_is_checked(tmp_path, capsys):
    big = tmp_path / "big.md"
    big.write_text("x" * (MAX_BYTES + 1))
    assert main(["check", str(big)]) == 2
    assert "bytes" in capsys.readouterr().err
    near = tmp_path / "near.md"
    prose = "反向传播 prose with $5 and \\[ unclosed and $$ unclosed too\n"
    near.write_text((prose * (MAX_BYTES // len(prose.encode())))[: MAX_BYTES // 4] + "\n$$ a^L_j = \\sigma(z^L_j) $$\n")
    t0 = time.perf_counter()
    assert main(["check", str(near)]) == 0
    assert time.perf_counter() - t0 < 30
