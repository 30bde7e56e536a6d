"""``bpv report`` as a library: gather a model's derivation, kernel, verification and plots, and write the PDF.

A model's report has six sections, each built from the results of another module (nothing is recomputed here and
nothing is typeset by hand: every equation is a SymPy object printed by :func:`derive.core.book.book_latex`):

========================  =====================================================================================
Notation                  symbols and shapes of *this* model (from the spec); layout and reduction in words
The model                 forward pass and cost (bce from the Bernoulli likelihood: :mod:`derive.functions.costs`)
The derivation            sigma' per activation, dC/da, delta^L (:mod:`derive.backprop.model_functions`), then the parts
                          of :func:`derive.backprop.model.derive_model` (BP1-BP4, fixed widths, batch forms,
                          end to end), each step with its justification and how it was checked
The generated kernel      :func:`derive.codegen.kernel.generate_kernel_source`, as a listing
Verification              :func:`derive.verification.engine.verify_model` (cached), one row per witness pair and block
Plots                     :mod:`derive.report.plots`: finite-difference error against h; each activation and f'
========================  =====================================================================================

:func:`build_reports` writes one PDF per model and, for more than one model, a combined catalog PDF (a book: one
chapter per model and a chapter of computational-graph examples from :mod:`derive.graph.tex`). PDFs are compiled
by :func:`derive.core.texbuild.compile_pdf` (atomic; the previous PDF survives a LaTeX error; the ``.tex`` is kept
beside it). Each model's plots are typeset once, into ``<name>-figures.pdf`` beside its report, and included as
pages by the model's PDF and the book (pgfplots is not re-run in every LaTeX pass); ``--no-pdf`` writes the plots
inline instead, so each ``.tex`` compiles on its own. A section whose source module is not available says so in the
PDF and in :attr:`Rendered.missing`.

This module is not a LaTeX layout engine (:mod:`derive.report.sections` is) and computes no derivative itself.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import multiprocessing
import os
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sympy as sp

from derive.core.book import book_latex
from derive.core.steps import Derivation
from derive.core.symbols import a, b, delta, w, y, z
from derive.core.texbuild import TexError, TexMissing, compile_pdf, escape_tex
from derive.report import sections as rt
from numeric.spec import ModelSpec

__all__ = [
    "SECTIONS",
    "FigureFile",
    "Outcome",
    "Rendered",
    "build_reports",
    "catalog_document",
    "compile_figures",
    "model_document",
    "place_figures",
    "prose_name",
    "render_model",
    "write_document",
]

#: The headings of a model's report, in order (tests look for them in the PDF's text).
SECTIONS = ("Notation", "The model", "The derivation, step by step", "The generated kernel", "Verification",
            "Plots")
COMBINED_NAME = "catalog"
Say = Callable[[str], None]


@dataclass
class Rendered:
    """One model's report body, rendered; plain data so it crosses process boundaries."""

    spec: ModelSpec
    title: str
    body: str  # sections at \\section level: the same body serves the article and a chapter of the book
    holds: bool | None = None  # the derivation (None: not available)
    verified: bool | None = None  # the verification (None: not available)
    missing: dict[str, str] = field(default_factory=dict)  # section -> why it is missing or incomplete
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    figures: dict[str, str] = field(default_factory=dict)  # key -> tikzpicture; the body holds <<FIG:key>>

    @property
    def ok(self) -> bool:
        return not self.errors and self.holds is not False and self.verified is not False


@dataclass
class Outcome:
    """What happened to one output file."""

    path: Path
    pdf: bool
    ok: bool
    message: str = ""
    no_engine: bool = False  # no TeX engine: the .tex was written, no PDF


# ----- gathering ---------------------------------------------------------------------------------------------
@dataclass
class _Data:
    spec: ModelSpec
    title: str
    functions: list[Derivation]
    parts: list[Derivation] | None = None
    derivation_hash: str = ""
    kernel_source: str | None = None
    kernel_origin: str = ""
    verification: object | None = None
    fd: dict | None = None
    curves: list = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)

    def figure(self, tikz: str) -> str:
        """Register a tikzpicture; returns the placeholder the document assembly replaces."""
        key = hashlib.sha256(tikz.encode()).hexdigest()[:12]
        self.figures[key] = tikz
        return f"<<FIG:{key}>>"


def _why(exc: BaseException) -> str:
    if isinstance(exc, ImportError):
        return f"not available yet ({exc})"
    return f"{type(exc).__name__}: {exc}"


def _gather(spec: ModelSpec, title: str, *, seed: int, use_cache: bool, say: Say) -> _Data:
    from derive.backprop.model_functions import model_function_derivations
    from derive.report.plots import activation_curve

    model = spec.name or spec.title
    data = _Data(spec, title, model_function_derivations(spec))
    say(f"{model}: derivation")
    try:
        from derive.backprop.model import derive_model

        md = derive_model(spec, use_cache=use_cache)
        data.parts = list(md.parts)
        data.derivation_hash = md.hash()
    except ImportError as exc:
        data.missing["The derivation, step by step"] = (
            "BP1-BP4, the fixed-width check, the batch forms and the end-to-end check come from "
            f"derive.backprop.model, which is {_why(exc)}")
    except Exception as exc:  # a crash is reported in the PDF and fails the run; it does not stop the report
        data.errors.append(f"derivation: {_why(exc)}")
        data.missing["The derivation, step by step"] = f"derive_model failed: {_why(exc)}"
    say(f"{model}: kernel")
    try:
        from derive.codegen.kernel import generate_kernel_source

        data.kernel_source = generate_kernel_source(spec)
        data.kernel_origin = "generated by derive.codegen.kernel.generate_kernel_source"
    except Exception as exc:
        shipped = Path(__file__).resolve().parents[2] / "numeric" / "kernels" / f"{spec.slug}.py"
        if spec.name and shipped.is_file():
            data.kernel_source = shipped.read_text(encoding="utf-8")
            data.kernel_origin = f"the shipped kernel numeric/kernels/{shipped.name}"
        else:
            data.missing["The generated kernel"] = f"the kernel generator (derive.codegen.kernel) is {_why(exc)}"
            if not isinstance(exc, ImportError):
                data.errors.append(f"kernel: {_why(exc)}")
    say(f"{model}: verification")
    try:
        from derive.verification.engine import verify_model

        data.verification = verify_model(spec, seed=seed, use_cache=use_cache)
    except Exception as exc:
        data.missing["Verification"] = f"derive.verification.engine could not run: {_why(exc)}"
        if not isinstance(exc, ImportError):
            data.errors.append(f"verification: {_why(exc)}")
    say(f"{model}: plots")
    try:
        from derive.report.plots import fd_curve

        data.fd = fd_curve(spec, seed=seed)
    except Exception as exc:
        data.missing["Plots"] = f"the finite-difference error plot needs numeric.finite_diff: {_why(exc)}"
        if not isinstance(exc, ImportError):
            data.errors.append(f"finite-difference plot: {_why(exc)}")
    seen = []
    for act in spec.activations:
        if act not in seen:
            seen.append(act)
            data.curves.append(activation_curve(act))
    return data


# ----- sections ----------------------------------------------------------------------------------------------
def _lower(level: str, by: int = 1) -> str:
    return rt.LEVELS[rt.LEVELS.index(level) + by]


def _m(expr) -> str:
    """Inline math of a SymPy object."""
    return f"${book_latex(expr)}$"


def _shape_tex(shape: tuple[int | str, ...]) -> str:
    return "$" + " \\times ".join(str(s) for s in shape) + "$"


_J, _K, _L_SYM, _X = sp.symbols("j k l x", integer=True, positive=True)
_M = sp.Symbol("m", integer=True, positive=True)
_LL = sp.Symbol("L", integer=True, positive=True)


def _mat(name: str) -> sp.MatrixSymbol:
    return sp.MatrixSymbol(name, 1, 1)


def _card(spec: ModelSpec, title: str) -> str:
    acts = ", ".join(f"{i}: {escape_tex(str(act))}" for i, act in enumerate(spec.activations, start=1))
    rows = [
        ("model", prose_name(title)),
        ("layer sizes $n_0, \\dots, n_L$", escape_tex(spec.net.replace("-", ", "))),
        ("activations (layer: name)", acts),
        ("cost, reduction", f"{escape_tex(spec.cost)}, {escape_tex(spec.reduction)} over the batch"),
        ("layout, biases", f"samples as {escape_tex(spec.layout)} of $X$, "
                           f"{'with' if spec.bias else 'without'} biases"),
        ("parameters", f"{spec.n_params:,}".replace(",", "\\,")),
        ("command line", rt.tt("bpv report " + (spec.name or spec.cli_args()))),
    ]
    if spec.description:
        rows.insert(1, ("description", escape_tex(spec.description)))
    body = "\n".join(f"{k} & {v} \\\\" for k, v in rows)
    return (f"\\begin{{center}}\\small\\begin{{tabular}}{{>{{\\raggedleft\\arraybackslash}}p{{0.25\\linewidth}}"
            f"p{{0.65\\linewidth}}}}\n\\toprule\n{body}\n\\bottomrule\n\\end{{tabular}}\\end{{center}}")


def prose_name(text: str) -> str:
    """A model name or title: escaped verbatim (no maths detection: ``my_net`` stays ``my_net``)."""
    return escape_tex(text)


def _notation(spec: ModelSpec, level: str) -> str:
    L = spec.L
    cols = spec.layout == "columns"
    n = spec.sizes

    def per_layer(fn) -> str:
        return "; ".join(f"$l = {l}$: {_shape_tex(fn(l))}" for l in range(1, L + 1))

    def act_shape(l):
        return (n[l], "m") if cols else ("m", n[l])

    shapes = spec.param_shapes()
    rows = [
        (_m(a[0, _K]), f"{_m(_mat('X'))}, {_m(_mat('A^{0}'))}", "input of one sample; the batch of $m$ samples",
         _shape_tex(spec.x_shape("m"))),
        (_m(w[_L_SYM, _J, _K]), _m(_mat("W^{l}")),
         "weight from unit $k$ of layer $l-1$ to unit $j$ of layer $l$", per_layer(lambda l: shapes[f"W{l}"])),
    ]
    if spec.bias:
        rows.append((_m(b[_L_SYM, _J]), _m(_mat("b^{l}")), "bias of unit $j$ of layer $l$ (broadcast over the batch)",
                     per_layer(lambda l: shapes[f"b{l}"])))
    rows += [
        (_m(z[_L_SYM, _J]), _m(_mat("Z^{l}")), "weighted input of unit $j$ of layer $l$", per_layer(act_shape)),
        (_m(a[_L_SYM, _J]), _m(_mat("A^{l}")), "activation of unit $j$ of layer $l$", per_layer(act_shape)),
        (_m(y[_J]), _m(_mat("Y")), "target" + (" (one-hot, or integer labels)" if spec.cost == "cce" else ""),
         _shape_tex(spec.y_shape("m"))),
        (f"{_m(delta[_L_SYM, _J])} $=$ {_m(sp.Derivative(sp.Symbol('C_x'), z[_L_SYM, _J]))}", _m(_mat("Delta^{l}")),
         "error of unit $j$ of layer $l$, for one sample, unscaled; $\\Delta^l$ stacks the batch's $\\delta$'s",
         per_layer(act_shape)),
        (_m(sp.Symbol("C_x")), _m(_mat("C")), "cost of one sample $x$; cost of the batch", "scalar"),
    ]
    table = rt.table_tex(
        ["element", "batch", "meaning", "shape in this model"],
        [list(r) for r in rows],
        ">{\\centering\\arraybackslash}p{0.13\\linewidth}>{\\centering\\arraybackslash}p{0.1\\linewidth}"
        "p{0.38\\linewidth}p{0.28\\linewidth}",
    )
    W_l, A_prev, b_l = _mat("W^{l}"), _mat("A^{l-1}"), _mat("b^{l}")
    z_batch = W_l * A_prev if cols else A_prev * W_l
    z_batch = z_batch + b_l if spec.bias else z_batch
    z_eq = f"${book_latex(_mat('Z^{l}'))} = {book_latex(z_batch)}$"
    added = (f", with $b^l$ added to every {'column' if cols else 'row'}." if spec.bias
             else " (this model has no biases).")
    layout = (
        "Samples are the \\emph{columns} of $X$: $X$ is $n_0 \\times m$, $W^l$ is $n_l \\times n_{l-1}$ and a batch "
        f"is processed as {z_eq}{added}"
        if cols else
        "Samples are the \\emph{rows} of $X$, as row-major code writes it: $X$ is $m \\times n_0$, $W^l$ is "
        f"$n_{{l-1}} \\times n_l$ (the transpose of the book's $W^l$) and a batch is processed as {z_eq}{added}"
    )
    c_eq = f"${book_latex(sp.Symbol('C'))} = {book_latex(_batch_cost(spec))}$"
    reduction = (
        f"The batch cost is the \\emph{{mean}} of the per-sample costs, {c_eq}, so every gradient carries one "
        "factor $\\frac{1}{m}$; code that scales $\\Delta^L$ by $\\frac1m$ first must then \\emph{sum} over the "
        "batch, not average again."
        if spec.reduction == "mean" else
        f"The batch cost is the \\emph{{sum}} of the per-sample costs, {c_eq}: no factor $\\frac1m$ appears."
    )
    words = (
        f"Layers are numbered $l = 1, \\dots, L$ with $L = {L}$; layer $0$ is the input. Units are numbered from 1, "
        "as in the book, and every quantity of layer $l$ carries $l$ as a superscript. "
        f"{layout} {reduction} "
        "$\\delta^l_j$ always means the error of a unit; the indicator $\\mathbf{1}_{\\{\\cdot\\}}$ is used "
        "for Kronecker deltas and step functions, and ReLU$'(0) = 0$, as PyTorch does."
    )
    return "\n\n".join([rt.heading(level, "Notation"), table, words])


def _act_function(act) -> sp.Function:
    """The function as its derivation names it (sigma, tanh, ReLU, ...)."""
    from derive.functions.activations import derive_activation

    return derive_activation(act).derivation.steps[0].lhs.func


def _forward(spec: ModelSpec, data: _Data, level: str) -> str:
    n_prev = sp.Symbol("n_{l-1}", integer=True, positive=True)
    zl = sp.Sum(w[_L_SYM, _J, _K] * a[_L_SYM - 1, _K], (_K, 1, n_prev))
    if spec.bias:
        zl = zl + b[_L_SYM, _J]
    sub = _lower(level)
    out = [rt.heading(level, "The model"), rt.heading(sub, "Forward pass"),
           "A sample $x$ enters as $a^0 = x$. Each layer forms weighted inputs and applies its activation "
           "unit by unit:",
           rt.display(z[_L_SYM, _J], zl, numbered=True)]
    layer_eqs = []
    for l, act in enumerate(spec.activations, start=1):
        if act.name == "softmax":
            from derive.functions.activations import derive_softmax

            step = derive_softmax(3).derivation["softmax.def"]
            layer_eqs.append(rt.display(step.lhs.xreplace({_LL: l}), step.rhs.xreplace({_LL: l}), numbered=False)
                             .replace("n}", f"{spec.sizes[l]}}}"))
        else:
            f = _act_function(act)
            layer_eqs.append(rt.display(a[l, _J], f(z[l, _J]), numbered=False))
    out.append(f"with the activations of this model ($j = 1, \\dots, n_l$ in each layer; "
               f"$n_0, \\dots, n_L = {escape_tex(spec.net.replace('-', ', '))}$):")
    out.extend(layer_eqs)
    batch = (_mat("W^{l}") * _mat("A^{l-1}") if spec.layout == "columns" else _mat("A^{l-1}") * _mat("W^{l}"))
    if spec.bias:
        batch = batch + _mat("b^{l}")
    out.append("For the whole batch at once (one column per sample)" if spec.layout == "columns" else
               "For the whole batch at once (one row per sample)")
    out.append(rt.display(_mat("Z^{l}"), batch, numbered=False)
               + "\nwith $A^0 = X$ and the activation applied element by element"
               + (", and softmax to each sample's output vector." if spec.activations[-1].name == "softmax" else "."))
    out.append(_cost(spec, data, sub))
    return "\n\n".join(out)


def _cost_derivation(spec: ModelSpec, data: _Data) -> Derivation | None:
    for d in data.functions:
        if d.title == f"{spec.cost} cost and its derivative":
            return d
    return None


_COST_DERIVATIVE_STEPS = (".diff", ".dC_da")


def _batch_cost(spec: ModelSpec) -> sp.Expr:
    """C = (1/m) sum_x C_x, or the sum."""
    total = sp.Sum(sp.IndexedBase("C")[_X], (_X, 1, _M))
    return total / _M if spec.reduction == "mean" else total


def _cost(spec: ModelSpec, data: _Data, level: str) -> str:
    d = _cost_derivation(spec, data)
    out = [rt.heading(level, "Cost")]
    if spec.cost == "bce":
        out.append("Binary cross-entropy is not written down: each output $a^L_k \\in (0, 1)$ is read as the "
                   "probability that the target $y_k$ is 1, and the cost of an output is the negative logarithm "
                   "of the Bernoulli likelihood of the target. The log rules turn it into the familiar form:")
    else:
        out.append(f"The cost of one sample, defined over the $n = n_L = {spec.sizes[-1]}$ outputs:")
    if d is not None:
        out.extend(rt.step_tex(s) for s in d.steps if not s.label.endswith(_COST_DERIVATIVE_STEPS))
    batch = _batch_cost(spec)
    out.append(f"The batch of $m$ samples costs the {spec.reduction} of the per-sample costs:")
    out.append(rt.display(sp.Symbol("C"), batch, numbered=False))
    return "\n\n".join(out)


def _derivation_section(spec: ModelSpec, data: _Data, level: str) -> str:
    sub = _lower(level)
    out = [rt.heading(level, "The derivation, step by step"),
           "Every equation below was computed by SymPy from the definitions, or is a textbook form compared "
           "against a computed one. Under each equation: what kind of step it is, why it is true, and how it was "
           "checked. A \\emph{symbolic} check reduced the difference of the two sides to zero; an \\emph{exact} "
           "one compared them at random rational points in exact arithmetic; a \\emph{numeric} one at random "
           "points to 30 or more digits (evidence, not proof)."]
    cost_d = _cost_derivation(spec, data)
    for d in data.functions:
        if d is cost_d:
            steps = [s for s in d.steps if s.label.endswith(_COST_DERIVATIVE_STEPS)]
            title = "The derivative of the cost"
            out.append(rt.derivation_tex(d, sub, title_tex=title, steps=steps))
        elif d.title.startswith("output error"):
            out.append(rt.derivation_tex(d, sub, title_tex="The output error $\\delta^L$",
                                         intro=_delta_intro(spec)))
        else:
            out.append(rt.derivation_tex(d, sub, title_tex=_act_title(d), intro=""))
    if data.parts is not None:
        for d in data.parts:
            if _is_function_part(d, data.functions):
                continue
            out.append(rt.derivation_tex(d, sub))
    else:
        why = data.missing.get("The derivation, step by step", "not available")
        out.append(rt.missing_tex("BP1-BP4, fixed widths, batch forms, end to end", why))
    return "\n\n".join(out)


def _is_function_part(d: Derivation, functions: Sequence[Derivation]) -> bool:
    """A part of derive_model that repeats the model-function derivations already shown (same steps)."""
    mine = {s.label for f in functions for s in f.steps}
    labels = {s.label for s in d.steps}
    return bool(labels) and labels <= mine


def _act_title(d: Derivation) -> str:
    first = d.steps[0]
    if first.label == "softmax.def":
        return "The softmax Jacobian"
    return f"The derivative ${book_latex(sp.Derivative(first.lhs, first.lhs.args[0]))}$ from the definition"


def _delta_intro(spec: ModelSpec) -> str:
    if spec.activations[-1].name == "softmax":
        return ("Softmax is not element-wise: every output $a^L_i$ depends on every $z^L_j$, so $\\delta^L_j$ is a "
                "sum over the full Jacobian.")
    return ("The output layer's activation is element-wise, so $a^L_j$ depends on $z^L_j$ alone and the chain "
            "rule has one term (this is BP1).")


def _kernel(data: _Data, level: str) -> str:
    out = [rt.heading(level, "The generated kernel")]
    if data.kernel_source is None:
        out.append(rt.missing_tex("The kernel listing", data.missing.get("The generated kernel", "not available")))
        return "\n\n".join(out)
    out.append(f"The NumPy module below is {escape_tex(data.kernel_origin)}: each assignment is one named "
               "quantity of the derivation above ($z^l$, $a^l$, $\\delta^l$, the gradients), printed from the "
               "proven closed or stable forms, and the layers are matrix products over the batch.")
    out.append(rt.kernel_tex(data.kernel_source))
    return "\n\n".join(out)


def _sci(value: float | None) -> str:
    if value is None:
        return "--"
    if value != value or value in (float("inf"), float("-inf")):
        return "$\\infty$" if value == float("inf") else "NaN"
    if value == 0:
        return "$0$"
    mant, exp = f"{value:.1e}".split("e")
    return f"${mant} \\cdot 10^{{{int(exp)}}}$"


def _breakable(tex: str) -> str:
    """Allow line breaks after / and _ in long names (numeric/kernels/binary_classifier.py) in narrow cells."""
    return tex.replace("/", "/\\allowbreak{}").replace("\\_", "\\_\\allowbreak{}")


def _verification(data: _Data, level: str) -> str:
    out = [rt.heading(level, "Verification")]
    v = data.verification
    if v is None:
        out.append(rt.missing_tex("The verification table", data.missing.get("Verification", "not available")))
        return "\n\n".join(out)
    out.append("Each row compares two independent witnesses of the same gradient block on one random instance "
               f"(seed {int(v.seed)}). The error is block-relative, $\\max_i |g_i - r_i| / \\max_i |r_i|$; the bound "
               "depends on the methods: $10^{-12}$ between exact methods and for the complex step, $10^{-7}$ for "
               "central differences with Richardson extrapolation.")
    verdicts = {"holds": "\\textcolor{bpvgreen}{holds}", "fails": "\\textcolor{bpvred}{\\textbf{fails}}",
                "skipped": "\\textcolor{bpvgrey}{skipped}"}
    rows, last = [], None
    for r in v.rows:
        pair = (r.check, r.witness, r.reference)
        if last is not None and pair != last:
            rows.append(["\\midrule %"])  # a rule between witness pairs; the pair is named once
        first = pair != last
        last = pair
        why = "; ".join(t for t in (r.method, r.detail) if t)
        pair_tex = _breakable(f"{rt.prose(r.witness)} vs {rt.prose(r.reference)}") if first else ""
        rows.append([pair_tex, f"{{\\scriptsize {_breakable(rt.prose(r.block))}}}", _sci(r.error), _sci(r.bound),
                     verdicts.get(r.verdict, rt.prose(r.verdict)), f"{{\\scriptsize {_breakable(rt.prose(why))}}}"])
    ragged, right = ">{\\raggedright\\arraybackslash}", ">{\\raggedleft\\arraybackslash}"
    out.append("{\\setlength{\\tabcolsep}{4pt}" + rt.table_tex(
        ["witness vs reference", "block", "error", "bound", "verdict", "method, detail"], rows,
        # fixed widths only: the document is typeset in one pass, so longtable cannot carry widths across pages
        f"{ragged}p{{0.22\\linewidth}}{ragged}p{{0.15\\linewidth}}{right}p{{0.11\\linewidth}}"
        f"{right}p{{0.11\\linewidth}}{ragged}p{{0.07\\linewidth}}{ragged}p{{0.2\\linewidth}}", long=True) + "}")
    c = v.counts()
    state = "\\textcolor{bpvgreen}{verified}" if v.ok else "\\textcolor{bpvred}{\\textbf{not verified}}"
    out.append(f"Summary: {state}; {len(v.rows)} comparisons, {c.get('holds', 0)} hold, {c.get('fails', 0)} fail, "
               f"{c.get('skipped', 0)} skipped. Reproduce with {rt.tt(v.reproduce())}.")
    for note in getattr(v, "notes", []) or []:
        out.append(f"{{\\small {rt.prose(note)}.}}")
    return "\n\n".join(out)


_THETA, _H = sp.symbols("theta h", real=True)


def _central_tex() -> str:
    """The central difference (C(theta + h) - C(theta - h)) / 2h, printed from SymPy."""
    cost = sp.Function("C")
    return book_latex((cost(_THETA + _H) - cost(_THETA - _H)) / (2 * _H))


def _complex_step_tex() -> str:
    """The complex step Im C(theta + ih) / h, printed from SymPy."""
    return book_latex(sp.im(sp.Function("C")(_THETA + sp.I * _H)) / _H)


def _bp2_tex() -> str:
    """BP2 in vector form, delta^l = ((W^{l+1})^T delta^{l+1}) (.) f'(z^l), printed from SymPy."""
    n = sp.Symbol("n")
    err = sp.HadamardProduct(sp.MatrixSymbol("W^{l+1}", n, n).T * sp.MatrixSymbol("delta^{l+1}", n, 1),
                             sp.MatrixSymbol("f'(z^{l})", n, 1))
    return f"{book_latex(sp.MatrixSymbol('delta^{l}', n, 1))} = {book_latex(err)}"


def _plots(spec: ModelSpec, data: _Data, level: str) -> str:
    from derive.report.plots import activation_plot_tex, fd_error_plot_tex

    sub = _lower(level)
    out = [rt.heading(level, "Plots"), rt.heading(sub, "Finite differences: error against the step")]
    if data.fd is not None:
        name, index = data.fd["name"], data.fd["index"]
        l = int(name[1:])
        j, k = (index[0] + 1, index[1] + 1) if spec.layout == "columns" else (index[1] + 1, index[0] + 1)
        param = w[l, j, k] if name.startswith("W") else b[l, j]
        out.append(
            f"The derivative $\\partial C/\\partial {book_latex(param)}$, computed by central differences "
            f"${_central_tex()}$ at many steps $h$, against the hand-written backprop's value. "
            "For large $h$ the error is truncation, falling as $h^2$; for small $h$ it is rounding, rising as "
            "$\\varepsilon/h$. Richardson extrapolation cancels the $h^2$ term; the complex step "
            f"${_complex_step_tex()}$ has no subtraction and so no rounding error. The dotted line is "
            "the step the checker uses.")
        out.append("\\begin{center}\n" + data.figure(fd_error_plot_tex(data.fd, book_latex(param))) + "\n\\end{center}")
    else:
        out.append(rt.missing_tex("The finite-difference plot", data.missing.get("Plots", "not available")))
    out.append(rt.heading(sub, "Activations and their derivatives"))
    out.append("Each activation $f$ (solid) and its derivative $f'$ (dashed), evaluated from the derived "
               "expressions over $z \\in [-6, 6]$. Where $f$ flattens out, $f'$ vanishes: a saturated unit passes "
               f"almost no error back (${_bp2_tex()}$)."
               + (" A filled dot marks the value the convention uses at a kink, an open dot the other one-sided "
                  "limit." if any(c.kinks for c in data.curves) else "")
               + (" For softmax, the first output $s_1$ and $\\partial s_1/\\partial z_1$ are drawn with the other "
                  "inputs at 0." if any(c.act.name == "softmax" for c in data.curves) else ""))
    pics = [data.figure(activation_plot_tex(c)) for c in data.curves]
    rows = []
    for i in range(0, len(pics), 2):
        rows.append("\\hfill".join(pics[i : i + 2]))
    out.append("\\begin{center}\n" + "\n\n\\medskip\n".join(rows) + "\n\\end{center}")
    return "\n\n".join(out)


def _holds(data: _Data) -> bool:
    return all(d.holds for d in data.functions) and all(d.holds for d in data.parts or [])


def _summary(spec: ModelSpec, data: _Data) -> str:
    parts = []
    d_holds = _holds(data)
    extra = [d for d in data.parts or [] if not _is_function_part(d, data.functions)]
    n_steps = sum(len(d) for d in data.functions) + sum(len(d) for d in extra)
    parts.append(f"{n_steps} derivation steps, " + ("all hold" if d_holds else "\\textbf{not all hold}"))
    if data.verification is not None:
        parts.append("verification: " + ("all witnesses agree" if data.verification.ok else "\\textbf{fails}"))
    if data.derivation_hash:
        parts.append(f"derivation hash \\texttt{{{escape_tex(data.derivation_hash)}}}")
    text = "; ".join(parts) + "."
    if data.missing:
        text += " \\textcolor{bpvorange}{Incomplete: " + escape_tex(", ".join(data.missing)) + ".}"
    return f"{{\\small {text}}}"


def _body(data: _Data, level: str) -> str:
    spec = data.spec
    sections = [
        _card(spec, data.title),
        _summary(spec, data),
        _notation(spec, level),
        _forward(spec, data, level),
        _derivation_section(spec, data, level),
        _kernel(data, level),
        _verification(data, level),
        _plots(spec, data, level),
    ]
    return "\n\n".join(sections)


def render_model(spec: ModelSpec, *, title: str | None = None, seed: int = 0, use_cache: bool = True,
                 progress: Say | None = None) -> Rendered:
    """Gather everything about ``spec`` and render its report body (both as an article and as a book chapter)."""
    say = progress or (lambda _t: None)
    t0 = time.perf_counter()
    title = title or spec.title
    data = _gather(spec, title, seed=seed, use_cache=use_cache, say=say)
    say(f"{spec.name or spec.title}: typesetting")
    holds = _holds(data)
    verified = None if data.verification is None else bool(data.verification.ok)
    body = _body(data, "section")
    return Rendered(spec, title, body, holds, verified, dict(data.missing), list(data.errors),
                    time.perf_counter() - t0, dict(data.figures))


# ----- documents ---------------------------------------------------------------------------------------------
@dataclass
class FigureFile:
    """A compiled figures PDF: its file name (beside the report) and the page of each figure key."""

    name: str
    pages: dict[str, int]
    data: bytes


def place_figures(body: str, figures: dict[str, str], ref: FigureFile | None) -> str:
    """Replace each ``<<FIG:key>>``: by ``\\includegraphics`` of its page of ``ref``, or by the tikzpicture itself."""
    for key, tikz in figures.items():
        mark = f"<<FIG:{key}>>"
        if ref is not None and key in ref.pages:
            body = body.replace(mark, f"\\includegraphics[page={ref.pages[key]}]{{{ref.name}}}")
        else:
            body = body.replace(mark, tikz)
    return body


def _doc_title(title: str) -> str:
    return f"Backpropagation for \\emph{{{prose_name(title)}}}"


def model_document(r: Rendered, *, template: str | None = None, figures: FigureFile | None = None) -> str:
    """A complete LaTeX document for one model (class ``article``); figures inline unless ``figures`` is given."""
    from derive import __version__

    title_block = (f"\\title{{{_doc_title(r.title)}\\\\[0.3em]\\large derived and verified by bpv}}\n"
                   f"\\author{{bpv {escape_tex(__version__)}}}\n\\date{{}}\n\\maketitle")
    body = place_figures(r.body, r.figures, figures)
    return rt.document(body, title_block=title_block, documentclass="article", template=template,
                       pictures=figures is None or len(figures.pages) < len(r.figures), single_pass=True)


_BOOK_INTRO = r"""
\chapter*{How to read this book}
\addcontentsline{toc}{chapter}{How to read this book}
Backpropagation is four equations, BP1--BP4, that say how the cost of a neural network changes with each of its
weights and biases. Textbooks state them; this book was written by a program, bpv, that \emph{derives} them. For each
network of its catalog it starts from the definitions alone --- weighted inputs, activations, a cost --- and has the
computer-algebra system SymPy work out every derivative, step by step. Every equation in the book is printed from the
expression SymPy computed; none was typed in by hand. Where a textbook form appears (such as
<<SIGMA_CLAIM>> or <<DELTA_CLAIM>>) it is a \emph{claim}, compared against the derived result,
and the comparison is recorded under the equation.

Each chapter follows the same plan. \textbf{Notation} fixes the symbols and the shapes of this network's arrays.
\textbf{The model} writes down the forward pass and the cost. \textbf{The derivation} differentiates: each
activation, the cost, the output error $\delta^L$, then BP1--BP4 for every width, the same at fixed widths
without any stated rule, the matrix forms used by vectorised code, and an end-to-end check that differentiates the
whole network directly. \textbf{The generated kernel} is the NumPy code bpv wrote from the derivation.
\textbf{Verification} compares that code, a hand-written backprop, finite differences and the complex step.
\textbf{Plots} show why finite differences need care, and where each activation saturates.
The last chapter turns to computational graphs: backprop gate by gate, as in the CS231n course notes.
"""


def catalog_document(rendered: Sequence[Rendered], *, template: str | None = None,
                     title: str = "Backpropagation, derived and verified",
                     figures: Sequence[FigureFile | None] | None = None,
                     graph_chapter: str | None = None, graph_missing: str = "",
                     graph_title: str = "Backprop through computational graphs") -> str:
    """The combined book (class ``report``): one chapter per model, then the computational-graph chapter.

    ``figures[i]`` is the compiled figures file of ``rendered[i]`` (None: its figures inline).
    """
    from derive import __version__

    title_block = (f"\\title{{{prose_name(title)}\\\\[0.4em]\\large the bpv catalog, "
                   f"{len(rendered)} networks}}\n\\author{{bpv {escape_tex(__version__)}}}\n\\date{{}}\n"
                   "\\maketitle\n\\tableofcontents")
    zz = sp.Symbol("z")
    sig = sp.Function("sigma")
    sigma_claim = f"${book_latex(sp.Derivative(sig(zz), zz))} = {book_latex(sig(zz) * (1 - sig(zz)))}$"
    delta_claim = f"${book_latex(delta[_LL, _J])} = {book_latex(a[_LL, _J] - y[_J])}$"
    chapters = [_BOOK_INTRO.replace("<<SIGMA_CLAIM>>", sigma_claim).replace("<<DELTA_CLAIM>>", delta_claim)]
    refs = list(figures) if figures is not None else [None] * len(rendered)
    for r, ref in zip(rendered, refs, strict=True):
        chapters.append(f"\\chapter{{{prose_name(r.title)}}}\n\n{place_figures(r.body, r.figures, ref)}")
    chapters.append(f"\\chapter{{{escape_tex(graph_title)}}}")
    if graph_chapter is not None:
        chapters.append(graph_chapter)
    else:
        chapters.append(rt.missing_tex("The course-notes graph examples", graph_missing or "not available"))
    return rt.document("\n\n".join(chapters), title_block=title_block, documentclass="report",
                       class_options="openany", template=template)


def _graph_chapter() -> dict:
    """catalog_document's keyword arguments for the computational-graph chapter (or why it is missing)."""
    try:
        from derive.graph import tex as graph_tex
    except ImportError as exc:
        return {"graph_missing": f"derive.graph.tex is {_why(exc)}"}
    title = getattr(graph_tex, "CHAPTER_TITLE", "Backprop through computational graphs")
    try:
        return {"graph_chapter": graph_tex.course_examples_chapter(), "graph_title": title}
    except Exception as exc:
        return {"graph_missing": f"course_examples_chapter failed: {_why(exc)}", "graph_title": title}


# ----- writing -----------------------------------------------------------------------------------------------
def write_document(tex: str, pdf_path: str | os.PathLike, *, pdf: bool = True,
                   files: dict[str, bytes] | None = None) -> Outcome:
    """Write ``tex`` beside ``pdf_path`` and compile it (unless ``pdf`` is False). Never raises TexError."""
    from derive.core.files import atomic_write_text

    pdf_path = Path(pdf_path)
    if not pdf:
        atomic_write_text(pdf_path.with_suffix(".tex"), tex)
        return Outcome(pdf_path.with_suffix(".tex"), False, True, "")
    try:
        compile_pdf(tex, pdf_path, files=files)
    except TexMissing as exc:
        return Outcome(pdf_path, False, False, str(exc), no_engine=True)
    except TexError as exc:
        return Outcome(pdf_path, False, False, str(exc))
    return Outcome(pdf_path, True, True, "")


def compile_figures(r: Rendered, out_dir: str | os.PathLike) -> FigureFile | None:
    """Typeset the figures of ``r`` once, as ``<slug>-figures.pdf`` beside the report; None if that fails.

    The reports then include the pages (pgfplots is not re-run in every LaTeX pass of every document), and the
    ``.tex`` kept beside a report still compiles by hand, with the figures file next to it.
    """
    from derive.core.files import atomic_write_bytes
    from derive.report.plots import figures_document

    if not r.figures:
        return None
    keys = list(r.figures)
    name = f"{r.spec.slug}-figures.pdf"
    with tempfile.TemporaryDirectory(prefix="bpv-fig-") as tmp:
        try:
            path = compile_pdf(figures_document([r.figures[k] for k in keys]), Path(tmp) / name, keep_tex=False)
        except TexError:
            return None
        data = path.read_bytes()
    atomic_write_bytes(Path(out_dir) / name, data)
    return FigureFile(name, {k: i for i, k in enumerate(keys, start=1)}, data)


def _render_worker(spec: ModelSpec, kwargs: dict) -> Rendered:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    return _render_safely(spec, kwargs)


def _render_safely(spec: ModelSpec, kwargs: dict) -> Rendered:
    try:
        return render_model(spec, **kwargs)
    except Exception as exc:  # one broken model must not lose the others' reports
        detail = traceback.format_exc(limit=3)
        title = kwargs.get("title") or spec.title
        box = rt.missing_tex("This report", f"rendering failed: {type(exc).__name__}: {exc}")
        return Rendered(spec, title, box, None, None, {"report": str(exc)},
                        [f"rendering failed: {type(exc).__name__}: {exc}\n{detail}"])


def build_reports(
    specs: Sequence[ModelSpec],
    out_dir: str | os.PathLike = "reports",
    *,
    pdf: bool = True,
    combined: bool | None = None,
    title: str | None = None,
    seed: int = 0,
    jobs: int = 1,
    use_cache: bool = True,
    template: str | None = None,
    progress: Say | None = None,
) -> tuple[list[Rendered], list[Outcome]]:
    """Render and write the reports of ``specs`` into ``out_dir``; see the module docstring.

    ``combined`` (default: when there is more than one model) also writes ``catalog.pdf``. ``title`` retitles a
    single model's report. ``jobs`` > 1 gathers models in parallel processes; each model's PDF is compiled (in a
    thread) as soon as its data is in, while the others are still being gathered; the combined book starts as soon
    as every model's figures exist.
    """
    say = progress or (lambda _t: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if title is not None and len(specs) != 1:
        from numeric.errors import BadInput

        raise BadInput("--title names one report: give exactly one model with it")
    combined = len(specs) > 1 if combined is None else combined
    kwargs = {"seed": seed, "use_cache": use_cache, "title": title}
    t0 = time.perf_counter()
    rendered: list[Rendered | None] = [None] * len(specs)
    figure_files: list[FigureFile | None] = [None] * len(specs)
    outcomes: dict[int, Outcome] = {}

    figures_ready = [threading.Event() for _ in specs]

    def finish(i: int) -> None:
        """Figures, then the model's own document (runs in a compile thread)."""
        r = rendered[i]
        t1 = time.perf_counter()
        try:
            figure_files[i] = compile_figures(r, out) if pdf else None
        finally:
            figures_ready[i].set()
        ref = figure_files[i]
        files = {ref.name: ref.data} if ref is not None else None
        o = write_document(model_document(r, template=template, figures=ref), out / f"{r.spec.slug}.pdf", pdf=pdf,
                           files=files)
        outcomes[i] = o
        say(f"  {o.path} {'written' if o.ok else 'FAILED'} ({time.perf_counter() - t1:.1f} s)")

    def book() -> Outcome:
        """The combined book: as soon as every model's figures exist (alongside the last model documents)."""
        for ev in figures_ready:
            ev.wait()
        t1 = time.perf_counter()
        ready = [r for r in rendered if r is not None]
        refs = [f for f, r in zip(figure_files, rendered, strict=True) if r is not None]
        files = {f.name: f.data for f in refs if f is not None}
        tex = catalog_document(ready, template=template, figures=refs, **_graph_chapter())
        o = write_document(tex, out / f"{COMBINED_NAME}.pdf", pdf=pdf, files=files or None)
        say(f"  {o.path} {'written' if o.ok else 'FAILED'} ({time.perf_counter() - t1:.1f} s)")
        return o

    # one more compile thread than jobs: the book, the longest document, starts without waiting for a free slot
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs) + int(combined)) as compilers:
        pending = []

        def done(i: int, r: Rendered) -> None:
            rendered[i] = r
            n = sum(x is not None for x in rendered)
            state = "ok" if r.ok else "PROBLEMS"
            extra = f"; incomplete: {', '.join(r.missing)}" if r.missing else ""
            say(f"[{n}/{len(specs)}] {r.spec.name or r.title}: gathered in {r.elapsed:.1f} s, {state}{extra} "
                f"({time.perf_counter() - t0:.1f} s)")
            pending.append(compilers.submit(finish, i))

        if jobs > 1 and len(specs) > 1:
            ctx = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(specs)), mp_context=ctx) as pool:
                futs = {pool.submit(_render_worker, s, kwargs): i for i, s in enumerate(specs)}
                for fut in concurrent.futures.as_completed(futs):
                    done(futs[fut], fut.result())
        else:
            for i, s in enumerate(specs):
                done(i, _render_safely(s, {**kwargs, "progress": say}))
        book_future = compilers.submit(book) if combined else None
        for fut in pending:
            fut.result()
        result = [outcomes[i] for i in range(len(specs))]
        if book_future is not None:
            result.append(book_future.result())
    ready = [r for r in rendered if r is not None]
    return ready, result
