"""The model card and the Notation section: the symbols and shapes of *this* model, layout and reduction in words.

Every symbol is printed from SymPy (:mod:`derive.core.symbols`); every shape comes from the spec
(:meth:`numeric.spec.ModelSpec.param_shapes`), so the table is right for the layout and the widths of the model.
"""

from __future__ import annotations

import sympy as sp

from derive.core.book import book_latex
from derive.core.symbols import a, b, delta, w, y, z
from derive.core.texbuild import escape_tex
from derive.report import layout
from derive.report.data import ReportData
from derive.report.maths import L_SYM, J, K, batch_cost, batch_z, inline, mat, shape_tex
from derive.verification.rows import model_argument
from numeric.functions import TargetKind
from numeric.spec import ModelSpec

__all__ = ["card_tex", "notation_tex", "prose_name"]


def prose_name(text: str) -> str:
    """A model name or title: escaped verbatim (no maths detection: ``my_net`` stays ``my_net``)."""
    return escape_tex(text)


def card_tex(data: ReportData, level: str) -> str:
    """The model card: name, sizes, activations, cost, layout, parameters and the command line, as a table."""
    spec = data.spec
    acts = ", ".join(f"{i}: {escape_tex(str(act))}" for i, act in enumerate(spec.activations, start=1))
    rows = [
        ("model", prose_name(data.title)),
        ("layer sizes $n_0, \\dots, n_L$", escape_tex(spec.net.replace("-", ", "))),
        ("activations (layer: name)", acts),
        ("cost, reduction", f"{escape_tex(spec.cost)}, {escape_tex(spec.reduction)} over the batch"),
        ("layout, biases", f"samples as {escape_tex(spec.layout)} of $X$, "
                           f"{'with' if spec.bias else 'without'} biases"),
        ("parameters", f"{spec.n_params:,}".replace(",", "\\,")),
        ("command line", layout.tt("bpv report " + model_argument(spec))),
    ]
    if spec.description:
        rows.insert(1, ("description", escape_tex(spec.description)))
    from derive.report.blocks import blocks_card

    blocks = blocks_card(spec)
    if blocks is not None:
        rows.insert(-2, ("past the dense layer", blocks))
    body = "\n".join(f"{k} & {v} \\\\" for k, v in rows)
    return (f"\\begin{{center}}\\small\\begin{{tabular}}{{>{{\\raggedleft\\arraybackslash}}p{{0.25\\linewidth}}"
            f"p{{0.65\\linewidth}}}}\n\\toprule\n{body}\n\\bottomrule\n\\end{{tabular}}\\end{{center}}")


def notation_tex(data: ReportData, level: str) -> str:
    """The symbols table, then the layout, the reduction and the conventions in words."""
    return "\n\n".join([_symbols_table(data.spec), _notation_words(data.spec)])


def _symbols_table(spec: ModelSpec) -> str:
    n = spec.sizes
    shapes = spec.param_shapes()

    def per_layer(fn) -> str:
        return "; ".join(f"$l = {l}$: {shape_tex(fn(l))}" for l in range(1, spec.L + 1))

    def act_shape(l):
        return spec.layout.batch(n[l], "m")

    classes = spec.cost_entry.target is TargetKind.CLASSES
    rows = [
        (inline(a[0, K]), f"{inline(mat('X'))}, {inline(mat('A^{0}'))}",
         "input of one sample; the batch of $m$ samples", shape_tex(spec.x_shape("m"))),
        (inline(w[L_SYM, J, K]), inline(mat("W^{l}")),
         "weight from unit $k$ of layer $l-1$ to unit $j$ of layer $l$", per_layer(lambda l: shapes[f"W{l}"])),
    ]
    if spec.bias:
        rows.append((inline(b[L_SYM, J]), inline(mat("b^{l}")), "bias of unit $j$ of layer $l$ (broadcast over the "
                     "batch)", per_layer(lambda l: shapes[f"b{l}"])))
    rows += [
        (inline(z[L_SYM, J]), inline(mat("Z^{l}")), "weighted input of unit $j$ of layer $l$", per_layer(act_shape)),
        (inline(a[L_SYM, J]), inline(mat("A^{l}")), "activation of unit $j$ of layer $l$", per_layer(act_shape)),
        (inline(y[J]), inline(mat("Y")), "target" + (" (one-hot, or integer labels)" if classes else ""),
         shape_tex(spec.y_shape("m"))),
        (f"{inline(delta[L_SYM, J])} $=$ {inline(sp.Derivative(sp.Symbol('C_x'), z[L_SYM, J]))}",
         inline(mat("Delta^{l}")),
         "error of unit $j$ of layer $l$, for one sample, unscaled; $\\Delta^l$ stacks the batch's $\\delta$'s",
         per_layer(act_shape)),
        (inline(sp.Symbol("C_x")), inline(mat("C")), "cost of one sample $x$; cost of the batch", "scalar"),
    ]
    return layout.table_tex(
        ["element", "batch", "meaning", "shape in this model"],
        [list(r) for r in rows],
        ">{\\centering\\arraybackslash}p{0.13\\linewidth}>{\\centering\\arraybackslash}p{0.1\\linewidth}"
        "p{0.38\\linewidth}p{0.28\\linewidth}",
    )


def _layout_words(spec: ModelSpec) -> str:
    cols = spec.layout.columns
    z_eq = f"${book_latex(mat('Z^{l}'))} = {book_latex(batch_z(spec))}$"
    added = (f", with $b^l$ added to every {'column' if cols else 'row'}." if spec.bias
             else " (this model has no biases).")
    if cols:
        return ("Samples are the \\emph{columns} of $X$: $X$ is $n_0 \\times m$, $W^l$ is $n_l \\times n_{l-1}$ and "
                f"a batch is processed as {z_eq}{added}")
    return ("Samples are the \\emph{rows} of $X$, as row-major code writes it: $X$ is $m \\times n_0$, $W^l$ is "
            f"$n_{{l-1}} \\times n_l$ (the transpose of the book's $W^l$) and a batch is processed as {z_eq}{added}")


def _reduction_words(spec: ModelSpec) -> str:
    c_eq = f"${book_latex(sp.Symbol('C'))} = {book_latex(batch_cost(spec))}$"
    if spec.reduction == "mean":
        return (f"The batch cost is the \\emph{{mean}} of the per-sample costs, {c_eq}, so every gradient carries "
                "one factor $\\frac{1}{m}$; code that scales $\\Delta^L$ by $\\frac1m$ first must then \\emph{sum} "
                "over the batch, not average again.")
    return f"The batch cost is the \\emph{{sum}} of the per-sample costs, {c_eq}: no factor $\\frac1m$ appears."


def _notation_words(spec: ModelSpec) -> str:
    return (
        f"Layers are numbered $l = 1, \\dots, L$ with $L = {spec.L}$; layer $0$ is the input. Units are numbered "
        "from 1, as in the book, and every quantity of layer $l$ carries $l$ as a superscript. "
        f"{_layout_words(spec)} {_reduction_words(spec)} "
        "$\\delta^l_j$ always means the error of a unit; the indicator $\\mathbf{1}_{\\{\\cdot\\}}$ is used "
        "for Kronecker deltas and step functions, and ReLU$'(0) = 0$, as PyTorch does."
    )
