"""The derivation as the main text reads it: the results in book order, one line of justification each.

Nielsen's chapter 2 proof is the model: the derivatives of the functions the model uses, the output error, then
BP1-BP4 (each from the chain rule in one step and its result), with the batch forms of *this* model and their
shapes beside the index form. Every equation is a step of the derivation (printed from its SymPy objects, each
concrete layer's activation by name); the line under it says in words why it holds, how strongly it was
established, and its mark links to the step's entry in the proof log (:mod:`derive.report.appendix`), where the
method, the instances and the precision are. The parts that are only evidence (the fixed-width recomputation, the
end-to-end comparison, the code's pre-scaled errors) get one sentence each with their verdict and a link.
"""

from __future__ import annotations

from dataclasses import dataclass

from derive.core.steps import Role, Step
from derive.report import layout
from derive.report.data import DERIVATION, ReportData
from derive.report.model import cost_derivative_steps

__all__ = ["MAIN_DERIVATION", "Line", "brief_tex", "derivation_main_tex", "functions_tex", "strength_phrase"]

MAIN_DERIVATION = "The derivation"

_INTRO = ("Every equation below was computed by SymPy from the definitions, or is a textbook form compared with a "
          "computed one. The line under an equation says why it holds and how strongly that was established; "
          "its mark links to the step's entry in the \\hyperlink{<<PROOF>>}{proof log} (the first appendix), which "
          "gives the method, the instances and the precision of the check.")


@dataclass(frozen=True)
class Line:
    """A step shown in the main text: its label in the derivation and one line of justification in words.

    ``why`` is TeX written here: words and single symbols only; the formula is the step's own equation.
    """

    label: str
    why: str


def strength_phrase(step: Step) -> str:
    """How strongly a step was established, in two or three words (symbolic for all sizes, exhaustive, ...)."""
    if step.kind.unchecked or step.check is None:
        return step.kind.value
    if step.holds is not True:
        return "does not hold" if step.holds is False else "undecided"
    method = step.check.method
    if method.startswith(("element-wise", "instantiated")) or ("in all" in method and "cases" in method):
        return "exhaustive at stated sizes"
    if method.startswith("evaluation") or step.check.strength is None or not step.check.strength.proof:
        return "numeric, 30+ digits"
    if "exact" in str(step.check.strength):
        return "exact"
    return "symbolic, all sizes" if "all widths" in method or "for all" in method else "symbolic"


def brief_tex(step: Step, why: str, anchor: str, *, numbered: bool = True) -> str:
    """One step of the main text: its equation, then the line of justification and the linked verdict."""
    tag = layout.bp_tag(step.label)
    eq = layout.display(step.lhs, step.rhs, tag=tag if tag == step.label else None, numbered=numbered)
    mark = layout.verdict_link(step, anchor, strength_phrase(step))
    return f"{eq}\n\\bpvbrief{{{layout.sentence_case(why)}}}{{{mark}}}"


# ----- the functions -----------------------------------------------------------------------------------------
def _activation_lines(data: ReportData) -> list[str]:
    """Each activation: its definition, then its derivative in the closed form it was shown to equal."""
    out = []
    for d in data.functions:
        if d.role is not Role.ACTIVATION or not d.steps:
            continue
        definition = d.steps[0]
        closed = next((s for s in d.steps if s.label.endswith(".closed")), None)
        derived = next((s for s in d.steps if s.label.endswith(".diff")), None)
        pieces = [layout.display(definition.lhs, definition.rhs, numbered=False)]
        shown = closed if closed is not None and closed.holds else derived
        if shown is not None:
            why = ("differentiate the definition; the result equals the textbook closed form" if shown is closed
                   else "differentiate the definition")
            pieces.append(brief_tex(shown, why, layout.step_anchor(data.spec.slug, shown.label), numbered=False))
        out.append("\n".join(pieces))
    return out


def _cost_lines(data: ReportData) -> list[str]:
    steps = cost_derivative_steps(data)
    if not steps:
        return []
    last = steps[-1]
    why = ("differentiate the cost of one sample with respect to one output: only the term of that output "
           "depends on it")
    return [brief_tex(last, why, layout.step_anchor(data.spec.slug, last.label))]


def _output_error_lines(data: ReportData) -> list[str]:
    d = data.function(Role.OUTPUT_ERROR)
    if d is None or not d.steps:
        return []
    last = d.steps[-1]
    why = ("the cost's derivative times the output activation's derivative, as BP1 below says"
           if data.spec.output_activation.elementwise else
           "the cost's derivative through the softmax Jacobian: every output depends on every $z^L_j$")
    return [brief_tex(last, why, layout.step_anchor(data.spec.slug, last.label))]


def functions_tex(data: ReportData, level: str) -> str:
    """The derivatives the four equations need: each activation's, the cost's, and the output error."""
    out = [layout.heading(level, "What the four equations need")]
    acts = _activation_lines(data)
    if acts:
        out.append("Each activation of the model, defined and differentiated:")
        out.extend(acts)
    cost = _cost_lines(data)
    if cost:
        out.append("The cost's derivative with respect to an output activation:")
        out.extend(cost)
    err = _output_error_lines(data)
    if err:
        out.append("and so the error of the output layer, for one sample:")
        out.extend(err)
    return "\n\n".join(out)


def derivation_main_tex(data: ReportData, level: str) -> str:
    """The main text's derivation: functions, BP1-BP4 with the batch forms, and the evidence in one paragraph."""
    from derive.report.appendix import appendix_label
    from derive.report.main_bp import bp_tex, evidence_tex

    sub = layout.sub_level(level)
    out = [_INTRO.replace("<<PROOF>>", appendix_label(data.spec.slug, "proof")), functions_tex(data, sub)]
    if data.parts is None:
        why = data.missing.get(DERIVATION, "not available")
        out.append(layout.missing_tex("BP1-BP4, fixed widths, batch forms, end to end", why))
        return "\n\n".join(out)
    out.append(bp_tex(data, sub))
    out.append(evidence_tex(data, sub))
    return "\n\n".join(out)

