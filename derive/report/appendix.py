"""The appendices of a model's report: the evidence behind the main text.

The main text (:mod:`derive.report.main_text`) states each result with one line of justification; the appendices
hold what a sceptical reader checks: the proof log (every step, its method, instances and precision), the
verification tables with the plots, the generated kernel, and the commands that reproduce all of it. Each appendix
has a link target (:func:`appendix_label`) that the main text links to; targets carry the model's slug so that the
catalog book, which has one set of appendices per model, keeps them apart.
"""

from __future__ import annotations

from derive.report import layout
from derive.report.data import ReportData
from derive.report.plot_section import plots_tex
from derive.verification.rows import model_argument, reproduce_command

__all__ = ["appendix_label", "reproduce_tex", "verification_and_plots_tex"]


def appendix_label(slug: str, what: str) -> str:
    """The link target of one appendix of one model (``what``: proof, verification, kernel, reproduce); a
    ``\\hypertarget``, not a ``\\label``, because the reports are typeset in one pass."""
    return f"app:{slug}:{what}"


def verification_and_plots_tex(data: ReportData, level: str) -> str:
    """The verification table, then the plots (finite-difference error against h; the activations)."""
    from derive.report.evidence import verification_tex

    out = [verification_tex(data, level)]
    if data.fd is not None or data.curves:
        out.append(plots_tex(data, level))
    return "\n\n".join(out)


def _seed(data: ReportData) -> int:
    """The seed of the verification the report shows (0, bpv's default, when it shows none)."""
    return int(getattr(data.verification, "seed", 0) or 0)


def _commands(data: ReportData) -> list[tuple[str, str]]:
    model = model_argument(data.spec)
    return [
        ("every step of the derivation, with verdicts", f"bpv derive {model}"),
        ("the same, as LaTeX", f"bpv derive {model} --latex"),
        ("the kernel against the hand-written backprop, finite differences and the complex step",
         reproduce_command(data.spec, _seed(data))),
        ("the verified kernel as a NumPy module", f"bpv kernels {model} -o kernels/"),
        ("this report", f"bpv report {model} -o reports/"),
    ]


def reproduce_tex(data: ReportData, level: str) -> str:
    """The commands that reproduce this report's results, each with what it shows."""
    rows = [[layout.prose(what), layout.tt(cmd)] for what, cmd in _commands(data)]
    table = layout.table_tex(["what", "command"], rows,
                             ">{\\raggedright\\arraybackslash}p{0.38\\linewidth}"
                             ">{\\raggedright\\arraybackslash}p{0.56\\linewidth}")
    digest = (f" The derivation's hash is \\texttt{{{data.derivation_hash}}}: a run that derives the same "
              "steps reports the same hash." if data.derivation_hash else "")
    return ("Every result in this report can be recomputed from the command line (seed "
            f"{_seed(data)}); bpv caches derivations and verification results, "
            f"signed with a key of the user's, so a second run is fast.{digest}\n\n{table}")
