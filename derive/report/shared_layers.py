"""What the layers of a shared-weight model compute: each forward from its derivation, with a picture.

The equations are the definition steps of :func:`derive.backprop.model.derive_model`'s layer parts (``conv.Y``,
``pool.P``, ``rnn.a`` ... ``rnn.C``), printed by :func:`derive.report.layout.step_tex`; the pictures are drawn by
:mod:`derive.report.pictures` from the spec's own sizes (the input, the kernel, stride, padding, output, T). A
missing derivation leaves a box where its equations would be; the pictures need only the spec.
"""

from __future__ import annotations

import sympy as sp

from derive.core.book import book_latex
from derive.report import layout
from derive.report.data import DERIVATION, ReportData
from derive.report.pictures import ConvPicture, conv_window_tikz, pool_window_tikz, rnn_unrolled_tikz
from derive.report.shared_steps import DISPLAY_NAMES, find_part, find_step, rnn_steps_derived
from numeric.conv import Conv2d, Flatten, MaxPool2d

__all__ = ["conv_layers_tex", "rnn_layers_tex", "stages_table_tex"]


def _shape(shape: tuple[int, ...]) -> str:
    return "$" + " \\times ".join(str(n) for n in shape) + "$"


def _steps_tex(data: ReportData, subject: str, labels: tuple[str, ...]) -> list[str]:
    """The named steps of the part about ``subject``, or a box saying why they are missing."""
    part = find_part(data.parts, subject)
    steps = [find_step(part, label) for label in labels]
    if part is None or any(s is None for s in steps):
        why = data.missing.get(DERIVATION, f"the derivation has no {subject} part with {', '.join(labels)}")
        return [layout.missing_tex(f"The equations of {subject}", why)]
    return [layout.step_tex(s, prev) for prev, s in zip([None, *steps], steps, strict=False)]


def _figure(data: ReportData, tikz: str) -> str:
    return "\\begin{center}\n" + data.figure(tikz) + "\n\\end{center}"


def _stage_row(spec, layer, shape: tuple[int, ...]) -> list[str]:
    if isinstance(layer, Conv2d):
        act = spec.conv_act(layer)
        what = (f"${layer.c_out}$ kernels ${layer.c_in} \\times {layer.k} \\times {layer.k}$, stride "
                f"${layer.stride}$, padding ${layer.pad}$, then {layout.prose(str(act))}")
        name = f"convolution {layer.index}"
    elif isinstance(layer, MaxPool2d):
        what, name = f"max of each ${layer.k} \\times {layer.k}$ window, stride ${layer.stride}$", "max-pool"
    elif isinstance(layer, Flatten):
        what, name = "one vector per sample (C order)", "flatten"
    else:
        what = f"${layer.n_in} \\to {layer.n_out}$, then {layout.prose(str(layer.act))}"
        name = f"dense {layer.index}"
    params = ", ".join(f"{layout.tt(n)} {_shape(s)}" for n, s in layer.param_shapes(spec.layout).items()) or "--"
    return [name, what, _shape(shape), params]


def stages_table_tex(spec) -> str:
    """The network stage by stage: what each computes, its output for one sample, its parameters."""
    shapes = spec.shapes()
    rows = [["input", "one sample", _shape(shapes[0]), "--"]]
    rows += [_stage_row(spec, layer, shape) for layer, shape in zip(spec.layers, shapes[1:], strict=True)]
    return layout.table_tex(["stage", "computes", "output", "parameters"], rows,
                            ">{\\raggedright\\arraybackslash}p{0.15\\linewidth}>{\\raggedright\\arraybackslash}"
                            "p{0.38\\linewidth}p{0.12\\linewidth}>{\\raggedright\\arraybackslash}p{0.22\\linewidth}")


def _out_tex(data: ReportData) -> str:
    step = find_step(find_part(data.parts, "conv2d"), "conv.Y")
    return book_latex(step.lhs) if step is not None else "Y"


def _conv_tex(data: ReportData, layer: Conv2d, shape: tuple[int, ...], first: bool, level: str) -> list[str]:
    c, h, w = shape
    pic = ConvPicture(c, h, w, layer.c_out, layer.k, layer.stride, layer.pad, _out_tex(data))
    size = (f"Here the input is ${c} \\times {h} \\times {w}$, padded by ${layer.pad}$ to ${h + 2 * layer.pad} "
            f"\\times {w + 2 * layer.pad}$; each of the ${layer.c_out}$ kernels (${c} \\times {layer.k} \\times "
            f"{layer.k}$) moves ${layer.stride}$ step{'s' if layer.stride > 1 else ''} at a time, so the output is "
            f"${layer.c_out} \\times {pic.out_h} \\times {pic.out_w}$ (the number of window positions in each "
            "direction, as the definition's justification says).")
    out = [layout.heading(level, f"Convolution {layer.index}")]
    if first:
        out.append("Each output entry is a bias plus the sum of one kernel times the input window under it, over "
                   "every input channel; the same kernel is used at every position (the weights are shared).")
        out += _steps_tex(data, "conv2d", ("conv.Y",))
    out += [_figure(data, conv_window_tikz(pic)), size]
    if first:
        out.append("To differentiate a convolution once for every cost, the derivation writes a cost whose "
                   "gradient with respect to $Y$ is an arbitrary array $G$; the backward is then read off from "
                   "it (the key steps below):")
        out += _steps_tex(data, "conv2d", ("conv.cost",))
    return out


def _pool_tex(data: ReportData, layer: MaxPool2d, shape: tuple[int, ...], first: bool, level: str) -> list[str]:
    c, h, w = shape
    out = [layout.heading(level, "Max-pooling")]
    if first:
        out.append("Each output entry is the largest entry of its window; the windows tile each channel. No "
                   "parameters: the backward only has to route the gradient.")
        out += _steps_tex(data, "maxpool2d", ("pool.P",))
    out.append(_figure(data, pool_window_tikz(c, h, w, layer.k, layer.stride)))
    return out


def conv_layers_tex(data: ReportData, level: str) -> str:
    """The stages, then each convolution and pool with its definition and picture, then flatten and the head."""
    spec, sub = data.spec, layout.sub_level(level)
    shapes = spec.shapes()
    out = [stages_table_tex(spec)]
    seen: set[type] = set()
    for layer, shape in zip(spec.layers, shapes[:-1], strict=True):
        if isinstance(layer, Conv2d):
            out += _conv_tex(data, layer, shape, Conv2d not in seen, sub)
        elif isinstance(layer, MaxPool2d):
            out += _pool_tex(data, layer, shape, MaxPool2d not in seen, sub)
        seen.add(type(layer))
    head = spec.dense
    widths = " \\to ".join(str(n) for n in [head[0].n_in, *(x.n_out for x in head)])
    out.append(layout.heading(sub, "Flatten and the dense head"))
    out.append(f"Flatten lays each sample out as one vector of ${head[0].n_in}$ numbers (channel by channel, row by "
               "row); its backward only reshapes the gradient back. The dense layers after it are a plain dense "
               f"network (${widths}$): BP1--BP4 "
               "and its batch forms are derived for it in the step-by-step derivation below, and its input "
               "gradient is what flows back into the pools and convolutions.")
    return "\n\n".join(out)


def _rnn_labels(data: ReportData) -> dict[str, str]:
    """The TeX of W_xh, W_hh, W_hy as the forward's definition steps name them (for the picture)."""
    part = find_part(data.parts, "rnn")
    found: dict[str, str] = {}
    for label in ("rnn.a", "rnn.z"):
        step = find_step(part, label)
        for m in (step.rhs.atoms(sp.MatrixSymbol) if step is not None else ()):
            for code, shown in DISPLAY_NAMES.items():
                if str(m.name) == shown:
                    found[code] = book_latex(m)
    return found


def _params_table(spec) -> str:
    roles = {"Wxh": "input to hidden", "Whh": "hidden to hidden: the same matrix at every step", "bh": "hidden bias",
             "Why": "hidden to output", "by": "output bias"}
    rows = [[layout.tt(n), _shape(s), roles.get(n, "")] for n, s in spec.param_shapes().items()]
    return layout.table_tex(["parameter", "shape", "role"], rows, "llp{0.5\\linewidth}")


def rnn_layers_tex(data: ReportData, level: str) -> str:
    """The forward of one step (definition steps), the unrolled picture at the spec's T, the parameters."""
    spec = data.spec
    part = find_part(data.parts, "rnn")
    T_derived = rnn_steps_derived(part)
    out = [f"One step reads a token $x_t$ (a one-hot column of ${spec.vocab}$), updates the state $h_t$ "
           f"(${spec.hidden}$ tanh units) from $h_{{t-1}}$, and predicts the next token with a softmax $p_t$. "
           "Every step uses the same parameters:",
           _params_table(spec)]
    out += _steps_tex(data, "rnn", ("rnn.a", "rnn.h", "rnn.z", "rnn.p", "rnn.C"))
    if part is not None and T_derived:
        out.append(f"The derivation unrolls ${T_derived}$ steps at the small sizes of its title "
                   f"({layout.prose(part.title.split('(')[-1].rstrip(')'))}): the forms are the same at every size "
                   f"and length. This network runs at $T = {spec.steps}$; the verification below checks its own "
                   "sizes.")
    out.append("Unrolled, the network is a chain: the forward runs left to right, backpropagation through time "
               "right to left, each state receiving the gradient from its own output and, as $dh_{\\mathrm{next}}$, "
               "from the step after it.")
    out.append(_figure(data, rnn_unrolled_tikz(spec.steps, _rnn_labels(data))))
    return "\n\n".join(out)
