"""The "The model" section: the forward pass of this model's layers and its cost, per sample and per batch.

Each layer's equation comes from the activation's own derivation: an element-wise activation through the function
its definition names (sigma, tanh, ReLU, ...), a vector-valued one (softmax) through its definition step. The cost
is the definition part of the cost's derivation (:class:`~derive.core.steps.Role` ``COST``); its derivative steps
belong to the derivation section.
"""

from __future__ import annotations

import sympy as sp

from derive.core.book import book_latex
from derive.core.steps import Role, Step
from derive.core.symbols import a, b, u, w, z
from derive.core.texbuild import escape_tex
from derive.report import layout
from derive.report.data import ReportData
from derive.report.maths import L_OUT, L_SYM, J, K, batch_cost, batch_z, mat
from numeric.spec import ActSpec, ModelSpec

__all__ = ["COST_DERIVATIVE_STEPS", "cost_definition_steps", "cost_derivative_steps", "model_tex"]

#: The labels of the cost derivation's derivative steps (``<cost>.diff``, ``<cost>.dC_da``); the rest define it.
COST_DERIVATIVE_STEPS = (".diff", ".dC_da")


def cost_derivative_steps(data: ReportData) -> list[Step]:
    d = data.function(Role.COST)
    return [] if d is None else [s for s in d.steps if s.label.endswith(COST_DERIVATIVE_STEPS)]


def cost_definition_steps(data: ReportData) -> list[Step]:
    d = data.function(Role.COST)
    return [] if d is None else [s for s in d.steps if not s.label.endswith(COST_DERIVATIVE_STEPS)]


def model_tex(data: ReportData, level: str) -> str:
    """Forward pass (per unit, per layer of this model, per batch), then the Cost subsection."""
    spec = data.spec
    sub = layout.sub_level(level)
    zl = sp.Sum(w[L_SYM, J, K] * a[L_SYM - 1, K], (K, 1, sp.Symbol("n_{l-1}", integer=True, positive=True)))
    if spec.bias:
        zl = zl + b[L_SYM, J]
    out = [layout.heading(sub, "Forward pass"),
           "A sample $x$ enters as $a^0 = x$. Each layer forms weighted inputs and applies its activation "
           "unit by unit:",
           layout.display(z[L_SYM, J], zl, numbered=True),
           f"with the activations of this model ($j = 1, \\dots, n_l$ in each layer; "
           f"$n_0, \\dots, n_L = {escape_tex(spec.net.replace('-', ', '))}$):"]
    out.append(_layer_equations(spec))
    cols = spec.layout.columns
    out.append("For the whole batch at once (one column per sample)" if cols else
               "For the whole batch at once (one row per sample)")
    vector_out = not spec.output_activation.elementwise
    out.append(layout.display(mat("Z^{l}"), batch_z(spec), numbered=False)
               + "\nwith $A^0 = X$ and the activation applied element by element"
               + (", and softmax to each sample's output vector." if vector_out else "."))
    from derive.report.blocks import blocks_tex

    blocks = blocks_tex(spec, sub)
    if blocks:
        out.append(blocks)
    out.append(_cost_tex(spec, data, sub))
    return "\n\n".join(out)


#: element-wise layer equations set side by side, this many to a line
_PER_LINE = 3


def _layer_equations(spec: ModelSpec) -> str:
    """Every layer's activation equation: the element-wise ones side by side, a vector-valued one on its own."""
    out, row = [], []

    def flush() -> None:
        if row:
            lines = [" \\qquad ".join(row[i:i + _PER_LINE]) for i in range(0, len(row), _PER_LINE)]
            out.append("\\begin{gather*}\n" + " \\\\\n".join(lines) + "\n\\end{gather*}")
            row.clear()

    for l, act in enumerate(spec.activations, start=1):
        if act.entry.elementwise:
            normalised = spec.layers[l - 1].norm is not None  # the activation reads u^l (Past the dense layer)
            operand = u[l, J] if normalised else z[l, J]
            row.append(f"{book_latex(a[l, J])} = {book_latex(_act_function(act)(operand))}")
        else:
            flush()
            out.append(_layer_equation(spec, l, act))
    flush()
    return "\n".join(out)


def _layer_equation(spec: ModelSpec, l: int, act: ActSpec) -> str:
    """The definition of a vector-valued activation (softmax) at layer l."""
    from derive.functions.activations import derive_softmax

    step = derive_softmax(3).derivation["softmax.def"]
    return (layout.display(step.lhs.xreplace({L_OUT: l}), step.rhs.xreplace({L_OUT: l}), numbered=False)
            .replace("n}", f"{spec.sizes[l]}}}"))


def _act_function(act: ActSpec) -> sp.FunctionClass:
    """The function as its derivation names it (sigma, tanh, ReLU, ...): the SymPy registry's entry."""
    from derive.functions.registry import ACTIVATIONS

    return ACTIVATIONS[act.name].function


def _cost_intro(spec: ModelSpec) -> str:
    """How the cost comes about: derived from its likelihood (registry entry), or defined over the outputs."""
    from derive.functions.registry import COSTS

    entry = COSTS[spec.cost]
    if entry.likelihood is None:
        return f"The cost of one sample, defined over the $n = n_L = {spec.sizes[-1]}$ outputs:"
    return (f"{layout.sentence_case(entry.long_name)} is not written down: each output $a^L_k \\in (0, 1)$ is "
            "read as the probability that the target $y_k$ is 1, and the cost of an output is the negative "
            "logarithm of the Bernoulli likelihood of the target. The log rules turn it into the familiar form:")


def _cost_tex(spec: ModelSpec, data: ReportData, level: str) -> str:
    out = [layout.heading(level, "Cost"), _cost_intro(spec)]
    steps = cost_definition_steps(data)
    out.extend(_cost_step_tex(data, s, prev) for prev, s in zip([None, *steps], steps, strict=False))
    out.append(f"The batch of $m$ samples costs the {spec.reduction} of the per-sample costs:")
    out.append(layout.display(sp.Symbol("C"), batch_cost(spec), numbered=False))
    return "\n\n".join(out)


def _cost_step_tex(data: ReportData, step: Step, previous: Step | None) -> str:
    """A step of the cost's definition in the main text: its equation, why in one line, the linked verdict."""
    from derive.report.main_text import brief_tex

    anchor = layout.step_anchor(data.spec.slug, step.label)
    why = layout.prose(step.justification.strip().rstrip("."))
    if layout.prints_as(step, previous):
        return f"\\bpvbrief{{The textbook form is exactly this}}{{{layout.verdict_link(step, anchor)}}}"
    if step.kind.unchecked:
        eq = layout.display(step.lhs, step.rhs)
        return f"{eq}\n\\bpvbrief{{{layout.sentence_case(why)}}}{{}}"
    return brief_tex(step, layout.sentence_case(why), anchor)
