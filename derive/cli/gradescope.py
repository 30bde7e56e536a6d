"""Gradescope's ``results.json`` from a gradient check: one test per parameter block, one point each.

The shape Gradescope's autograder reads (``/autograder/results/results.json``): a total ``score``, an
``execution_time``, an ``output`` shown above the tests, and ``tests``, each with ``name``, ``score``,
``max_score``, ``output`` and ``visibility``. A student's code that raises, exits or runs out of time is one test
with score 0 and the message, so the student sees what happened instead of an autograder failure.
"""

from __future__ import annotations

from typing import Any

from derive.core.files import write_json

__all__ = ["results_json", "write_results"]


def _test(name: str, score: float, output: str) -> dict[str, Any]:
    return {"name": name, "score": score, "max_score": 1, "output": output, "visibility": "visible"}


def results_json(result: Any, error: str | None, seconds: float) -> dict[str, Any]:
    """The results.json document for a :class:`numeric.GradcheckResult` (or the ``error`` that stopped it)."""
    if error is not None or result is None:
        tests = [_test("your code runs", 0, error or "no result")]
        return {"score": 0, "execution_time": round(seconds, 3), "output": f"The check could not run: {error}",
                "tests": tests}
    tests = []
    for row in result.rows:
        right = str(row.verdict) != "wrong"
        if right:
            output = "correct" + (f" ({row.diagnosis})" if row.diagnosis else "")
        else:
            output = f"wrong: {row.diagnosis}"
        tests.append(_test(f"gradient of {row.name} {tuple(row.shape)}", 1 if right else 0, output))
    summary = result.status() + (f"\nwhere: {result.localisation}" if result.localisation else "")
    return {"score": sum(t["score"] for t in tests), "execution_time": round(seconds, 3), "output": summary,
            "tests": tests}


def write_results(path: str, document: dict[str, Any]) -> None:
    """Write it atomically (a half-written results.json would be a failed autograder run)."""
    write_json(path, document)
