"""``bpv grade SUBMISSIONS/ --problem FILE.py:make_problem``: a gradient check of every student's submission.

The instructor's problem file defines ``make_problem(submission)``: given a student's module, it returns what
``bpv gradcheck`` accepts (``(loss, grad, params)``, a ``numeric.LayerProblem`` or a ``numeric.LossProblem``)
built on the student's functions. Each submission runs in its own child process with a time limit, ``--jobs`` at
a time (:mod:`derive.cli.isolation`); one table sums them up.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from derive.cli.args import add_json_argument, add_seed_argument, jobs_value, seconds_value
from numeric.errors import BadInput

ORDER = 45
HELP = "grade a folder of student submissions with the gradient checker (one child process each)"
DESCRIPTION = """\
Grade hand-written backward passes at course scale. SUBMISSIONS is a folder: each *.py file in it is one
submission, and so is each subfolder (its --entry file, or its only .py file). --problem FILE.py:FUNCTION names the
instructor's function (default make_problem) that takes the student's imported module and returns what
`bpv gradcheck` accepts: (loss, grad, params), numeric.LayerProblem(forward, backward, inputs) or
numeric.LossProblem(fn, inputs), built on the student's functions. Each parameter block is one point.

Every submission runs in its own child process with a time limit (--timeout), --jobs at a time: a submission that
raises, exits, crashes, mutates its inputs or loops scores 0 with the reason; it never stops the others.

WARNING: this imports and runs every submission. Run it where untrusted code may run (a container).

Exit status: 0 the table is written (whatever the scores), 2 bad input (no folder, no problem file).

examples:
  bpv grade submissions/ --problem hw2_problem.py:make_problem
  bpv grade submissions/ --problem hw2_problem.py --jobs 2 --timeout 60 --json grades.json --csv grades.csv
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("submissions", metavar="SUBMISSIONS/", help="folder of submissions (*.py files or subfolders)")
    p.add_argument("--problem", required=True, metavar="FILE.py[:FUNCTION]",
                   help="the instructor's make_problem(submission_module); default function make_problem")
    p.add_argument("--entry", metavar="NAME.py", help="the file to import in each submission subfolder")
    p.add_argument("--mode", choices=("auto", "full", "fast"), default="auto", help="as in bpv gradcheck")
    p.add_argument("--jobs", type=jobs_value, default=2, metavar="N", help="submissions checked at once (default 2)")
    p.add_argument("--timeout", type=seconds_value, default=120.0, metavar="S",
                   help="seconds per submission (default 120; at most a day)")
    p.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    add_json_argument(p)
    add_seed_argument(p)


def submissions(folder: Path, entry: str | None) -> list[tuple[str, Path | None, str]]:
    """``(name, file, problem)`` per submission, sorted; ``file`` None with the reason when none can be imported."""
    if not folder.is_dir():
        raise BadInput(f"{str(folder)!r} is not a folder of submissions")
    found = []
    for item in sorted(folder.iterdir()):
        if item.name.startswith((".", "_")):
            continue
        if item.is_file() and item.suffix == ".py":
            found.append((item.stem, item, ""))
        elif item.is_dir():
            candidates = [item / entry] if entry else sorted(item.glob("*.py"))
            files = [c for c in candidates if c.is_file()]
            if len(files) == 1:
                found.append((item.name, files[0], ""))
            else:
                why = f"no {entry}" if entry else f"{len(files)} .py files (choose one with --entry)"
                found.append((item.name, None, f"{item.name}/ has {why}"))
    if not found:
        raise BadInput(f"{str(folder)!r} has no submissions (*.py files or subfolders)")
    return found


def _grade_one(problem_target: str, submission: Path, options: dict[str, Any]) -> Any:
    """In the child: import the student's file, then check the problem the instructor builds on it."""
    from derive.cli.user_code import check_target, import_file

    return check_target(problem_target, options, import_file(submission, "bpv_grade_submission"))


def _row(name: str, outcome: Any) -> dict[str, Any]:
    if outcome.error:
        return {"submission": name, "score": 0, "max_score": None, "status": "error", "detail": outcome.error,
                "seconds": round(outcome.seconds, 2)}
    result = outcome.value
    wrong = [r for r in result.rows if str(r.verdict) == "wrong"]
    detail = "; ".join(f"{r.name}: {r.diagnosis.split(';')[0]}" for r in wrong) or "all gradients right"
    return {"submission": name, "score": len(result.rows) - len(wrong), "max_score": len(result.rows),
            "status": "ok" if not wrong else "wrong", "detail": detail, "seconds": round(outcome.seconds, 2)}


def _table(rows: list[dict[str, Any]]) -> str:
    cells = [[r["submission"], f"{r['score']}/{r['max_score'] if r['max_score'] is not None else '-'}",
              r["status"], r["detail"]] for r in rows]
    head = ["submission", "score", "status", "detail"]
    widths = [max(len(head[i]), *(len(c[i]) for c in cells)) for i in range(3)]
    fmt = "  ".join(f"{{:{w}s}}" for w in widths) + "  {}"
    return "\n".join([fmt.format(*head), fmt.format(*("-" * w for w in widths), "------")] +
                     [fmt.format(*c) for c in cells])


def run(args: argparse.Namespace) -> int:
    from derive.cli.isolation import Outcome, run_many
    from derive.cli.user_code import split_target
    from numeric.progress import Progress

    split_target(args.problem)
    found = submissions(Path(args.submissions), args.entry)
    options = {"mode": args.mode, "seed": args.seed, "progress": False}
    todo = [(n, f) for n, f, _ in found if f is not None]
    works = [lambda f=f: _grade_one(args.problem, f, options) for _, f in todo]
    progress = Progress(len(works), enabled=args.json != "-")
    outcomes = run_many(works, args.timeout, args.jobs, [f"submission {n}" for n, _ in todo],
                        on_done=lambda i, o: progress.step(f"{todo[i][0]}: {'error' if o.error else 'checked'}"))
    by_name = {n: o for (n, _), o in zip(todo, outcomes, strict=True)}
    rows = [_row(n, by_name[n] if f is not None else Outcome(error=why)) for n, f, why in found]
    if args.json != "-":
        print(_table(rows))
        graded = sum(r["status"] != "error" for r in rows)
        print(f"bpv grade: {len(rows)} submissions, {graded} checked, {len(rows) - graded} with errors")
    if args.json:
        from derive.core.files import write_json

        write_json(args.json, {"bpv": "grade", "problem": args.problem, "submissions": rows})
    if args.csv:
        _write_csv(Path(args.csv), rows)
    sys.stdout.flush()
    return 0


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    import csv
    import io

    from derive.core.files import write_output

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_output(path, buffer.getvalue())


__all__ = ["DESCRIPTION", "HELP", "ORDER", "add_arguments", "run", "submissions"]
