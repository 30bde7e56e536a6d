"""What a model's report is made of: the gathered data, and the rendered body that crosses process boundaries.

:class:`ReportData` holds the results of the other modules (derivations, kernel source, verification, plot data)
for one model, as :mod:`derive.report.gather` collected them; every section of :mod:`derive.report.sections`
reads only this. :class:`Rendered` is the typeset body, plain data so that a worker process can return it.
Derivations are found by :class:`~derive.core.steps.Role`, never by their titles.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from derive.core.steps import Derivation, Role
from numeric.spec import ModelSpec

__all__ = [
    "APPENDIX_MARK",
    "DERIVATION",
    "KERNEL",
    "PLOTS",
    "PROOF_LOG",
    "REPRODUCE",
    "VERIFICATION",
    "Rendered",
    "ReportData",
    "is_function_part",
    "why_missing",
]

#: Section titles that data can be missing for (the keys of :attr:`ReportData.missing`, shown to the user).
DERIVATION = "The derivation, step by step"
KERNEL = "The generated kernel"
VERIFICATION = "Verification"
PLOTS = "Plots"
#: the headings of the appendices that are not a data source
PROOF_LOG = "Proof log: every step and how it was checked"
REPRODUCE = "Reproduce"
#: where a report body's appendices begin (the document assembly replaces it: :mod:`derive.report.documents`)
APPENDIX_MARK = "%<<APPENDIX>>"


def why_missing(exc: BaseException) -> str:
    """Why a source gave nothing: the error it raised, in one line."""
    return f"{type(exc).__name__}: {exc}"


def is_function_part(d: Derivation, functions: Sequence[Derivation]) -> bool:
    """A part of derive_model that repeats the model-function derivations already shown (same steps)."""
    mine = {s.label for f in functions for s in f.steps}
    labels = {s.label for s in d.steps}
    return bool(labels) and labels <= mine


@dataclass
class ReportData:
    """Everything the sections of one model's report read; nothing here is recomputed by a section."""

    spec: ModelSpec
    title: str
    functions: list[Derivation]  # each distinct activation, the cost, then delta^L (each with its role)
    parts: list[Derivation] | None = None  # derive_model's parts (None: not available)
    derivation_hash: str = ""
    kernel_source: str | None = None
    kernel_origin: str = ""
    verification: object | None = None
    fd: dict | None = None
    curves: list = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # section title -> why it is missing or incomplete
    errors: list[str] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)
    history: dict | None = None  # a bpv train run (derive.report.training.load_history), shown when given

    def figure(self, tikz: str) -> str:
        """Register a tikzpicture; returns the placeholder the document assembly replaces."""
        key = hashlib.sha256(tikz.encode()).hexdigest()[:12]
        self.figures[key] = tikz
        return f"<<FIG:{key}>>"

    def function(self, role: Role) -> Derivation | None:
        """The first model-function derivation with ``role`` (the cost, the output error), or None."""
        return next((d for d in self.functions if d.role is role), None)

    @property
    def model_parts(self) -> list[Derivation]:
        """derive_model's parts that are not the model-function derivations again."""
        return [d for d in self.parts or [] if not is_function_part(d, self.functions)]

    @property
    def holds(self) -> bool:
        return all(d.holds for d in self.functions) and all(d.holds for d in self.parts or [])


@dataclass
class Rendered:
    """One model's report body, rendered; plain data so it crosses process boundaries."""

    spec: ModelSpec
    title: str
    body: str  # sections at \\section level: the same body serves the article and a chapter of the book
    holds: bool | None = None  # the derivation (None: not available)
    verified: bool | None = None  # the verification (None: not available)
    missing: dict[str, str] = field(default_factory=dict)  # section -> why it is missing or incomplete
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    figures: dict[str, str] = field(default_factory=dict)  # key -> tikzpicture; the body holds <<FIG:key>>

    @property
    def ok(self) -> bool:
        return not self.errors and self.holds is not False and self.verified is not False
