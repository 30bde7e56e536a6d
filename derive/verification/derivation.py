"""The SymPy derivation as a witness: one row per part of :func:`derive.backprop.model.derive_model`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from derive.verification.rows import Row, Verdict
from numeric.spec import ModelSpec

__all__ = ["derivation", "derivation_failed_row", "derivation_rows"]

WITNESS, REFERENCE = "SymPy derivation", "its own checks"


def derivation(spec: ModelSpec, progress: Callable[[str], None] | None = None) -> Any:
    """The model's derivation (cached by :mod:`derive.core.cache`)."""
    from derive.backprop.model import derive_model

    return derive_model(spec, progress=progress)


def _short_title(title: str) -> str:
    """A part's title up to its first `` (`` or ``:``: the table's block column stays readable."""
    for mark in (" (", ": "):
        if mark in title:
            title = title.split(mark, 1)[0]
    return title.strip()


def _methods(part: Any) -> list[str]:
    """The proof methods a part used, in brief and in order (stated steps are not checked: none)."""
    kinds: list[str] = []
    for s in part.steps:
        if s.kind.unchecked:
            continue
        kind = s.method.split(":", 1)[0].strip()
        if kind not in kinds:
            kinds.append(kind)
    return kinds


def derivation_rows(model: str, derived: Any) -> list[Row]:
    """One row per part of the model's derivation: holds when every step holds; the methods used, in brief."""
    rows = []
    for part in derived.parts:
        bad = part.failures()
        kinds = _methods(part)
        how = f"{len(part)} steps" + (f": {', '.join(kinds)}" if kinds else "")
        detail = ""
        if bad:
            shown = ", ".join(f"{s.label} ({s.verdict()}: {s.method})" for s in bad[:4])
            detail = f"not holding: {shown}" + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
        rows.append(Row(model, "derivation", _short_title(part.title), WITNESS, REFERENCE, None, None,
                        Verdict.HOLDS if part.holds else Verdict.FAILS, how, detail))
    return rows


def derivation_failed_row(model: str, why: str) -> Row:
    """The row of a derivation that could not run."""
    return Row(model, "derivation", "all", WITNESS, REFERENCE, None, None, Verdict.FAILS, "", why)
