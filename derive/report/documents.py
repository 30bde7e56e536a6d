"""The complete LaTeX documents: one model's report (class ``article``) and the catalog book (class ``report``).

Both wrap :class:`~derive.report.data.Rendered` bodies in the shipped template (:func:`derive.report.layout.document`);
the book has one chapter per model, an introduction for the reader, and a last chapter of computational-graph
examples from :mod:`derive.graph.tex`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from derive.core.book import book_latex
from derive.core.symbols import a, delta, y
from derive.core.texbuild import escape_tex
from derive.report import layout
from derive.report.data import APPENDIX_MARK, Rendered, why_missing
from derive.report.figures import FigureFile, place_figures
from derive.report.maths import L_OUT, J
from derive.report.notation import prose_name

__all__ = ["BOOK_INTRO", "SHARED_INTRO", "catalog_document", "graph_chapter", "model_document"]


def _doc_title(title: str) -> str:
    return f"Backpropagation for \\emph{{{prose_name(title)}}}"


def model_document(r: Rendered, *, template: str | None = None, figures: FigureFile | None = None) -> str:
    """A complete LaTeX document for one model (class ``article``); figures inline unless ``figures`` is given."""
    from derive import __version__

    title_block = (f"\\title{{{_doc_title(r.title)}\\\\[0.3em]\\large derived and verified by bpv}}\n"
                   f"\\author{{bpv {escape_tex(__version__)}}}\n\\date{{}}\n\\maketitle")
    body = place_figures(r.body, r.figures, figures).replace(APPENDIX_MARK, "\\appendix")
    return layout.document(body, title_block=title_block, documentclass="article", template=template,
                           pictures=figures is None or len(figures.pages) < len(r.figures), single_pass=True)


BOOK_INTRO = r"""
\chapter*{How to read this book}
\addcontentsline{toc}{chapter}{How to read this book}
Backpropagation is four equations, BP1--BP4, that say how the cost of a neural network changes with each of its
weights and biases. Textbooks state them; this book was written by a program, bpv, that \emph{derives} them. For each
network of its catalog it starts from the definitions alone --- weighted inputs, activations, a cost --- and has the
computer-algebra system SymPy work out every derivative, step by step. Every equation in the book is printed from the
expression SymPy computed; none was typed in by hand. Where a textbook form appears (such as
<<SIGMA_CLAIM>> or <<DELTA_CLAIM>>) it is a \emph{claim}, compared against the derived result,
and the comparison is recorded under the equation.

Each chapter reads like a textbook's proof and is a few pages long. \textbf{Notation} fixes the symbols and the
shapes of this network's arrays. \textbf{The model} writes down the forward pass and the cost. \textbf{The
derivation} differentiates each activation and the cost, gives the output error $\delta^L$, then derives BP1--BP4
from the chain rule, each with this network's batch forms and shapes beside it; one line under each equation says
why it holds and how strongly that was established, and its mark links to the evidence. The evidence is in the
appendices, a chapter per network: the \textbf{proof log} (every step, its method, instances and precision), the
\textbf{verification} of the generated code against a hand-written backprop, finite differences and the complex
step, with plots, the \textbf{generated kernel}, and the commands that \textbf{reproduce} it all.
The last chapter turns to computational graphs: backprop gate by gate, as in the CS231n course notes.
"""


#: added to the introduction when the book has chapters on networks with shared weights
SHARED_INTRO = r"""
The chapters on networks with \emph{shared weights} --- a small convolutional net and a vanilla recurrent net ---
follow a plan of their own. \textbf{What the layers compute} gives each layer's definition with a picture drawn
to the network's own sizes: the kernel as a window sliding over the padded input, the pooling windows, the
recurrent net unrolled in time. \textbf{The key steps} are the results to remember (the kernel gradient as a
correlation, the input gradient as a full convolution with the flipped kernel, the pooling tie convention;
backpropagation through time), each with a sentence on why it has that shape; the full derivation, the kernel and
the verification are in its appendix chapter.
"""


def _book_intro() -> str:
    zz = sp.Symbol("z")
    sig = sp.Function("sigma")
    sigma_claim = f"${book_latex(sp.Derivative(sig(zz), zz))} = {book_latex(sig(zz) * (1 - sig(zz)))}$"
    delta_claim = f"${book_latex(delta[L_OUT, J])} = {book_latex(a[L_OUT, J] - y[J])}$"
    return BOOK_INTRO.replace("<<SIGMA_CLAIM>>", sigma_claim).replace("<<DELTA_CLAIM>>", delta_claim)


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
    chapters = [_book_intro()]
    if any(getattr(r.spec, "kind", "dense") != "dense" for r in rendered):
        chapters[0] += SHARED_INTRO
    refs = list(figures) if figures is not None else [None] * len(rendered)
    evidence = []
    for r, ref in zip(rendered, refs, strict=True):
        main, _, appendix = place_figures(r.body, r.figures, ref).partition(APPENDIX_MARK)
        chapters.append(f"\\chapter{{{prose_name(r.title)}}}\n\n{main}")
        if appendix.strip():
            evidence.append(f"\\chapter{{Evidence: {prose_name(r.title)}}}\n\n{appendix}")
    chapters.append(f"\\chapter{{{escape_tex(graph_title)}}}")
    if graph_chapter is not None:
        chapters.append(graph_chapter)
    else:
        chapters.append(layout.missing_tex("The course-notes graph examples", graph_missing or "not available"))
    if evidence:  # the appendices: a chapter of evidence per model, its sections as in the model's own report
        chapters.append("\\appendix")
        chapters.extend(evidence)
    return layout.document("\n\n".join(chapters), title_block=title_block, documentclass="report",
                           class_options="openany", template=template)


def graph_chapter() -> dict:
    """catalog_document's keyword arguments for the computational-graph chapter (or why it is missing)."""
    from derive.graph import tex as graph_tex

    title = graph_tex.CHAPTER_TITLE
    try:
        return {"graph_chapter": graph_tex.course_examples_chapter(), "graph_title": title}
    except Exception as exc:
        return {"graph_missing": f"course_examples_chapter failed: {why_missing(exc)}", "graph_title": title}
