"""Localisation in time: for a recurrent problem built by ``make_problem(T)``, the first prefix T' whose gradient fails.

An RNN's backward pass is a loop over time, and its classic mistakes live at different places in that loop: a
wrong step (dz, f'(a), a parameter gradient of one step) is wrong already with one step, while a mistake in what
flows *between* steps (dh_next, the state a step reads) cannot show before there are two. So when the user's
``make_problem`` takes the number of steps (``def make_problem(T=4)``), the problem is also built and checked for
the prefixes T' = 1, ..., T - 1 of the same sequence, and the first T' at which a block goes wrong is reported:
"correct for T' = 1; wrong from T' = 2 on (Wxh, Whh, bh): ... the gradient through h_(t-1) (dh_next)".

What it needs from the user: that ``make_problem(T')`` is the same problem cut to its first T' steps (the same
parameters and data). What it is not: a proof that the error is in the carry; it says at which length the error
first appears, and what a first failure at that length usually means.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from numeric.check_result import GradcheckResult, Verdict
from numeric.errors import BadInput

__all__ = ["STEP_NAMES", "TimeSteps", "check_time_steps", "localise_in_time", "steps_parameter"]

#: the parameter names of make_problem read as the number of time steps
STEP_NAMES = ("T",)


def steps_parameter(fn: Callable[..., Any], what: str = "make_problem") -> tuple[str, int] | None:
    """``(name, default T)`` when ``fn`` takes the number of time steps (a parameter named ``T``), else None.

    A ``T`` without a default, or whose default is not an integer >= 1, is bad input: bpv needs to know how many
    steps the full problem has.
    """
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return None
    for name in STEP_NAMES:
        p = params.get(name)
        if p is None or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            continue
        if p.default is p.empty:
            raise BadInput(f"{what}({name}) has no default for {name}: write def {what}({name}=4) (the full number of "
                           f"time steps), so that bpv can check the prefixes {name}' = 1..{name}")
        if not isinstance(p.default, int) or isinstance(p.default, bool) or p.default < 1:
            raise BadInput(f"{what}'s default {name} = {p.default!r} is not a number of time steps (an integer >= 1)")
        return name, int(p.default)
    return None


@dataclass
class TimeSteps:
    """The wrong blocks of each prefix T' = 1..T (an empty list: every block right)."""

    T: int
    wrong: dict[int, list[str]] = field(default_factory=dict)

    @property
    def first_wrong(self) -> int | None:
        return next((t for t in range(1, self.T + 1) if self.wrong.get(t)), None)

    def text(self) -> str | None:
        """The sentence for ``where:`` (None when every prefix is right)."""
        k = self.first_wrong
        if k is None:
            return None
        failing = [t for t in range(1, self.T + 1) if self.wrong.get(t)]
        when = f"wrong from T' = {k} on" if failing == list(range(k, self.T + 1)) else \
            f"wrong at T' = {', '.join(map(str, failing))}"
        head = f"by time step (make_problem(T) for T' = 1..{self.T}): "
        rows = ", ".join(self.wrong[k])
        if k == 1:
            return (f"{head}{when} ({rows}): already one step is wrong, so the mistake is in a single step's "
                    "backward (dz, f'(a), a parameter gradient of the step), not only in what flows between steps")
        right = "T' = 1" if k == 2 else f"T' = 1..{k - 1}"
        if k == 2:
            return (f"{head}correct for {right}; {when} ({rows}): the error needs two steps to show, so it is in "
                    "what flows between steps: the gradient through h_(t-1) (dh_next = W_hh^T da_(t+1)), or the "
                    "state h_(t-1) a step's gradient reads")
        return (f"{head}correct for {right}; {when} ({rows}): the error needs {k} steps to show: the gradient "
                "carried over more than one step (dh_next accumulated or reset wrongly), or a loop over t that "
                "stops early or skips an index")


def check_time_steps(make: Callable[[int], Any], T: int, check: Callable[[Any], GradcheckResult],
                     full: GradcheckResult | None = None) -> TimeSteps:
    """Check ``make(t)`` for t = 1..T with ``check`` (``full``, when given, is the result for t = T)."""
    steps = TimeSteps(T)
    for t in range(1, T + 1):
        result = full if (t == T and full is not None) else check(make(t))
        steps.wrong[t] = [r.name for r in result.rows if r.verdict is Verdict.WRONG]
    return steps


def localise_in_time(result: GradcheckResult, steps: TimeSteps) -> GradcheckResult:
    """``result`` with the time-step sentence added to its localisation (and recorded under ``time_steps``)."""
    text = steps.text()
    if text:
        result.localisation = f"{result.localisation}; {text}" if result.localisation else text
    result.notes.append(_note(steps))
    return result


def _note(steps: TimeSteps) -> str:
    parts = [f"T'={t}: {', '.join(w) or 'ok'}" for t, w in sorted(steps.wrong.items())]
    return f"time steps checked (wrong blocks per prefix): {'; '.join(parts)}"

