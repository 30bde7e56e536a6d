"""The report of a model with shared weights (a convolutional net, a vanilla RNN): a chapter of its own.

A dense model's report (:data:`derive.report.sections.SECTIONS`) is built around BP1-BP4, its notation card and
plots of its activations; none of that describes a convolution or a recurrence. :data:`SHARED_SECTIONS` is the
chapter for ``spec.kind`` ``conv`` and ``rnn`` (:func:`sections_for` dispatches):

=========================  ===================================================================================
(card, summary)            what the network is (stages, sizes, parameters, command line); steps and verdicts
What the layers compute    each layer's forward from its derivation's definition steps, with a picture drawn from
                           the spec's sizes (:mod:`derive.report.pictures`): the kernel sliding over the padded
                           input, the pooling windows, the RNN unrolled over T steps
The key steps              the results to remember (:mod:`derive.report.shared_steps`), each with a sentence on
                           why it has that shape, its equation and how strongly it was established
A Proof log                every step of every part of :func:`derive.backprop.model.derive_model`
B Verification             :func:`derive.verification.verify_model`'s rows
C The generated kernel     the listing, where the generator serves this spec
D Reproduce                the commands that recompute it
=========================  ===================================================================================

Every equation is a step of the derivation printed by :func:`derive.report.layout.step_tex` (through
:func:`~derive.report.shared_steps.printable`, which only renames symbols for the page). A part that is missing
(the derivation failed, the kernel generator does not serve the spec yet) is a visible box, never a crash.
"""

from __future__ import annotations

import dataclasses

from derive.core.texbuild import escape_tex
from derive.report import layout
from derive.report.appendix import reproduce_tex
from derive.report.data import DERIVATION, KERNEL, PROOF_LOG, REPRODUCE, VERIFICATION, ReportData
from derive.report.derivation import derivation_tex, summary_tex
from derive.report.evidence import verification_tex
from derive.report.notation import prose_name
from derive.report.sections import SECTIONS, Section
from derive.report.shared_layers import conv_layers_tex, rnn_layers_tex
from derive.report.shared_steps import (
    CONV_KEY_STEPS,
    POOL_KEY_STEPS,
    KeyStep,
    find_part,
    find_step,
    printable,
    rnn_key_steps,
    strength_words,
)
from numeric.conv import MaxPool2d

__all__ = ["KEY_STEPS_TITLE", "LAYERS_TITLE", "SHARED_SECTIONS", "key_steps_tex", "sections_for", "shared_card_tex"]

LAYERS_TITLE = "What the layers compute"
KEY_STEPS_TITLE = "The key steps"


def kind_of(spec: object) -> str:
    return getattr(spec, "kind", "dense")


def printable_data(data: ReportData) -> ReportData:
    """``data`` with its derivation parts printable (a shallow copy: figures still register on ``data``)."""
    if data.parts is None:
        return data
    return dataclasses.replace(data, parts=[printable(d) for d in data.parts], figures=data.figures)


def _shape(shape: tuple[int, ...]) -> str:
    return "$" + " \\times ".join(str(n) for n in shape) + "$"


def _params_tex(spec) -> str:
    return ", ".join(f"{layout.tt(name)} {_shape(shape)}" for name, shape in spec.param_shapes().items())


def shared_card_tex(data: ReportData, level: str) -> str:
    """The model card: name, what it is, sizes, cost, parameters and the command line."""
    spec = data.spec
    if kind_of(spec) == "rnn":
        rows = [("network", f"vanilla RNN, vocabulary $V = {spec.vocab}$, $n_h = {spec.hidden}$ tanh hidden units, "
                            f"unrolled over $T = {spec.steps}$ steps"),
                ("cost", "softmax and cross-entropy at every step, summed over time, mean over the sequences")]
    else:
        shapes = spec.shapes()
        rows = [("network", layout.tt(spec.net)),
                ("shapes (one sample)", " $\\to$ ".join(_shape(s) for s in shapes)),
                ("activations", escape_tex(", ".join(str(a) for a in spec.activations))),
                ("cost, reduction", f"{escape_tex(spec.cost)}, {escape_tex(spec.reduction)} over the batch")]
    rows = [("model", prose_name(data.title)), *rows,
            ("parameters", f"{spec.n_params:,}".replace(",", "\\,") + f": {_params_tex(spec)}"),
            ("command line", layout.tt("bpv report " + (spec.name or spec.cli_args())))]
    if spec.description:
        rows.insert(1, ("description", escape_tex(spec.description)))
    body = "\n".join(f"{k} & {v} \\\\" for k, v in rows)
    return (f"\\begin{{center}}\\small\\begin{{tabular}}{{>{{\\raggedleft\\arraybackslash}}p{{0.22\\linewidth}}"
            f">{{\\raggedright\\arraybackslash}}p{{0.68\\linewidth}}}}\n\\toprule\n{body}\n\\bottomrule\n"
            "\\end{tabular}\\end{center}")


def layers_tex(data: ReportData, level: str) -> str:
    """The forward of each layer (definition steps) and its picture."""
    pdata = printable_data(data)
    if kind_of(data.spec) == "rnn":
        return rnn_layers_tex(pdata, level)
    return conv_layers_tex(pdata, level)


def _key_step_tex(key: KeyStep, d, level: str, data_slug: str) -> str:
    step = find_step(d, key.label)
    if step is None:
        return layout.missing_tex(key.title, f"the derivation has no step {key.label}")
    verdict = strength_words(step)
    colour = "bpvgreen" if step.holds is True else "bpvred"
    head = layout.heading(level, f"{escape_tex(key.title)} {{\\normalfont\\small\\textcolor{{{colour}}}"
                                 f"{{({escape_tex(verdict)})}}}}", bookmark=key.title, star=True)
    anchor = layout.step_anchor(data_slug, step.label)
    link = f"{{\\small\\color{{bpvgrey}}Its derivation: \\hyperlink{{{anchor}}}{{the proof log}}.}}"
    return "\n\n".join([head, key.why, layout.step_tex(step), link])


def _key_list(data: ReportData) -> list[tuple[KeyStep, object]]:
    parts = printable_data(data).parts
    if kind_of(data.spec) == "rnn":
        rnn = find_part(parts, "rnn")
        return [(k, rnn) for k in rnn_key_steps(rnn)]
    conv, pool = find_part(parts, "conv2d"), find_part(parts, "maxpool2d")
    keys = [(k, conv) for k in CONV_KEY_STEPS]
    if any(isinstance(x, MaxPool2d) for x in data.spec.layers):  # a missing pool part is then a visible box
        keys += [(k, pool) for k in POOL_KEY_STEPS]
    return keys


def key_steps_tex(data: ReportData, level: str) -> str:
    """The results to remember, each with why it has its shape, its equation and its check."""
    if data.parts is None:
        return layout.missing_tex("The key steps", data.missing.get(DERIVATION, "the derivation is not available"))
    keys = _key_list(data)
    if not keys:
        return layout.missing_tex("The key steps", "the derivation has no layer part for this network")
    intro = ("The results of the derivation to remember. Each is a textbook form, stated as a \\emph{claim} and "
             "compared with what SymPy derived from the definition; the heading says how strongly it was "
             "established, the line under the equation how it was checked.")
    sub = layout.sub_level(level)
    return "\n\n".join([intro, *(_key_step_tex(k, d, sub, data.spec.slug) for k, d in keys)])


def shared_derivation_tex(data: ReportData, level: str) -> str:
    """Every step of every part, printable."""
    return derivation_tex(printable_data(data), level)


def shared_kernel_tex(data: ReportData, level: str) -> str:
    if data.kernel_source is None:
        return layout.missing_tex("The kernel listing", data.missing.get(KERNEL, "not available"))
    intro = (f"The NumPy module below is {escape_tex(data.kernel_origin)}: the forward pass and, layer by layer "
             "from the output back, the backward forms of the derivation above.")
    return "\n\n".join([intro, layout.kernel_tex(data.kernel_source)])


#: The sections of a shared-weight model's report, in order.
SHARED_SECTIONS: tuple[Section, ...] = (
    Section("card", None, shared_card_tex),
    Section("summary", None, summary_tex),
    Section("layers", LAYERS_TITLE, layers_tex),
    Section("key steps", KEY_STEPS_TITLE, key_steps_tex),
    Section("derivation", PROOF_LOG, shared_derivation_tex, appendix=True, label="proof"),
    Section("verification", VERIFICATION, verification_tex, appendix=True, label="verification"),
    Section("kernel", KERNEL, shared_kernel_tex, appendix=True, label="kernel"),
    Section("reproduce", REPRODUCE, reproduce_tex, appendix=True, label="reproduce"),
)


def sections_for(spec: object) -> tuple[Section, ...]:
    """The report sections of ``spec``: the dense ones, or the shared-weight chapter (``spec.kind``)."""
    return SECTIONS if kind_of(spec) == "dense" else SHARED_SECTIONS

