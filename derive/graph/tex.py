"""LaTeX for staged backprop: the circuit drawn with TikZ, the gate table and the checked final gradients.

As in the CS231n notes, every wire of the circuit carries its forward value *above* (green) and its gradient
*below* (red); the gates are circles labelled with their operation. Layout: variables on the left (one copy per use,
so a variable used three times appears three times and its gradient is the sum of the three red numbers), each gate
one column to the right of its deepest input, leaves in the order they are written, each gate halfway between its
inputs. Wires run horizontally and bend only just before the gate they enter, so no wire crosses a gate or another
wire (the graph is a tree once the variables are copied).

Public:

``circuit_tikz(graph)``            the ``tikzpicture`` (scaled down to ``\\linewidth`` when wider);
``graph_section(graph)``           circuit, gate table, final gradients with their checks (body text);
``graph_document(graph)``          a standalone document for ``bpv graph --pdf``;
``course_examples_chapter()``      the course-notes examples as a chapter body (no preamble, no ``\\chapter``
                                   line: the including report gives the title, e.g. :data:`CHAPTER_TITLE`); it needs
                                   only amsmath, booktabs, tikz and xcolor.

Every number and formula is printed from the computed graph (formulas through :func:`derive.core.book.book_latex`);
user text (the expression) goes through :func:`derive.core.texbuild.escape_tex`. Not a general graph drawer: it draws
the
trees :mod:`derive.graph.staged` builds.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.core.book import book_latex
from derive.core.texbuild import escape_tex
from derive.graph.gates import GATE_KINDS
from derive.graph.matmul import MatmulGate, derive_matmul_gate
from derive.graph.staged import FD_TOLERANCE, SYMPY_TOLERANCE, Gate, StagedGraph, build_graph

__all__ = ["BEND", "CHAPTER_TITLE", "ROW_H", "Spot", "breakable_tt", "circuit_layout", "circuit_tikz", "column_width",
           "course_examples_chapter", "gate_table_latex", "gradients_latex", "graph_document", "graph_section",
           "matmul_latex"]

CHAPTER_TITLE = "Backprop through computational graphs"
FORWARD_COLOR = "green!45!black"
GRADIENT_COLOR = "red!75!black"

COL_W = 1.8  # cm between gate columns (widened for long labels: column_width)
ROW_H = 1.15  # cm between leaf rows
BEND = 0.4  # cm before a gate where a wire leaves its row
MAX_FORMULA_CHARS = 600  # longer formulas are not displayed (the expression as written still is)
TABLE_ROWS = 22  # gates per table: a tabular cannot break across pages, so long tables come in pieces
#: scale a box down to the line width (and a circuit to 85% of the page height); never up
FIT_WIDTH = "\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%"
FIT_HEIGHT = "\\resizebox{!}{\\ifdim\\height>0.85\\textheight 0.85\\textheight\\else\\height\\fi}{%"


def _num(x: float, digits: int = 2) -> str:
    """A short number for the circuit (two decimals as in the course notes; e-notation when large)."""
    x = float(x)
    if abs(x) >= 1000 or (x != 0 and abs(x) < 0.005):
        mant, exp = f"{x:.1e}".split("e")
        return f"{mant}\\mathrm{{e}}{{{int(exp)}}}"  # compact: -1.7e-4 fits between two gates
    text = f"{x:.{digits}f}"
    return "0.00" if text == "-0.00" else text


def _full(x: float) -> str:
    """A number for the tables: 4 significant digits."""
    text = f"{float(x):.4g}"
    if "e" in text:
        mant, exp = text.split("e")
        return f"{mant}\\cdot 10^{{{int(exp)}}}"
    return text


def _sym(name: str) -> str:
    return book_latex(sp.Symbol(name, real=True))


# ----- Layout -------------------------------------------------------------------------------------------------
@dataclass
class Spot:
    """A drawn node: a gate (circle) or one use of a variable (text on the left)."""

    key: str
    col: int
    y: float
    gate: Gate | None = None
    wire: str = ""  # the wire this node puts out (variable name or gate name)


def circuit_layout(graph: StagedGraph) -> tuple[list[Spot], list[tuple[Spot, Spot, int]], Spot]:
    """Nodes with (column, y) and edges (child, parent, input slot); returns also the output gate's node."""
    gates = {g.name: g for g in graph.gates}
    spots: list[Spot] = []
    edges: list[tuple[Spot, Spot, int]] = []
    next_row = [0]

    def place(wire: str) -> Spot:
        if wire not in gates:  # a variable: a fresh leaf row for every use
            spot = Spot(f"v{len(spots)}", 0, -next_row[0] * ROW_H, wire=wire)
            next_row[0] += 1
            spots.append(spot)
            return spot
        gate = gates[wire]
        children = [place(w) for w in gate.inputs]
        spot = Spot(f"n{len(spots)}", 1 + max(ch.col for ch in children),
                     sum(ch.y for ch in children) / len(children), gate, wire)
        spots.append(spot)
        edges.extend((ch, spot, slot) for slot, ch in enumerate(children))
        return spot

    root = place(graph.output)
    # every leaf in column 0; a chain of one-input gates stays on one row
    return spots, edges, root


def _label_chars(text: str) -> int:
    return len(text.replace("\\mathrm{e}", "e").replace("{", "").replace("}", ""))


def column_width(graph: StagedGraph) -> float:
    """cm between columns: COL_W, wider when a wire label is longer than five characters (e.g. -1.7e-4)."""
    labels = [_num(w.value) for w in graph.wires.values()] + [_num(d) for g in graph.gates for d in g.downstream]
    longest = max((_label_chars(t) for t in labels), default=5)
    return min(COL_W + 0.13 * max(0, longest - 5), 2.6)


def circuit_tikz(graph: StagedGraph) -> str:
    """The circuit as a ``tikzpicture``: forward values above the wires (green), gradients below (red)."""
    spots, edges, root = circuit_layout(graph)
    wires = graph.wires
    col_w = column_width(graph)
    lines = [
        "\\begin{center}",
        FIT_HEIGHT,
        FIT_WIDTH,
        "\\begin{tikzpicture}[x=1cm,y=1cm,",
        "  gate/.style={circle,draw,thick,fill=white,minimum size=7.5mm,inner sep=0.5pt,font=\\footnotesize},",
        "  leaf/.style={anchor=east,inner sep=1pt,font=\\small},",
        f"  fwd/.style={{above,inner sep=1.5pt,font=\\scriptsize,text={FORWARD_COLOR}}},",
        f"  grad/.style={{below,inner sep=1.5pt,font=\\scriptsize,text={GRADIENT_COLOR}}}]",
    ]
    for s in spots:
        x = s.col * col_w
        if s.gate is None:
            lines.append(f"\\node[leaf] ({s.key}) at ({x:.3f},{s.y:.3f}) {{${_sym(s.wire)}$}};")
        else:
            label = s.gate.entry.label_tex(s.gate.constant)
            small = "[font=\\scriptsize]" if s.gate.constant is not None else ""
            lines.append(f"\\node[gate]{small} ({s.key}) at ({x:.3f},{s.y:.3f}) {{{label}}};")
    for child, parent, slot in edges:
        wire = wires[child.wire]
        grad = parent.gate.downstream[slot] if parent.gate else wire.grad
        lines.append(_wire(child, parent, wire.value, grad, col_w))
    # the output wire: f and df/df = 1
    x_out = (root.col + 1) * col_w - BEND
    lines.append(f"\\draw[->,thick] ({root.key}) -- ({x_out:.3f},{root.y:.3f}) node[right] {{$f$}}")
    lines.append(f"  node[pos=0.55,fwd] {{${_num(graph.output_value)}$}} node[pos=0.55,grad] {{$1.00$}};")
    lines += ["\\end{tikzpicture}}}", "\\end{center}"]
    return "\n".join(lines)


def _wire(child: Spot, parent: Spot, value: float, grad: float, col_w: float) -> str:
    labels = f"node[midway,fwd] {{${_num(value)}$}} node[midway,grad] {{${_num(grad)}$}}"
    if abs(child.y - parent.y) < 1e-9:
        return f"\\draw[->,thick] ({child.key}) -- {labels} ({parent.key});"
    x_bend = parent.col * col_w - BEND
    return (f"\\draw[thick] ({child.key}.east) -- {labels} ({x_bend:.3f},{child.y:.3f});\n"
            f"\\draw[->,thick] ({x_bend:.3f},{child.y:.3f}) -- ({parent.key});")


# ----- Tables -------------------------------------------------------------------------------------------------
def _stack(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return "\\begin{tabular}[t]{@{}l@{}}" + " \\\\ ".join(items) + "\\end{tabular}"


def gate_table_latex(graph: StagedGraph) -> str:
    """One row per gate in forward order: inputs, output, local gradients, upstream, downstream."""
    rows = []
    for g in graph.gates:
        out = _sym(g.name)
        ins = [f"${_sym(n)} = {_full(val)}$" for n, val in zip(g.inputs, g.input_values, strict=True)]
        local = [f"$\\partial {out}/\\partial {_sym(n)} = "
                 + ("" if e.is_number else f"{book_latex(e)} = ") + f"{_full(val)}$"
                 for n, e, val in zip(g.inputs, g.local_exprs, g.local_values, strict=True)]
        down = [f"${_sym(n)}$: ${_full(d)}$" for n, d in zip(g.inputs, g.downstream, strict=True)]
        rows.append(f"${out} = {book_latex(g.formula)}$ & {_stack(ins)} & ${_full(g.output_value)}$ & "
                    f"{_stack(local)} & ${_full(g.upstream)}$ & {_stack(down)} \\\\")
    head = "gate & inputs & output & local gradients & upstream & downstream \\\\"
    pieces = []
    for start in range(0, max(len(rows), 1), TABLE_ROWS):
        pieces.append("\n".join([
            "\\begin{center}", "\\footnotesize",
            FIT_WIDTH,
            "\\begin{tabular}{@{}llllll@{}}", "\\toprule", head, "\\midrule",
            "\n\\addlinespace[2pt]\n".join(rows[start:start + TABLE_ROWS]), "\\bottomrule", "\\end{tabular}}",
            "\\end{center}",
        ]))
    return "\n".join(pieces)


def gradients_latex(graph: StagedGraph) -> str:
    """The final gradients, each the sum of its contributions, against sympy.diff and finite differences."""
    rows = []
    for gr in graph.gradients:
        parts = " + ".join(f"({_full(a)})" if a < 0 else _full(a) for _, a in gr.contributions)
        shown = f"{parts} = {_full(gr.value)}" if len(gr.contributions) > 1 else _full(gr.value)
        fd = "n/a" if gr.fd_value is None else f"${_full(gr.fd_value)}$"
        rows.append(f"$\\partial f/\\partial {_sym(gr.name)}$ & ${shown}$ & ${_full(gr.sympy_value)}$ "
                    f"& {fd} \\\\")
    verdict = "all agree" if graph.holds else "\\textbf{a check disagrees}"
    notes = []
    for kind, check in graph.closed_form_checks.items():
        notes.append(f"{GATE_KINDS[kind].closed_form.tex}: {escape_tex(check.short())}.")  # type: ignore[union-attr]
    for w in graph.warnings:
        notes.append(escape_tex(w) + ".")
    return "\n".join([
        "\\begin{center}", "\\small",
        FIT_WIDTH,
        "\\begin{tabular}{@{}llll@{}}", "\\toprule",
        "gradient & backprop (contributions added with $+{=}$) & \\texttt{sympy.diff} & finite differences \\\\",
        "\\midrule", *rows, "\\bottomrule", "\\end{tabular}}", "\\end{center}",
        f"Checks: block-relative error against \\texttt{{sympy.diff}} (30 digits) ${_full(graph.sympy_error)}$ "
        f"(bound ${_full(SYMPY_TOLERANCE)}$), against central finite differences ${_full(graph.fd_error)}$ "
        f"(bound ${_full(FD_TOLERANCE)}$): {verdict}. " + " ".join(notes),
    ])


def breakable_tt(text: str) -> str:
    """User text in typewriter type, escaped, with permitted line breaks after operators and commas."""
    return "\\texttt{" + "".join(escape_tex(ch) + ("\\allowbreak{}" if ch in "+-*/,(" else "") for ch in text) + "}"


def _point_latex(graph: StagedGraph) -> str:
    return ",\\ ".join(f"{_sym(k)} = {book_latex(sp.Rational(val.numerator, val.denominator))}"
                       for k, val in graph.point.items())


def graph_section(graph: StagedGraph) -> str:
    """Circuit, gate table and final gradients for one graph (body text, no headings)."""
    fused = f" ({', '.join(graph.fuse)} fused into one gate)" if graph.fuse else ""
    formula = book_latex(graph.parsed.expr)
    formula = f"f = {formula}" if len(formula) <= MAX_FORMULA_CHARS else "f"  # too long to read when scaled
    return "\n\n".join([
        "\\begin{center}\n" + FIT_WIDTH + "\n"
        + f"$\\displaystyle {formula} \\quad\\text{{at}}\\quad {_point_latex(graph)}$}}"
        + "\n\\end{center}",
        f"As written: {breakable_tt(graph.text)}{fused}; {len(graph.gates)} gates.",
        circuit_tikz(graph),
        "One row per gate, in forward order; backprop runs the rows from the bottom up. Each gate's downstream "
        "gradients are its upstream gradient times its local gradients, one per input.",
        gate_table_latex(graph),
        gradients_latex(graph),
    ])


# ----- The matrix gate ----------------------------------------------------------------------------------------
def matmul_latex(gate: MatmulGate) -> str:
    """The element-wise derivation of the matrix gate and its two dimension-rule claims."""
    n, k, m = gate.shape
    d = gate.derivation
    dW = d["dW"].rhs
    claims = []
    for label, tex in (("dW = dD X^T", "dW = dD\\, X^{\\mathsf{T}}"), ("dX = W^T dD", "dX = W^{\\mathsf{T}} dD")):
        check = d[label].check
        claims.append(f"\\item ${tex}$: {escape_tex(check.short())} ({escape_tex(check.detail)}).")
    return "\n".join([
        f"For $D = WX$ with $W$ of shape ${n}\\times {k}$ and $X$ of shape ${k}\\times {m}$, the upstream gradient "
        f"$dD = \\partial L/\\partial D$ has the shape of $D$, ${n}\\times {m}$. Backprop through the gate is the "
        "gradient of the scalar $L = \\sum_{ij} dD_{ij} D_{ij}$ with $D_{ij} = \\sum_r W_{ir} X_{rj}$; "
        "\\texttt{sympy.diff} by every element gives, for example,",
        f"\\[ dW_{{11}} = {book_latex(dW[0, 0])}, \\]",
        "and the dimension rule (the only products with the right shapes) is checked element by element:",
        "\\begin{itemize}", *claims,
        f"\\item numerically, with random values and central differences of $L$: block-relative error "
        f"${_full(gate.numeric_error)}$ (bound ${_full(FD_TOLERANCE)}$).",
        "\\end{itemize}",
    ])


# ----- Documents ----------------------------------------------------------------------------------------------
COURSE_EXAMPLES = (
    ("A first circuit", "A first circuit: $f = (x+y)z$",
     "(x+y)*z", "x=-2,y=5,z=-4", (),
     "The add gate routes its upstream gradient unchanged to both inputs; the multiply gate swaps its inputs: "
     "the gradient for one input is the upstream gradient times the other input."),
    ("A sigmoid neuron", "A 2-input sigmoid neuron, gate by gate",
     "1/(1+exp(-(w0*x0+w1*x1+w2)))", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3", (),
     "The sigmoid written out as its definition: negate, exp, add one, invert. Every gate is simple and its local "
     "gradient is one \\texttt{sympy.diff}."),
    ("A fused sigmoid gate", "The same neuron with one sigmoid gate",
     "sigmoid(w0*x0+w1*x1+w2)", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3", ("sigmoid",),
     "Fusing the four gates into one sigmoid gate gives the same gradients, with the local gradient "
     "$\\sigma(1-\\sigma)$ computed from the forward value."),
    ("Staged backprop", "Staged backprop: $f = \\dfrac{x + \\sigma(y)}{\\sigma(x) + (x+y)^2}$",
     "(x + sigma(y)) / (sigma(x) + (x+y)^2)", "x=3,y=-4", ("sigmoid",),
     "Here $x$ is used three times and $y$ twice: their gradients are the sums ($+{=}$) of what flows back along "
     "each use."),
)


def course_examples_chapter() -> str:
    """The course-notes examples, computed and checked now, as a chapter body (no preamble, no chapter heading)."""
    parts = [
        "% bpv graph: course-notes examples (generated by derive.graph.tex.course_examples_chapter)",
        "A computational graph splits a function into gates. Forward, each gate computes its output from its inputs; "
        "backward, each gate multiplies the gradient arriving at its output (upstream) by its own local gradients "
        "and passes the products (downstream) to its inputs, where they add up when an input is used more than once. "
        f"In the circuits below the forward value is written above each wire in \\textcolor{{{FORWARD_COLOR}}}"
        f"{{green}} and the gradient below it in \\textcolor{{{GRADIENT_COLOR}}}{{red}}. Every local gradient is "
        "derived by SymPy from the gate's formula, and the final gradients are checked against \\texttt{sympy.diff} "
        "of the whole expression and against finite differences.",
    ]
    for short, title, expr, at, fuse, intro in COURSE_EXAMPLES:
        graph = build_graph(expr, at, fuse)
        parts += [f"\\section[{short}]{{{title}}}", intro, graph_section(graph)]
    parts += ["\\section[The matrix gate]{The matrix gate $D = WX$}", matmul_latex(derive_matmul_gate(2, 3, 4))]
    return "\n\n".join(parts) + "\n"


def graph_document(graph: StagedGraph, title: str | None = None) -> str:
    """A standalone LaTeX document for one graph (``bpv graph --pdf``)."""
    heading = escape_tex(title) if title else "bpv graph"
    return "\n".join([
        "\\documentclass[11pt]{article}",
        "\\usepackage[a4paper,margin=2cm]{geometry}",
        "\\usepackage[T1]{fontenc}",
        "\\usepackage{amsmath,booktabs,tikz,xcolor}",
        "\\pagestyle{empty}",
        "\\begin{document}",
        f"\\section*{{{heading}}}",
        "Forward values above each wire (green), gradients below (red); then one row per gate, then the final "
        "gradients with their checks.",
        "",
        graph_section(graph),
        "\\end{document}",
        "",
    ])
