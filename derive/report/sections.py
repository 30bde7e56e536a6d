"""The sections of a model's report, as a registry: one ordered entry per section.

Each :class:`Section` names a section, gives its heading (None: no heading, e.g. the model card) and the function
that turns the gathered :class:`~derive.report.data.ReportData` into the section's TeX (everything under the
heading; subsections one level below ``level``). Adding a section is adding one entry to :data:`SECTIONS`.

========================  =====================================================================================
(card, summary)           the model card and a one-line summary of steps and verdicts
Notation                  symbols and shapes of *this* model (from the spec); layout and reduction in words
The model                 forward pass and cost (bce from the Bernoulli likelihood: :mod:`derive.functions.costs`)
The derivation            sigma' per activation, dC/da, delta^L (:mod:`derive.backprop.model_functions`), then the parts
                          of :func:`derive.backprop.model.derive_model` (BP1-BP4, fixed widths, batch forms,
                          end to end), each step with its justification and how it was checked
The generated kernel      :func:`derive.codegen.kernel.generate_kernel_source`, as a listing
Verification              :func:`derive.verification.verify_model` (cached), one row per witness pair and block
Plots                     :mod:`derive.report.plots`: finite-difference error against h; each activation and f'
Training                  :mod:`derive.report.training`: loss and accuracy curves of a bpv train run (--history)
========================  =====================================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from derive.report import layout
from derive.report.data import DERIVATION, KERNEL, PLOTS, VERIFICATION, ReportData
from derive.report.derivation import derivation_tex, summary_tex
from derive.report.evidence import kernel_tex, verification_tex
from derive.report.model import model_tex
from derive.report.notation import card_tex, notation_tex
from derive.report.plot_section import plots_tex
from derive.report.training import training_tex

__all__ = ["HEADINGS", "SECTIONS", "Section", "body_tex"]


@dataclass(frozen=True)
class Section:
    """One section of a model's report: ``tex(data, level)`` is its body under the heading ``title``."""

    name: str
    title: str | None  # None: no heading (the card, the summary)
    tex: Callable[[ReportData, str], str]

    def render(self, data: ReportData, level: str) -> str:
        body = self.tex(data, level)
        return body if self.title is None else f"{layout.heading(level, self.title)}\n\n{body}"


#: The sections of a model's report, in order.
SECTIONS: tuple[Section, ...] = (
    Section("card", None, card_tex),
    Section("summary", None, summary_tex),
    Section("notation", "Notation", notation_tex),
    Section("model", "The model", model_tex),
    Section("derivation", DERIVATION, derivation_tex),
    Section("kernel", KERNEL, kernel_tex),
    Section("verification", VERIFICATION, verification_tex),
    Section("plots", PLOTS, plots_tex),
    Section("training", None, training_tex),  # its own heading, only with --history
)

#: The headings of a model's report, in order (tests look for them in the PDF's text).
HEADINGS: tuple[str, ...] = tuple(s.title for s in SECTIONS if s.title is not None)


def body_tex(data: ReportData, level: str = "section", sections: tuple[Section, ...] = SECTIONS) -> str:
    """The report body: every section of ``sections`` in order, headings at ``level``."""
    return "\n\n".join(s.render(data, level) for s in sections)
