"""The user's code runs in a child: an exit, crash, signal or endless loop is bad input (exit 2), never "all right".

Also the autograder outputs: ``--format gradescope`` (results.json, exit 0 once written) and ``bpv grade``.
"""

import json
import textwrap

import pytest

from derive.cli.app import main

HEADER = "import os, signal, sys, time\nimport numpy as np\n"
GOOD = """
def make_problem():
    params = {"w": np.array([1.0, -2.0, 0.5])}
    return (lambda p: float(np.sum(p["w"] ** 3))), (lambda p: {"w": %s * p["w"] ** 2}), params
"""


def _file(tmp_path, body: str, name: str = "problem.py") -> str:
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body))
    return str(path)


ENDINGS = {
    "os._exit at import": ("os._exit(0)\n" + GOOD % 3, "during the import of problem.py"),
    "sys.exit at import": ("sys.exit(0)\n" + GOOD % 3, "called sys.exit(0)"),
    "os._exit in make_problem": ("def make_problem():\n    os._exit(0)\n", "during make_problem()"),
    "sys.exit in make_problem": ("def make_problem():\n    sys.exit(0)\n", "make_problem() called sys.exit(0)"),
    "os._exit in loss": ("""
        def make_problem():
            def loss(p):
                os._exit(0)
            return loss, (lambda p: {"w": p["w"]}), {"w": np.ones(2)}
        """, "ended the process during loss()"),
    "sys.exit in grad": ("""
        def make_problem():
            def grad(p):
                sys.exit(0)
            return (lambda p: float(np.sum(p["w"]))), grad, {"w": np.ones(2)}
        """, "grad() called sys.exit(0)"),
    "a signal in loss": ("""
        def make_problem():
            def loss(p):
                os.kill(os.getpid(), signal.SIGKILL)
            return loss, (lambda p: {"w": p["w"]}), {"w": np.ones(2)}
        """, "killed by SIGKILL during loss()"),
    "a mutating loss": ("""
        def make_problem():
            def loss(p):
                p["w"] *= 0.5
                return float(np.sum(p["w"]))
            return loss, (lambda p: {"w": np.ones(2)}), {"w": np.ones(2)}
        """, "loss() changed params['w'] in place"),
}


@pytest.mark.parametrize("case", list(ENDINGS))
def test_user_code_ending_the_process_is_bad_input_naming_the_call(case, tmp_path, capsys):
    body, words = ENDINGS[case]
    assert main(["gradcheck", _file(tmp_path, body)]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err, err


def test_an_endless_loss_hits_the_time_limit(tmp_path, capsys):
    body = """
        def make_problem():
            def loss(p):
                while True:
                    time.sleep(0.01)
            return loss, (lambda p: {"w": p["w"]}), {"w": np.ones(2)}
        """
    assert main(["gradcheck", _file(tmp_path, body), "--timeout", "1"]) == 2
    assert "did not finish within 1 s (it was in loss())" in capsys.readouterr().err


def test_user_prints_stay_off_stdout_so_json_stays_clean(tmp_path, capsys):
    body = GOOD % 3 + "\nprint('hello from the user')\n"
    assert main(["gradcheck", _file(tmp_path, body), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_a_layer_problem_through_the_cli(tmp_path, capsys):
    body = """
        from numeric import LayerProblem

        def make_problem():
            x = np.random.default_rng(0).standard_normal((3, 4))
            return LayerProblem(lambda x: (np.tanh(x), x), lambda d, x: d * (1 - np.tanh(x)), (x,))
        """
    assert main(["gradcheck", _file(tmp_path, body)]) == 1
    assert "x" in capsys.readouterr().out


@pytest.mark.parametrize("factor, score", [(3, 1), (2, 0)])
def test_gradescope_results_json_has_one_test_per_block(factor, score, tmp_path, capsys):
    out = tmp_path / "results.json"
    assert main(["gradcheck", _file(tmp_path, GOOD % factor), "--format", "gradescope", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["score"] == score and len(doc["tests"]) == 1
    test = doc["tests"][0]
    assert set(test) >= {"name", "score", "max_score", "output", "visibility"} and test["max_score"] == 1
    assert ("wrong" in test["output"]) is (score == 0)


def test_gradescope_turns_a_crash_of_the_students_code_into_a_zero_score_test(tmp_path):
    out = tmp_path / "results.json"
    body, _ = ENDINGS["os._exit in loss"]
    assert main(["gradcheck", _file(tmp_path, body), "--format", "gradescope", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["score"] == 0 and "ended the process during loss()" in doc["tests"][0]["output"]
    assert main(["gradcheck", _file(tmp_path, body), "--format", "gradescope"]) == 2  # needs --json FILE


STUDENT = """
def relu_backward(dout, x):
    return dout * %s
"""
PROBLEM = """
from numeric import LayerProblem

def make_problem(student):
    x = np.array([[0.5, -1.0, 2.0], [-0.3, 0.7, -2.2]])
    return LayerProblem(lambda x: (np.maximum(x, 0), x), student.relu_backward, (x,))
"""


def test_grade_checks_every_submission_in_its_own_process(tmp_path, capsys):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "alice.py").write_text(HEADER + STUDENT % "(x > 0)")
    (subs / "bob.py").write_text(HEADER + STUDENT % "(x < 0)")
    (subs / "carol.py").write_text(HEADER + "os._exit(3)\n")
    (subs / "dave").mkdir()
    (subs / "dave" / "hw.py").write_text(HEADER + STUDENT % "1.0")
    (subs / "erin").mkdir()
    problem = _file(tmp_path, PROBLEM, "hw_problem.py")
    grades = tmp_path / "grades.json"
    args = ["grade", str(subs), "--problem", problem, "--json", str(grades), "--csv", str(tmp_path / "g.csv")]
    assert main(args) == 0
    rows = {r["submission"]: r for r in json.loads(grades.read_text())["submissions"]}
    assert rows["alice"]["status"] == "ok" and rows["alice"]["score"] == 1
    assert rows["bob"]["status"] == "wrong" and rows["bob"]["score"] == 0
    assert rows["dave"]["status"] == "wrong"
    assert rows["carol"]["status"] == "error" and "exit status 3" in rows["carol"]["detail"]
    assert rows["erin"]["status"] == "error" and "0 .py files" in rows["erin"]["detail"]
    assert (tmp_path / "g.csv").read_text().startswith("submission,score")
    assert "alice" in capsys.readouterr().out
    assert main(["grade", str(tmp_path / "nowhere"), "--problem", problem]) == 2
