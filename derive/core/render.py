"""Derivations as the terminal shows them and as LaTeX: one equation per step, its justification, its verdict.

Used by ``bpv derive`` (text, ``--latex``) and by the reports, so a step reads the same everywhere.
"""

from __future__ import annotations

from derive.core.book import book_latex, book_text
from derive.core.steps import Derivation, Step
from derive.core.texbuild import escape_tex

__all__ = ["LATEX_END", "MARK", "derivation_latex", "derivation_text", "latex_head", "step_text"]

MARK = {True: "✓", False: "✗", None: "?"}


def step_text(step: Step, number: int, width: int = 100) -> str:
    eq = f"{book_text(step.lhs)} = {book_text(step.rhs)}"
    if len(eq) > width * 3:
        eq = eq[: width * 3 - 1] + "…"
    kind = step.kind.value
    why = kind if step.justification == kind else f"{kind}: {step.justification}"
    lines = [f"  ({number}) {eq}", f"      {why}"]
    if not step.kind.unchecked:
        verdict = f"      {MARK[step.holds]} {step.verdict()} — {step.method}"
        if step.check and step.check.detail:
            verdict += f" ({step.check.detail})"
        lines.append(verdict)
        if step.check and step.check.counterexample:
            ce = ", ".join(f"{k} = {v}" for k, v in step.check.counterexample.items())
            lines.append(f"      counterexample: {ce}")
    if step.note:
        lines.append(f"      note: {step.note}")
    return "\n".join(lines)


def derivation_text(d: Derivation) -> str:
    head = f"{d.title}" + (f"\n  {d.summary}" if d.summary else "")
    body = "\n".join(step_text(s, i) for i, s in enumerate(d.steps, start=1))
    return f"{head}\n{body}"


def derivation_latex(d: Derivation) -> str:
    """An ``align*``-free list of displayed equations with justification and verdict (breaks across pages)."""
    out = [f"\\paragraph{{{escape_tex(d.title)}}}"]
    if d.summary:
        out.append(escape_tex(d.summary))
    out.append("\\begin{enumerate}")
    for s in d.steps:
        verdict = "" if s.kind.unchecked else (
            f" \\emph{{{escape_tex(s.verdict())}: {escape_tex(s.method)}}}")
        label = f"\\item[\\textbf{{{escape_tex(s.label)}}}]"
        out.append(f"{label} {escape_tex(s.kind.value)}: {escape_tex(s.justification)}.{verdict}")
        out.append(f"\\begin{{dmath*}}{book_latex(s.lhs)} = {book_latex(s.rhs)}\\end{{dmath*}}")
    out.append("\\end{enumerate}")
    return "\n".join(out)


LATEX_END = "\\end{document}"


def latex_head(title: str) -> str:
    """The preamble that makes :func:`derivation_latex` output a complete document (breqn breaks long lines)."""
    return "\n".join([
        "\\documentclass[11pt]{article}",
        "\\usepackage[margin=2.2cm]{geometry}",
        "\\usepackage{amsmath,amssymb}",
        "\\usepackage{breqn}",
        f"\\title{{{escape_tex(title)}}}",
        "\\author{derived and checked by bpv}",
        "\\date{}",
        "\\begin{document}",
        "\\maketitle",
    ])
