"""The circuit drawing, the tables and the course-notes chapter: numbers from the graph, a clean layout, valid LaTeX."""

import re
import shutil
import subprocess

import pytest

import derive.graph.tex as gt
from derive.core.texbuild import compile_pdf, tex_available
from derive.graph.staged import build_graph

STAGED = "(x + sigma(y)) / (sigma(x) + (x+y)^2)"
GRAPHS = [
    ("(x+y)*z", "x=-2,y=5,z=-4", ()),
    ("1/(1+exp(-(w0*x0+w1*x1+w2)))", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3", ()),
    (STAGED, "x=3,y=-4", ()),
    (STAGED, "x=3,y=-4", ("sigmoid",)),
    ("max(a*b, c) * (a + log(b)) - tanh(c*a)^2 / (1 + exp(b))", "a=0.5,b=2,c=-1", ()),
]


def test_circuit_shows_forward_values_above_and_gradients_below():
    g = build_graph("(x+y)*z", "x=-2,y=5,z=-4")
    tikz = gt.circuit_tikz(g)
    assert tikz.count("\\node[gate]") == 2 and tikz.count("\\node[leaf]") == 3
    # x carries -2 forward and -4 backward; the add gate's output 3 and -4; f = -12 with gradient 1
    assert "node[midway,fwd] {$-2.00$} node[midway,grad] {$-4.00$}" in tikz
    assert "node[midway,fwd] {$3.00$} node[midway,grad] {$-4.00$}" in tikz
    assert "node[pos=0.55,fwd] {$-12.00$} node[pos=0.55,grad] {$1.00$}" in tikz
    assert "fwd/.style={above" in tikz and "grad/.style={below" in tikz
    assert gt.FORWARD_COLOR in tikz and gt.GRADIENT_COLOR in tikz


def test_a_branching_variable_is_drawn_once_per_use():
    g = build_graph(STAGED, "x=3,y=-4", ["sigmoid"])
    tikz = gt.circuit_tikz(g)
    assert tikz.count("{$x$}") == 3 and tikz.count("{$y$}") == 2


@pytest.mark.parametrize(("expr", "at", "fuse"), GRAPHS)
def test_layout_has_no_wire_through_a_gate_and_no_crowded_labels(expr, at, fuse):
    graph = build_graph(expr, at, fuse)
    spots, edges, _ = gt.circuit_layout(graph)
    col_w = gt.column_width(graph)
    positions = [(s.col, round(s.y, 6)) for s in spots]
    assert len(set(positions)) == len(positions)
    segments = []  # horizontal runs that carry the labels: (x0, x1, y)
    for child, parent, _ in edges:
        x0 = child.col * col_w
        x1 = parent.col * col_w - (0 if abs(child.y - parent.y) < 1e-9 else gt.BEND)
        segments.append((x0, x1, child.y))
        for s in spots:
            if s is child or s is parent:
                continue
            assert not (x0 < s.col * col_w < x1 and abs(s.y - child.y) < 0.6), (child.wire, parent.wire, s.wire)
    for i, (a0, a1, ay) in enumerate(segments):
        for b0, b1, by in segments[i + 1:]:
            if min(a1, b1) - max(a0, b0) > 0.3:  # overlapping runs: their labels need a row between them
                assert abs(ay - by) >= gt.ROW_H - 1e-9


def test_gate_table_has_one_row_per_gate_with_local_gradients():
    g = build_graph("(x+y)*z", "x=-2,y=5,z=-4")
    table = gt.gate_table_latex(g)
    assert table.count("\\\\\n") >= 2
    assert "$g_{2} = g_{1} z$" in table
    assert "$\\partial g_{2}/\\partial g_{1} = z = -4$" in table
    assert "$\\partial g_{2}/\\partial z = g_{1} = 3$" in table


def test_gradients_show_the_sum_of_contributions():
    g = build_graph(STAGED, "x=3,y=-4", ["sigmoid"])
    text = gt.gradients_latex(g)
    assert "1.583 + (-0.03576) + 0.5121 = 2.06" in text
    assert "all agree" in text and "sympy.diff" in text


def test_user_text_is_escaped():
    g = build_graph("w_0*x_1 + 1", "w_0=2,x_1=3")
    doc = gt.graph_document(g)
    assert "\\texttt{w\\_0*\\allowbreak{}x\\_1 +\\allowbreak{} 1}" in doc
    assert gt.breakable_tt("a%b&{c}") == "\\texttt{a\\%b\\&\\{c\\}}"
    assert doc.startswith("\\documentclass") and doc.rstrip().endswith("\\end{document}")


def test_chapter_is_a_body_that_needs_only_four_packages():
    chapter = gt.course_examples_chapter()
    assert "\\documentclass" not in chapter and "\\usepackage" not in chapter and "\\begin{document}" not in chapter
    assert "\\usetikzlibrary" not in chapter and "\\chapter" not in chapter
    assert chapter.count("\\section[") == 5
    assert chapter.count("\\begin{tikzpicture}") == 4
    assert "dW = dD\\, X^{\\mathsf{T}}" in chapter and "does not hold" not in chapter
    assert chapter.isascii()


@pytest.mark.tex
@pytest.mark.skipif(not tex_available() or not shutil.which("pdftotext"), reason="needs TeX and pdftotext")
def test_chapter_compiles_with_only_its_packages(tmp_path):
    doc = ("\\documentclass{report}\n\\usepackage{amsmath,booktabs,tikz,xcolor}\n\\begin{document}\n"
           f"\\chapter{{{gt.CHAPTER_TITLE}}}\n{gt.course_examples_chapter()}\\end{{document}}\n")
    pdf = compile_pdf(doc, tmp_path / "chapter.pdf")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    text = " ".join(text.split())
    assert "Backprop through computational graphs" in text
    assert "A 2-input sigmoid neuron" in text and "The matrix gate" in text
    assert re.search(r"0\.73", text) and "all agree" in text
