"""A checked problem's wrong rows explained by name, when an experiment on the user's code supports the name.

:func:`check_named` is :func:`numeric.layer_check.check_problem` followed by :func:`explain`: for a
:class:`~numeric.layer_check.LayerProblem` the convolution and max-pool experiments of
:mod:`numeric.shared_diagnose`, for a ``(loss, grad, params)`` problem with a vanilla RNN's parameters the BPTT
experiments of :mod:`numeric.rnn_diagnose`. A row a finding explains gets the finding's sentence (what was tested,
and the fix) in place of the generic one; every other row keeps what the checker said. ``bpv gradcheck`` uses it.
:func:`explain_in_time` adds what only the prefixes of a ``make_problem(T)`` can tell (:mod:`numeric.time_steps`):
a dh_next that is missing rather than wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numeric.check_result import GradcheckResult, Verdict
from numeric.hypotheses import Finding, apply_findings
from numeric.layer_check import LayerProblem, LossProblem, Problem, check_problem
from numeric.rnn_diagnose import dh_next_missing, rnn_findings
from numeric.shared_diagnose import layer_findings
from numeric.time_steps import TimeSteps

__all__ = ["check_named", "explain", "explain_in_time", "findings"]


def findings(problem: Problem, wrong: set[str], seed: int = 0) -> list[Finding]:
    """The named bugs the experiments support for the blocks in ``wrong`` (none for a loss layer)."""
    if isinstance(problem, LayerProblem):
        return layer_findings(problem, wrong, seed)
    if isinstance(problem, LossProblem):
        return []
    loss, grad, params = problem
    return rnn_findings(loss, grad, params, wrong)


def explain(problem: Problem, result: GradcheckResult, seed: int = 0) -> GradcheckResult:
    """``result`` with its wrong rows named where an experiment supports a name (see the module doc)."""
    wrong = {r.name for r in result.rows if r.verdict is Verdict.WRONG}
    return apply_findings(result, findings(problem, wrong, seed))


def check_named(problem: Problem, *, seed: int = 0, **options: Any) -> GradcheckResult:
    """:func:`numeric.layer_check.check_problem`, then :func:`explain`."""
    return explain(problem, check_problem(problem, seed=seed, **options), seed)


def explain_in_time(make: Callable[[int], Any], result: GradcheckResult, steps: TimeSteps) -> GradcheckResult:
    """``result`` with "BPTT without dh_next" on its rows when the prefixes show it (right at T' = 1, wrong at 2,
    and :func:`numeric.rnn_diagnose.dh_next_missing` holds); ``make(t)`` builds the problem for t steps."""
    if steps.first_wrong != 2:
        return result

    def problem(t: int) -> tuple:
        built = make(t)
        if not isinstance(built, tuple):
            raise TypeError("not a (loss, grad, params) problem")
        return built

    try:
        finding = dh_next_missing(problem, {r.name for r in result.rows if r.verdict is Verdict.WRONG})
    except (Exception, SystemExit):  # the user's code, or a problem of another shape: no evidence either way
        finding = None
    return apply_findings(result, [finding] if finding else [])
