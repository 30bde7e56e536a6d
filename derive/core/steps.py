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

import enum
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import sympy as sp

from derive.core.proof import Check, prove_equal

__all__ = ["KINDS", "Derivation", "Role", "Step", "StepKind", "canonical_srepr"]

_DUMMY_INDEX = re.compile(r"dummy_index=\d+")
_ASSUMPTIONS = re.compile(r"((?:Symbol|Dummy)\('[^']*')((?:, \w+=\w+)+)\)")


def canonical_srepr(expr: sp.Basic) -> str:
    """``srepr`` that does not depend on what ran before: a Dummy's index counts the Dummies made earlier in the
    process, and a cached Symbol keeps the keyword order of its first creation (``Symbol('n', integer=True,
    positive=True)`` and ``Symbol('n', positive=True, integer=True)`` are one object): both are normalised."""
    def sort_assumptions(found: re.Match) -> str:
        return found.group(1) + ", " + ", ".join(sorted(found.group(2)[2:].split(", "))) + ")"

    text = _ASSUMPTIONS.sub(sort_assumptions, sp.srepr(expr))
    return _DUMMY_INDEX.sub("dummy_index=_", text)


class StepKind(str, enum.Enum):
    """What a step is (see the module doc); a ``str`` so that JSON and old comparisons read the value."""

    DEFINITION = "definition"
    AXIOM = "axiom"
    CONVENTION = "convention"
    DERIVED = "derived"
    CLAIM = "claim"

    def __str__(self) -> str:
        return self.value

    @property
    def unchecked(self) -> bool:
        """Definitions and axioms are stated, not checked: they hold by construction."""
        return self in (StepKind.DEFINITION, StepKind.AXIOM)


KINDS = tuple(kind.value for kind in StepKind)


class Role(str, enum.Enum):
    """What a derivation is *for*, so that readers (the report, the CLI) find it by role, never by its title."""

    ACTIVATION = "activation"  # an activation's derivative from its definition
    SOFTMAX = "softmax"  # the softmax Jacobian
    COST = "cost"  # a cost and its derivative dC/da
    OUTPUT_ERROR = "output_error"  # delta^L for an (output activation, cost) pair
    GENERAL_RULE = "general_rule"  # BP1-BP4 for every width
    FIXED_WIDTH = "fixed_width"  # BP1-BP4 at small widths, no axiom
    BATCH = "batch"  # the batch matrix forms
    END_TO_END = "end_to_end"  # sympy.diff of the composed cost against BP
    STABLE_FORMS = "stable_forms"  # the forms a kernel prints
    MODEL = "model"  # a whole model's derivation
    NORMALISATION = "normalisation"  # batch or layer normalisation's backward forms
    DROPOUT = "dropout"  # inverted dropout's backward form
    REGULARISATION = "regularisation"  # the L2 term's gradient
    UPDATE = "update"  # the SGD update rule (with weight decay under L2)
    OTHER = "other"

    def __str__(self) -> str:
        return self.value


@dataclass
class Step:
    """One equation of a derivation, with why it is true and how that was checked."""

    label: str
    lhs: sp.Basic
    rhs: sp.Basic
    kind: StepKind
    justification: str
    check: Check | None = None
    depends: tuple[str, ...] = ()
    note: str = ""
    #: the entry the right side was read from, when it is a matrix form read off an index form (the batch
    #: forms): the report prints it beside the matrix, so the reader sees both
    index_form: sp.Basic | None = None

    def __post_init__(self) -> None:
        try:
            self.kind = StepKind(self.kind)
        except ValueError:
            raise ValueError(f"unknown step kind {self.kind!r}; one of {KINDS}") from None

    @property
    def holds(self) -> bool | None:
        """True for definitions and axioms; otherwise the check's verdict (None if not checked)."""
        if self.kind.unchecked:
            return True
        return None if self.check is None else self.check.holds

    @property
    def method(self) -> str:
        if self.kind.unchecked:
            return self.kind.value
        return self.check.method if self.check else "not checked"

    def verdict(self) -> str:
        return {True: "holds", False: "does not hold", None: "undecided"}[self.holds]

    def to_dict(self) -> dict:
        from derive.core.book import book_latex

        return {
            "label": self.label,
            "kind": self.kind.value,
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
    role: Role = Role.OTHER
    #: the layer, activation or cost the derivation is about (``3``, ``"relu"``, ``"bce"``), for readers
    subject: object = None

    # ----- building ----------------------------------------------------------------------------------------
    def define(self, label: str, lhs, rhs, justification: str = "definition", note: str = "") -> Step:
        return self._add(Step(label, lhs, rhs, StepKind.DEFINITION, justification, note=note))

    def axiom(self, label: str, lhs, rhs, justification: str, note: str = "") -> Step:
        return self._add(Step(label, lhs, rhs, StepKind.AXIOM, justification, note=note))

    def derive(
        self, label: str, lhs, rhs, justification: str, *, expected=None, depends: Iterable[str] = (),
        note: str = "", **check_options,
    ) -> Step:
        """A step computed by SymPy. ``expected`` (default ``lhs``) is re-derived independently and compared."""
        check = prove_equal(lhs if expected is None else expected, rhs, **check_options)
        return self._add(Step(label, lhs, rhs, StepKind.DERIVED, justification, check, tuple(depends), note))

    def claim(
        self, label: str, lhs, rhs, derived, justification: str, *, depends: Iterable[str] = (), note: str = "",
        **check_options,
    ) -> Step:
        """A textbook form ``lhs = rhs`` checked against the ``derived`` expression for ``lhs``."""
        check = prove_equal(derived, rhs, **check_options)
        return self._add(Step(label, lhs, rhs, StepKind.CLAIM, justification, check, tuple(depends), note))

    def convention(self, label: str, lhs, rhs, check: Check, justification: str, note: str = "") -> Step:
        return self._add(Step(label, lhs, rhs, StepKind.CONVENTION, justification, check, note=note))

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
        """Digest of every step's label, kind and expressions (srepr): changes when the mathematics changes.

        The expressions are :func:`canonical_srepr`: the same derivation hashes the same whatever ran before it.
        """
        h = hashlib.sha256(self.title.encode())
        for s in self.steps:
            h.update(f"{s.label}|{s.kind.value}|{canonical_srepr(s.lhs)}|{canonical_srepr(s.rhs)}".encode())
        return h.hexdigest()[:16]

    def to_dict(self) -> dict:
        return {
            "title": self.title,
            "role": self.role.value,
            "summary": self.summary,
            "holds": self.holds,
            "hash": self.hash(),
            "steps": [s.to_dict() for s in self.steps],
        }
