"""Derivations as ordered, checked steps.

A :class:`Step` is one equation ``lhs = rhs`` of SymPy expressions with its justification (definition, sympy.diff
of a definition, chain rule, substitution, simplification, a claim compared against a derived result, ...) and a
record of whether and *how* it was checked (:class:`~derive.core.proof.Check`). A :class:`Derivation` is an ordered list
of steps with a title; it holds when every step holds.

Step kinds:

``definition``  what a symbol means; nothing to check.
``axiom``       a stated rule that is not computed (only the multivariate chain rule in index form).
``convention``  a choice, not a consequence (ReLU'(0) = 0); checked to agree with the raw result away from the kink.
``derived``     computed by SymPy from earlier steps (diff, substitution, summation); checked.
``claim``       a textbook form compared against a derived result; checked, and may fail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import sympy as sp

from derive.core.proof import Check, prove_equal

__all__ = ["KINDS", "Derivation", "Step"]

KINDS = ("definition", "axiom", "convention", "derived", "claim")


@dataclass
class Step:
    """One equation of a derivation, with why it is true and how that was checked."""

    label: str
    lhs: sp.Basic
    rhs: sp.Basic
    kind: str
    justification: str
    check: Check | None = None
    depends: tuple[str, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown step kind {self.kind!r}; one of {KINDS}")

    @property
    def holds(self) -> bool | None:
        """True for definitions and axioms; otherwise the check's verdict (None if not checked)."""
        if self.kind in ("definition", "axiom"):
            return True
        return None if self.check is None else self.check.holds

    @property
    def method(self) -> str:
        if self.kind in ("definition", "axiom"):
            return self.kind
        return self.check.method if self.check else "not checked"

    def verdict(self) -> str:
        return {True: "holds", False: "does not hold", None: "undecided"}[self.holds]

    def to_dict(self) -> dict:
        from derive.core.book import book_latex

        return {
            "label": self.label,
            "kind": self.kind,
            "justification": self.justification,
            "lhs_latex": book_latex(self.lhs),
            "rhs_latex": book_latex(self.rhs),
            "lhs_srepr": sp.srepr(self.lhs),
            "rhs_srepr": sp.srepr(self.rhs),
            "holds": self.holds,
            "verdict": self.verdict(),
            "check": self.check.to_dict() if self.check else None,
            "depends": list(self.depends),
            "note": self.note,
        }


@dataclass
class Derivation:
    """An ordered list of checked steps: ``holds`` when every step holds."""

    title: str
    steps: list[Step] = field(default_factory=list)
    summary: str = ""

    # ----- building ----------------------------------------------------------------------------------------
    def define(self, label: str, lhs, rhs, justification: str = "definition", note: str = "") -> Step:
        return self._add(Step(label, lhs, rhs, "definition", justification, note=note))

    def axiom(self, label: str, lhs, rhs, justification: str, note: str = "") -> Step:
        return self._add(Step(label, lhs, rhs, "axiom", justification, note=note))

    def derive(
        self, label: str, lhs, rhs, justification: str, *, expected=None, depends: Iterable[str] = (),
        note: str = "", **check_options,
    ) -> Step:
        """A step computed by SymPy. ``expected`` (default ``lhs``) is re-derived independently and compared."""
        check = prove_equal(lhs if expected is None else expected, rhs, **check_options)
        return self._add(Step(label, lhs, rhs, "derived", justification, check, tuple(depends), note))

    def claim(
        self, label: str, lhs, rhs, derived, justification: str, *, depends: Iterable[str] = (), note: str = "",
        **check_options,
    ) -> Step:
        """A textbook form ``lhs = rhs`` checked against the ``derived`` expression for ``lhs``."""
        check = prove_equal(derived, rhs, **check_options)
        return self._add(Step(label, lhs, rhs, "claim", justification, check, tuple(depends), note))

    def convention(self, label: str, lhs, rhs, check: Check, justification: str, note: str = "") -> Step:
        return self._add(Step(label, lhs, rhs, "convention", justification, check, note=note))

    def add(self, step: Step) -> Step:
        return self._add(step)

    def extend(self, other: Derivation) -> None:
        for step in other.steps:
            self._add(step)

    def _add(self, step: Step) -> Step:
        if any(s.label == step.label for s in self.steps):
            raise ValueError(f"duplicate step label {step.label!r} in {self.title!r}")
        self.steps.append(step)
        return step

    # ----- reading -----------------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, label: str) -> Step:
        for s in self.steps:
            if s.label == label:
                return s
        raise KeyError(label)

    @property
    def holds(self) -> bool:
        return all(s.holds is True for s in self.steps)

    def failures(self) -> list[Step]:
        return [s for s in self.steps if s.holds is not True]

    def hash(self) -> str:
        """Digest of every step's label, kind and expressions (srepr): changes when the mathematics changes."""
        h = hashlib.sha256(self.title.encode())
        for s in self.steps:
            h.update(f"{s.label}|{s.kind}|{sp.srepr(s.lhs)}|{sp.srepr(s.rhs)}".encode())
        return h.hexdigest()[:16]

    def to_dict(self) -> dict:
        return {
            "title": self.title,
            "summary": self.summary,
            "holds": self.holds,
            "hash": self.hash(),
            "steps": [s.to_dict() for s in self.steps],
        }
