"""BP1-BP4 in the main text: each from the chain rule in one step, then this model's batch forms and shapes.

The index form (one sample, every width) is the general rule's claim; under it, a table gives the same equation
for the batch, as a matrix for every layer of *this* model, with its shape: the two forms side by side. The parts
that are evidence rather than exposition (the fixed-width recomputation, the end-to-end comparison, the code's
pre-scaled errors, the blocks past the dense layer) follow as a paragraph each, with their verdicts linked to the
proof log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from derive.core.book import book_latex
from derive.core.steps import Derivation, Role
from derive.report import layout
from derive.report.appendix import appendix_label
from derive.report.data import ReportData
from derive.report.main_text import Line, brief_tex, strength_phrase
from derive.report.maths import shape_tex
from derive.report.named import named_step
from derive.report.shared_steps import find_step

__all__ = ["BP_LINES", "bp_tex", "evidence_tex"]


@dataclass(frozen=True)
class Equation:
    """One of the four equations: its two steps in the general rule, and which batch steps are its instances."""

    name: str
    intro: str
    steps: tuple[Line, ...]
    batch: str  # the batch steps' label prefix: batch.Delta, batch.nabla_b, batch.nabla_W


BP_LINES: tuple[Equation, ...] = (
    Equation("BP1", "The error of the output layer.",
             (Line("BP1.chain", "the chain rule through the output activations $a^L_k$"),
              Line("BP1", "$a^L_k$ depends on $z^L_j$ only for $k = j$, with derivative $\\sigma'(z^L_j)$")),
             "batch.Delta"),
    Equation("BP2", "The error of a layer from the error of the next.",
             (Line("BP2.chain", "the chain rule through the next layer's weighted inputs $z^{l+1}_k$"),
              Line("BP2", "$\\partial z^{l+1}_k / \\partial z^l_j = w^{l+1}_{kj}\\,\\sigma'(z^l_j)$")),
             "batch.Delta"),
    Equation("BP3", "The gradient of a bias.",
             (Line("BP3.chain", "the chain rule through the weighted inputs $z^l_i$ of the layer"),
              Line("BP3", "only $z^l_j$ depends on $b^l_j$, with derivative $1$")),
             "batch.nabla_b"),
    Equation("BP4", "The gradient of a weight.",
             (Line("BP4.chain", "the chain rule through the weighted inputs $z^l_i$ of the layer"),
              Line("BP4", "only $z^l_j$ depends on $w^l_{jk}$, with derivative $a^{l-1}_k$")),
             "batch.nabla_W"),
)


def _part(data: ReportData, role: Role) -> Derivation | None:
    return next((d for d in data.parts or [] if d.role is role), None)


def _shape(data: ReportData, label: str) -> str:
    """The shape of a batch step's left side in this model: Delta^l, or the gradient of W^l / b^l."""
    spec = data.spec
    for prefix, key in (("batch.nabla_W", "W"), ("batch.nabla_b", "b")):
        if label.startswith(prefix):
            return shape_tex(spec.param_shapes()[f"{key}{label[len(prefix):]}"])
    return shape_tex(spec.layout.batch(spec.sizes[int(label[len("batch.Delta"):])], "m"))


def _layers(eq: Equation, L: int) -> Sequence[int]:
    if eq.name == "BP1":
        return (L,)
    return range(L - 1, 0, -1) if eq.name == "BP2" else range(L, 0, -1)


def _batch_rows(data: ReportData, eq: Equation, batch: Derivation | None) -> str:
    """This model's batch forms of one equation, a row per layer: the matrix form, its shape, the verdict."""
    rows = []
    slug = data.spec.slug
    for l in _layers(eq, data.spec.L):
        label = f"{eq.batch}{l}"
        step = find_step(batch, label)
        if step is None:
            continue
        shown = named_step(step, data.spec)
        textbook = find_step(batch, f"{label}.textbook")
        same = "" if textbook is None or not textbook.holds else "; = textbook"
        mark = layout.verdict_link(step, layout.step_anchor(slug, label), strength_phrase(step) + same)
        entry = "" if shown.index_form is None else f"$\\displaystyle {book_latex(shown.index_form)}$"
        rows.append(f"$\\displaystyle {book_latex(shown.lhs)} = {book_latex(shown.rhs)}$ & {entry} & "
                    f"{_shape(data, label)} & {mark} \\\\")
    if not rows:
        return ""
    return ("\\begin{center}\\small\\renewcommand{\\arraystretch}{1.9}\\setlength{\\tabcolsep}{3pt}"
            "\\begin{tabular}{>{\\raggedright\\arraybackslash}p{0.3\\linewidth}"
            ">{\\raggedright\\arraybackslash}p{0.34\\linewidth}l>{\\raggedright\\arraybackslash}p{0.2\\linewidth}}\n"
            f"\\toprule {eq.name} for the batch of this model & its entry (indices from 0) & shape & checked "
            "\\\\ \\midrule\n" + "\n".join(rows) + "\n\\bottomrule\\end{tabular}\\end{center}")


def bp_tex(data: ReportData, level: str) -> str:
    """BP1-BP4, each as: what it is, the chain rule, the result (index form), the batch forms of this model."""
    rule, batch = _part(data, Role.GENERAL_RULE), _part(data, Role.BATCH)
    out = [layout.heading(level, "The four equations"),
           "Each equation is one application of the chain rule, the one rule the derivation states; the index "
           "form holds for one sample and every width, the table under it is the same equation for the batch, "
           "as this model's code computes it, with the shapes of this model."
           + (" For the batch, $\\Delta^l$ stacks the samples' errors and the cost's factor "
              "$\\frac{1}{m}$ appears once, in the gradients." if data.spec.reduction == "mean" else "")]
    slug = data.spec.slug
    for eq in BP_LINES:
        pieces = [f"\\textbf{{{eq.name}.}} {eq.intro}"]
        for line in eq.steps:
            step = find_step(rule, line.label)
            if step is not None:
                pieces.append(brief_tex(step, line.why, layout.step_anchor(slug, step.label)))
        pieces.append(_batch_rows(data, eq, batch))
        out.append("\n\n".join(p for p in pieces if p))
    return "\n\n".join(out)


#: the parts summarised in a sentence each, by role, with what they add
_EVIDENCE = {
    Role.FIXED_WIDTH: "The four equations recomputed at small fixed widths by SymPy's own chain rule, with no rule "
                      "stated",
    Role.END_TO_END: "The whole network differentiated at once: the composed cost differentiated with respect to "
                     "each parameter, compared with what BP1--BP4 give, at 60 digits",
    Role.STABLE_FORMS: "The numerically stable forms the kernel prints, each proven equal to the derived one",
}
_BLOCK_ROLES = (Role.NORMALISATION, Role.DROPOUT, Role.REGULARISATION, Role.UPDATE)


def _count_sentence(d: Derivation, what: str, slug: str) -> str:
    checked = [s for s in d.steps if not s.kind.unchecked]
    held = sum(1 for s in checked if s.holds is True)
    first = checked[0] if checked else (d.steps[0] if d.steps else None)
    link = f" (\\hyperlink{{{layout.step_anchor(slug, first.label)}}}{{proof log}})" if first is not None else ""
    verdict = "\\bpvok" if checked and held == len(checked) else "\\bpvbad" if checked else ""
    return f"{what}: {held} of {len(checked)} checks hold{link}. {verdict}"


def _blocks_tex(data: ReportData, level: str) -> list[str]:
    """Each block past the dense layer: its backward's results (the claims, else the last derived step)."""
    out = []
    slug = data.spec.slug
    for d in data.parts or []:
        if d.role not in _BLOCK_ROLES or not d.steps:
            continue
        claims = [s for s in d.steps if s.kind.value == "claim"]
        shown = (claims or [s for s in d.steps if s.kind.value == "derived"][-1:]
                 or [s for s in d.steps if s.kind.unchecked][:3])  # an update rule is stated, not derived
        out.append(layout.heading(level, layout.prose(layout.sentence_case(d.title))))
        for s in shown[:4]:
            why = ("the textbook form, compared with the backward derived from the definition" if s in claims
                   else layout.prose(s.justification.strip().rstrip(".")) if s.kind.unchecked
                   else "derived from the block's definition, step by step in the proof log")
            out.append(brief_tex(named_step(s, data.spec), why, layout.step_anchor(slug, s.label)))
    return out


def evidence_tex(data: ReportData, level: str) -> str:
    """The blocks past the dense layer, then a sentence per part that is evidence, then the verification."""
    slug = data.spec.slug
    out = _blocks_tex(data, level)
    sentences = [_count_sentence(d, _EVIDENCE[d.role], slug) for d in data.parts or [] if d.role in _EVIDENCE]
    code = _part(data, Role.BATCH)
    if code is not None:
        steps = [s for s in code.steps if s.label.startswith("code.") and not s.kind.unchecked]
        if steps:
            held = sum(1 for s in steps if s.holds)
            sentences.append(f"The pre-scaled errors $E^l$ the kernel computes (the factor of the batch cost "
                             f"applied once, to the output error): {held} of {len(steps)} checks hold "
                             f"(\\hyperlink{{{layout.step_anchor(slug, steps[0].label)}}}{{proof log}}). "
                             + ("\\bpvok" if held == len(steps) else "\\bpvbad"))
    v = data.verification
    if v is not None:
        state = "all agree \\bpvok\\ " if v.ok else "\\textbf{they disagree} \\bpvbad\\ "
        sentences.append("The generated kernel, a hand-written backprop, finite differences and the complex step "
                         "(and PyTorch, where installed) compared on random instances: "
                         f"{state} (\\hyperlink{{{appendix_label(slug, 'verification')}}}{{the verification "
                         "appendix}).")
    out.append(layout.heading(level, "What else was checked"))
    out.append("\\begin{itemize}\n" + "\n".join(f"\\item {s}" for s in sentences) + "\n\\end{itemize}")
    return "\n\n".join(out)
