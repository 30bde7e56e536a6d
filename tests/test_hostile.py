"""Hostile and careless input, across every command: one clean line on stderr, exit 2, no traceback, nothing left.

Each case is a row of a table, grouped by kind. The model cases are crossed with every command that takes a model,
so a new command gets them by being added to :data:`MODEL_COMMANDS`. Cases run in-process through ``main(argv)``
in an empty working folder; afterwards the folder must hold nothing the command left behind.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from derive.cli.app import main

HUGE = "9" * 5000

#: a command that takes a model, with the extra arguments it needs to run at all
MODEL_COMMANDS = {
    "derive": [],
    "verify": ["--no-torch"],
    "kernels": ["-o", "k"],
    "report": ["--no-pdf", "-o", "r"],
    "train": ["--data", "spiral", "--epochs", "1"],
}

#: (kind, model arguments, what the one line must say)
MODEL_CASES = [
    ("net", ["--net", "abc"], "is not a list of positive layer sizes"),
    ("net", ["--net", "3"], "has no layer"),
    ("net", ["--net", "3-0-1"], "at least 1"),
    ("net", ["--net", "-3-2"], "--net"),
    ("net", ["--net", "3--1"], "--net"),
    ("net", ["--net", f"1-{HUGE}"], "5000 digits"),
    ("net", ["--net", "1x8x8-c4k9-10", "--act", "relu,softmax", "--cost", "cce"], "does not fit"),
    ("net", ["--net", "1x8x8-c4q3-10", "--act", "relu,softmax", "--cost", "cce"], "is not one of"),
    ("net", ["--net", f"1x8x8-c{HUGE}k3-10"], "10 or more digits"),
    ("act", ["--net", "3-1", "--act", "nope"], "unknown activation"),
    ("act", ["--net", "3-1", "--act", "leaky_relu:abc"], "is not a number"),
    ("act", ["--net", "3-1", "--act", "leaky_relu:1e308"], "|value| <= 1000"),
    ("act", ["--net", "3-1", "--act", "elu:nan"], "|value| <= 1000"),
    ("act", ["--net", "3-1", "--act", "sigmoid:0.1"], "takes no parameter"),
    ("act", ["--net", "3-2-2", "--act", "softmax,softmax", "--cost", "cce"], "only allowed as the output"),
    ("act", ["--net", "3-2-1", "--act", "relu,relu,relu"], "names 3 activations"),
    ("act", ["--net", "3-1", "--act", ","], "empty name"),
    ("cost", ["--net", "3-1", "--cost", "hinge"], "unknown cost"),
    ("cost", ["--net", "3-2", "--act", "sigmoid", "--cost", "cce"], "wants a softmax output"),
    ("reduction", ["--net", "3-1", "--reduction", "median"], "unknown reduction"),
    ("layout", ["--net", "3-1", "--layout", "diagonal"], "unknown layout"),
    ("blocks", ["--net", "3-4-1", "--keep-prob", "0"], "--keep-prob"),
    ("blocks", ["--net", "3-4-1", "--keep-prob", "1.5"], "--keep-prob"),
    ("blocks", ["--net", "3-4-1", "--keep-prob", "nan"], "--keep-prob"),
    ("blocks", ["--net", "3-4-1", "--l2", "-1"], "--l2"),
    ("blocks", ["--net", "3-4-1", "--l2", "inf"], "--l2"),
    ("blocks", ["--net", "3-4-1", "--l2", "0.1", "--l2-n", "0"], "--l2-n"),
    ("blocks", ["--net", "1x8x8-c4k3-10", "--act", "relu,softmax", "--cost", "cce", "--norm", "batch"],
     "not available for a convolutional net"),
    ("rnn", ["--rnn", "5-8-4"], "must be the input's"),
    ("rnn", ["--rnn", "5-8"], "V-H-V"),
    ("rnn", ["--rnn", "5-8-5", "--steps", "0"], "--steps"),
    ("rnn", ["--rnn", f"5-{HUGE}-5"], "10 or more digits"),
    ("rnn", ["--steps", "3", "--net", "3-1"], "--steps is the sequence length"),
    ("rnn", ["--rnn", "5-8-5", "--net", "3-1"], "--rnn describes the whole recurrent net"),
    ("model", ["no_such_model"], "unknown model"),
    ("model", ["--act", "relu"], "describe a model given with --net"),
]

#: commands whose flags are crossed with bad seeds
SEEDED = {"verify": ["binary_classifier", "--no-torch"], "kernels": ["binary_classifier", "-o", "k"],
          "report": ["binary_classifier", "--no-pdf", "-o", "r"],
          "train": ["--net", "2-3", "--act", "softmax", "--cost", "cce", "--data", "spiral", "--epochs", "1"]}
SEED_CASES = [("-1", "out of range"), ("abc", "is not an integer"), (str(2**70), "out of range"),
              (HUGE, "is not an integer")]

#: (kind, argv, what the one line must say), written in a folder holding a file ``afile`` and a folder ``adir``
OUTPUT_CASES = [
    ("json", ["derive", "binary_classifier", "--json", "adir"], "is a folder"),
    ("json", ["derive", "binary_classifier", "--json", "afile/x.json"], "is a file, not a folder"),
    ("json", ["derive", "binary_classifier", "--json", "/dev/zero"], "not a regular file"),
    ("json", ["verify", "binary_classifier", "--json", "notes.md"], "not written by bpv"),
    ("json", ["derive", "binary_classifier", "--json", "notes.md"], "not written by bpv"),
    ("output", ["kernels", "binary_classifier", "-o", "afile"], "not a folder"),
    ("output", ["kernels", "binary_classifier", "-o", "afile/k"], "is a file, not a folder"),
    ("output", ["report", "binary_classifier", "-o", "afile", "--no-pdf"], "not a folder"),
    ("pdf", ["graph", "x*y", "--at", "x=1,y=2", "--pdf", "notes.pdf"], "not written by bpv"),
    ("pdf", ["graph", "x*y", "--at", "x=1,y=2", "--pdf", "mine.pdf"], "mine.tex: the file exists"),
    ("output", ["report", "binary_classifier", "-o", "theirs", "--no-pdf"], "binary_classifier.tex: the file exists"),
    ("output", ["kernels", "binary_classifier", "-o", "theirs"], "binary_classifier.py: the file exists"),
    ("save", ["train", "--net", "2-3", "--act", "softmax", "--cost", "cce", "--data", "spiral", "--epochs", "1",
              "--save", "notes.md"], "not written by bpv"),
    ("pdf", ["graph", "x*y", "--at", "x=1,y=2", "--pdf", "adir"], "is a folder"),
    ("save", ["train", "--net", "2-3", "--act", "softmax", "--cost", "cce", "--data", "spiral", "--epochs", "1",
              "--save", "adir"], "is a folder"),
]

#: (kind, argv, what the one line must say)
COMMAND_CASES = [
    ("train", ["train", "--net", "2-3", "--act", "softmax", "--cost", "cce", "--data", "nosuch"], "nosuch"),
    ("train", ["train", "--net", "2-3", "--act", "softmax", "--cost", "cce", "--data", "spiral", "--epochs", "0"],
     "--epochs"),
    ("train", ["train", "--net", "2-3", "--act", "softmax", "--cost", "cce", "--data", "spiral",
               "--batch-size", "0"], "--batch-size"),
    ("train", ["train", "--net", "2-3", "--act", "softmax", "--cost", "cce", "--data", "spiral", "--eta", "nan"],
     "--eta"),
    ("train", ["train", "--net", "2-3", "--act", "softmax", "--cost", "cce", "--data", "spiral", "--eta", "-1"],
     "--eta"),
    ("train", ["train", "--net", "5-3", "--act", "softmax", "--cost", "cce", "--data", "spiral"], "spiral"),
    ("train", ["train", "lenet_tiny", "--data", "digits"], "works on dense nets"),
    ("verify", ["verify", "binary_classifier", "--jobs", "0"], "--jobs"),
    ("verify", ["verify", "--net", "20000-20000-1"], "memory budget"),
    ("check", ["check", "missing.md"], "no such file"),
    ("check", ["check", "adir"], "is a folder"),
    ("check", ["check", "/dev/zero"], "not a regular file"),
    ("check", ["check", "fifo"], "not a regular file"),
    ("check", ["check", "binary.tex"], "binary file"),
    ("check", ["check", "notes.md", "--timeout", "nan"], "is not a time limit"),
    ("check", ["check", "notes.md", "--timeout", "inf"], "is not a time limit"),
    ("check", ["check", "notes.md", "--timeout", "0"], "is not a time limit"),
    ("check", ["check", "notes.md", "--timeout", "1e9"], "is not a time limit"),
    ("check", ["check", "openers.md", "--net", "1-1", "--act", "nope"], "unknown activation"),
    ("check", ["check", "directive.md"], "colour"),
    ("check", ["check", "bad_net.md"], "the bpv directive on line 2"),
    ("check", ["check", "--catalog", "notes.md"], "give no FILE"),
    ("gradcheck", ["gradcheck", "missing.py"], "missing.py"),
    ("gradcheck", ["gradcheck", "notes.md"], "notes.md"),
    ("gradcheck", ["gradcheck", "adir"], "adir"),
    ("gradcheck", ["gradcheck", "problems.py:nosuch"], "nosuch"),
    ("gradcheck", ["gradcheck", "problems.py:exits"], "sys.exit(0)"),
    ("gradcheck", ["gradcheck", "problems.py:hard_exit"], "ended the process"),
    ("gradcheck", ["gradcheck", "problems.py:mutates"], "changed params['w'] in place"),
    ("gradcheck", ["gradcheck", "problems.py:complex_loss"], "returned a complex number"),
    ("gradcheck", ["gradcheck", "problems.py:raises"], "ZeroDivisionError"),
    ("gradcheck", ["gradcheck", "problems.py:not_a_problem"], "it must return (loss, grad, params)"),
    ("gradcheck", ["gradcheck", "problems.py:nan_loss"], "nan"),
    ("gradcheck", ["gradcheck", "problems.py:huge", "--mode", "full"], "over the time budget"),
    ("graph", ["graph", "x*", "--at", "x=1"], "ends too early"),
    ("graph", ["graph", "x*y", "--at", "x=1"], "y"),
    ("graph", ["graph", "x*y", "--at", "x=abc,y=1"], "abc"),
    ("graph", ["graph", "__import__('os')", "--at", "x=1"], "not Python code"),
    ("graph", ["graph", "+".join(["x"] * 400), "--at", "x=1"], "more than 120 operations"),
    ("graph", ["graph", "*".join(["x"] * 400), "--at", "x=1"], "more than 120 operations"),
    ("graph", ["graph", "(" * 400 + "x" + ")" * 400, "--at", "x=1"], "nested too deeply"),
    ("graph", ["graph", "exp(exp(exp(exp(x))))", "--at", "x=10"], "overflows"),
    ("graph", ["graph", "x" * 3000, "--at", "x=1"], "at most 2000"),
    ("grade", ["grade", "nosuch", "--problem", "problems.py"], "is not a folder of submissions"),
    ("grade", ["grade", "afile", "--problem", "problems.py"], "is not a folder of submissions"),
    ("grade", ["grade", "adir", "--problem", "nosuch.py"], "nosuch.py"),
    ("grade", ["grade", "adir", "--problem", "problems.py"], "has no submissions"),
    ("grade", ["grade", "adir", "--problem", "problems.py", "--timeout", "nan"], "is not a time limit"),
    ("grade", ["grade", "adir", "--problem", "problems.py", "--timeout", "inf"], "is not a time limit"),
    ("grade", ["grade", "adir", "--problem", "problems.py", "--timeout", "-5"], "is not a time limit"),
    ("grade", ["grade", "adir", "--problem", "problems.py", "--jobs", "0"], "--jobs"),
    ("grade", ["grade", "adir", "--problem", "problems.py", "--csv", "adir"], "is a folder"),
    ("report", ["report", "binary_classifier", "--history", "missing.json", "--no-pdf", "-o", "r"], "missing.json"),
    ("report", ["report", "binary_classifier", "--history", "notes.md", "--no-pdf", "-o", "r"], "notes.md"),
    ("derive", ["derive", "--list", "--net", "3-1"], "--list lists the catalog"),
]


def _cases() -> list:
    out = []
    for command, extra in MODEL_COMMANDS.items():
        for kind, args, says in MODEL_CASES:
            out.append(pytest.param([command, *args, *extra], says, id=f"{command}-{kind}-{' '.join(args)[:40]}"))
    for command, args in SEEDED.items():
        for seed, says in SEED_CASES:
            out.append(pytest.param([command, *args, "--seed", seed], says, id=f"{command}-seed-{seed[:12]}"))
    for kind, argv, says in [*OUTPUT_CASES, *COMMAND_CASES]:
        out.append(pytest.param(argv, says, id=f"{argv[0]}-{kind}-{' '.join(argv[1:])[:40]}"))
    return out


CASES = _cases()

#: gradcheck problem files that end the process, mutate their parameters, or return what a loss must not
PROBLEMS = """
import os, sys
import numpy as np

def _problem(loss):
    return loss, lambda q: {"w": 2 * q["w"]}, {"w": np.ones(3)}

def exits():
    return _problem(lambda q: sys.exit(0))

def hard_exit():
    os._exit(0)

def _mutating(q):
    q["w"] += 1
    return float(np.sum(q["w"] ** 2))

def mutates():
    return _problem(_mutating)

def complex_loss():
    return _problem(lambda q: complex(np.sum(q["w"] ** 2)) + 1j)

def raises():
    return _problem(lambda q: 1 / 0)

def not_a_problem():
    return 42

def nan_loss():
    return _problem(lambda q: float("nan"))

def huge():
    import time

    def slow(q):
        time.sleep(0.002)
        return float(np.sum(q["w"] ** 2))
    return slow, lambda q: {"w": 2 * q["w"]}, {"w": np.ones(200_000)}
"""


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("a file\n")
    (tmp_path / "adir").mkdir()
    (tmp_path / "notes.md").write_text("# my notes\n")
    (tmp_path / "notes.pdf").write_text("not a PDF of bpv's\n")
    (tmp_path / "problems.py").write_text(PROBLEMS)
    (tmp_path / "binary.tex").write_bytes(b"\x00\x01\x02")
    (tmp_path / "openers.md").write_text("<!-- bpv: " * 20000)  # a superlinear directive scan took 35 s here
    (tmp_path / "directive.md").write_text("<!-- bpv: act=sigmoid colour=blue -->\n$$a = \\sigma(z)$$\n")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "bad_net.md").write_text("text\n<!-- bpv: net=3-x-1 -->\n$$a = \\sigma(z)$$\n")
    (tmp_path / "mine.tex").write_text("% my own notes\n")
    (tmp_path / "theirs").mkdir()
    for name in ("binary_classifier.tex", "binary_classifier.py"):
        (tmp_path / "theirs" / name).write_text("someone else's file\n")
    return tmp_path


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_there_are_enough_cases():
    assert len(CASES) >= 120


@pytest.mark.parametrize("argv, says", CASES)
def test_bad_input_is_one_clean_line(folder, capsys, argv, says):
    before = _listing(folder)
    t0 = time.perf_counter()
    code = main(list(argv))
    elapsed = time.perf_counter() - t0
    out, err = capsys.readouterr()
    # the one line, and at most the caret display under it (graph shows where in EXPR: "  x*" / "    ^")
    lines = [line for line in err.splitlines()
             if line.strip() and not line.startswith(("warning:", "  "))]
    assert code == 2, f"exit {code}\nstdout: {out[-500:]}\nstderr: {err[-800:]}"
    assert "Traceback" not in err and "Traceback" not in out
    assert len(lines) == 1, err
    assert says in lines[0], lines[0]
    assert _listing(folder) == before, "the command left files behind"
    assert elapsed < 30
