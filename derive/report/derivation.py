"""The derivation section and the one-line summary under the model card.

The model-function derivations come first, each headed by what its :class:`~derive.core.steps.Role` says it is
(an activation's derivative, the softmax Jacobian, the derivative of the cost, the output error delta^L); then the
parts of :func:`derive.backprop.model.derive_model` that are not those again (BP1-BP4, fixed widths, batch forms,
end to end), each under its own title.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from derive.core.book import book_latex
from derive.core.steps import Derivation, Role
from derive.core.texbuild import escape_tex
from derive.report import layout
from derive.report.data import DERIVATION, ReportData
from derive.report.named import named_step
from numeric.spec import ModelSpec

__all__ = ["derivation_tex", "summary_tex"]

_INTRO = ("This appendix is the derivation in full: every step the main text uses and every step behind them, "
          "in the order they were computed. Under each equation: what kind of step it is, why it is true, and how "
          "it was checked. A \\emph{symbolic} check reduced the difference of the two sides to zero; an \\emph{exact} "
          "one compared them at random rational points in exact arithmetic; a \\emph{numeric} one at random "
          "points to 30 or more digits (evidence, not proof).")


def derivation_tex(data: ReportData, level: str) -> str:
    """The model's functions by role, then derive_model's other parts (or why they are missing)."""
    sub = layout.sub_level(level)
    out = [_INTRO]
    out.extend(_FUNCTION_TEX.get(d.role, _plain)(d, data, sub) for d in data.functions)
    if data.parts is not None:
        out.extend(layout.derivation_tex(d, sub, steps=[named_step(s, data.spec) for s in d.steps],
                                         anchors=data.spec.slug) for d in data.model_parts)
    else:
        why = data.missing.get(DERIVATION, "not available")
        out.append(layout.missing_tex("BP1-BP4, fixed widths, batch forms, end to end", why))
    return "\n\n".join(out)


def _plain(d: Derivation, data: ReportData, level: str) -> str:
    return layout.derivation_tex(d, level, anchors=data.spec.slug)


def _activation(d: Derivation, data: ReportData, level: str) -> str:
    first = d.steps[0]
    title = f"The derivative ${book_latex(sp.Derivative(first.lhs, first.lhs.args[0]))}$ from the definition"
    return layout.derivation_tex(d, level, title_tex=title, intro="", anchors=data.spec.slug)


def _softmax(d: Derivation, data: ReportData, level: str) -> str:
    return layout.derivation_tex(d, level, title_tex="The softmax Jacobian", intro="",
                                 anchors=data.spec.slug)


def _cost(d: Derivation, data: ReportData, level: str) -> str:
    return layout.derivation_tex(d, level, title_tex="The cost and its derivative",
                                 anchors=data.spec.slug)


def _output_error(d: Derivation, data: ReportData, level: str) -> str:
    return layout.derivation_tex(d, level, title_tex="The output error $\\delta^L$", intro=_delta_intro(data.spec),
                                 anchors=data.spec.slug)


#: How each model-function derivation is headed, by role (any other role: under its own title).
_FUNCTION_TEX: dict[Role, Callable[[Derivation, ReportData, str], str]] = {
    Role.ACTIVATION: _activation,
    Role.SOFTMAX: _softmax,
    Role.COST: _cost,
    Role.OUTPUT_ERROR: _output_error,
}


def _delta_intro(spec: ModelSpec) -> str:
    if not spec.output_activation.elementwise:
        return ("Softmax is not element-wise: every output $a^L_i$ depends on every $z^L_j$, so $\\delta^L_j$ is a "
                "sum over the full Jacobian.")
    return ("The output layer's activation is element-wise, so $a^L_j$ depends on $z^L_j$ alone and the chain "
            "rule has one term (this is BP1).")


def summary_tex(data: ReportData, level: str) -> str:
    """Steps and verdicts in one small line: how many steps, whether they hold, the verification, the hash."""
    n_steps = sum(len(d) for d in data.functions) + sum(len(d) for d in data.model_parts)
    parts = [f"{n_steps} derivation steps, " + ("all hold" if data.holds else "\\textbf{not all hold}")]
    if data.verification is not None:
        parts.append("verification: " + ("all witnesses agree" if data.verification.ok else "\\textbf{fails}"))
    if data.derivation_hash:
        parts.append(f"derivation hash \\texttt{{{escape_tex(data.derivation_hash)}}}")
    text = "; ".join(parts) + "."
    if data.missing:
        text += " \\textcolor{bpvorange}{Incomplete: " + escape_tex(", ".join(data.missing)) + ".}"
    return f"{{\\small {text}}}"
