"""One model's report body: gather its data, typeset every section, and never lose the others' reports.

:func:`render_model` returns a :class:`~derive.report.data.Rendered` (plain data, so a worker process can return
it); :func:`render_safely` turns a crash into a report that says so.
"""

from __future__ import annotations

import time
import traceback

from derive.report import layout
from derive.report.data import Rendered
from derive.report.gather import Say, gather
from derive.report.sections import body_tex
from derive.report.shared import sections_for
from numeric.spec import ModelSpec

__all__ = ["render_model", "render_safely"]


def render_model(spec: ModelSpec, *, title: str | None = None, seed: int = 0, use_cache: bool = True,
                 progress: Say | None = None, history: dict | None = None) -> Rendered:
    """Gather everything about ``spec`` and render its report body (both as an article and as a book chapter);
    ``history`` (:func:`derive.report.training.load_history`) adds the Training section."""
    say = progress or (lambda _t: None)
    t0 = time.perf_counter()
    title = title or spec.title
    data = gather(spec, title, seed=seed, use_cache=use_cache, say=say)
    data.history = history
    say(f"{spec.name or spec.title}: typesetting")
    verified = None if data.verification is None else bool(data.verification.ok)
    body = body_tex(data, "section", sections_for(spec))  # dense, or the shared-weight chapter
    return Rendered(spec, title, body, data.holds, verified, dict(data.missing), list(data.errors),
                    time.perf_counter() - t0, dict(data.figures))


def render_safely(spec: ModelSpec, kwargs: dict) -> Rendered:
    """:func:`render_model` with ``kwargs``; a crash becomes a report that says so (and fails the run)."""
    try:
        return render_model(spec, **kwargs)
    except Exception as exc:  # one broken model must not lose the others' reports
        detail = traceback.format_exc(limit=3)
        title = kwargs.get("title") or spec.title
        box = layout.missing_tex("This report", f"rendering failed: {type(exc).__name__}: {exc}")
        return Rendered(spec, title, box, None, None, {"report": str(exc)},
                        [f"rendering failed: {type(exc).__name__}: {exc}\n{detail}"])
