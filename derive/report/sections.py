"""The sections of a model's report, as a registry: one ordered entry per section.

Each :class:`Section` names a section, gives its heading (None: no heading, e.g. the model card) and the function
that turns the gathered :class:`~derive.report.data.ReportData` into the section's TeX (everything under the
heading; subsections one level below ``level``). Adding a section is adding one entry to :data:`SECTIONS`.

The main text reads like a textbook's proof; the appendices (``appendix=True``) hold the evidence.

========================  =====================================================================================
(card, summary)           the model card and a one-line summary of steps and verdicts
Notation                  symbols and shapes of *this* model (from the spec); layout and reduction in words
The model                 forward pass and cost (bce from the Bernoulli likelihood: :mod:`derive.functions.costs`)
The derivation            :mod:`derive.report.main_text`: the functions' derivatives, delta^L, BP1-BP4 from the
                          chain rule with this model's batch forms and shapes, a sentence per piece of evidence
Training                  :mod:`derive.report.training`: loss and accuracy curves of a bpv train run (--history)
A Proof log               every step of every part of :func:`derive.backprop.model.derive_model`, its method,
                          instances and precision (the main text's marks link here)
B Verification            :func:`derive.verification.verify_model` (cached), one row per witness pair and block;
                          the plots (finite-difference error against h; each activation and f')
C The generated kernel    the kernel's listing
D Reproduce               the commands that recompute everything (:mod:`derive.report.appendix`)
========================  =====================================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from derive.report import layout
from derive.report.appendix import appendix_label, reproduce_tex, verification_and_plots_tex
from derive.report.data import APPENDIX_MARK, KERNEL, PROOF_LOG, REPRODUCE, VERIFICATION, ReportData
from derive.report.derivation import derivation_tex, summary_tex
from derive.report.evidence import kernel_tex
from derive.report.main_text import MAIN_DERIVATION, derivation_main_tex
from derive.report.model import model_tex
from derive.report.notation import card_tex, notation_tex
from derive.report.training import training_tex

__all__ = ["HEADINGS", "SECTIONS", "Section", "body_tex"]


@dataclass(frozen=True)
class Section:
    """One section of a model's report: ``tex(data, level)`` is its body under the heading ``title``.

    ``appendix`` sections hold the evidence: they come after the main text (after ``\\appendix`` in an article;
    in the book, in the model's appendix chapter). ``label`` (with the model's slug) is the ``\\label`` the main
    text refers to (:func:`derive.report.appendix.appendix_label`).
    """

    name: str
    title: str | None  # None: no heading (the card, the summary)
    tex: Callable[[ReportData, str], str]
    appendix: bool = False
    label: str | None = None

    def render(self, data: ReportData, level: str) -> str:
        body = self.tex(data, level)
        if self.title is None:
            return body
        head = layout.heading(level, self.title)
        if self.label is not None:
            head += f"\\hypertarget{{{appendix_label(data.spec.slug, self.label)}}}{{}}"
        return f"{head}\n\n{body}"


#: The sections of a model's report, in order: the main text, then the appendices.
SECTIONS: tuple[Section, ...] = (
    Section("card", None, card_tex),
    Section("summary", None, summary_tex),
    Section("notation", "Notation", notation_tex),
    Section("model", "The model", model_tex),
    Section("derivation", MAIN_DERIVATION, derivation_main_tex),
    Section("training", None, training_tex),  # its own heading, only with --history
    Section("proof log", PROOF_LOG, derivation_tex, appendix=True, label="proof"),
    Section("verification", VERIFICATION, verification_and_plots_tex, appendix=True, label="verification"),
    Section("kernel", KERNEL, kernel_tex, appendix=True, label="kernel"),
    Section("reproduce", REPRODUCE, reproduce_tex, appendix=True, label="reproduce"),
)

#: The headings of a model's report, in order (tests look for them in the PDF's text).
HEADINGS: tuple[str, ...] = tuple(s.title for s in SECTIONS if s.title is not None)


def body_tex(data: ReportData, level: str = "section", sections: tuple[Section, ...] = SECTIONS) -> str:
    """The report body: the main sections in order, then :data:`APPENDIX_MARK` and the appendix sections
    (headings at ``level``); the document assembly puts the appendices where they belong."""
    main = [s.render(data, level) for s in sections if not s.appendix]
    extra = [s.render(data, level) for s in sections if s.appendix]
    return "\n\n".join(main + ([APPENDIX_MARK, *extra] if extra else []))
