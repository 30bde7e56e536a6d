"""A report's figures: typeset once into a figures PDF whose pages the report includes, or placed inline.

The sections leave a ``<<FIG:key>>`` placeholder per tikzpicture (:meth:`ReportData.figure`). With a compiled
figures file, :func:`place_figures` replaces each by ``\\includegraphics`` of its page, so pgfplots is not re-run in
every LaTeX pass of every document (the model's PDF and the book); the figures file lives only in the compile
folder, so each PDF holds its figures and nothing is written beside it. Without one, each placeholder becomes the
picture itself: that is the ``.tex`` kept beside the PDF, which compiles on its own.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from derive.core.texbuild import TexError, compile_pdf
from derive.report.data import Rendered

__all__ = ["FigureFile", "compile_figures", "place_figures"]


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


def compile_figures(r: Rendered) -> FigureFile | None:
    """Typeset the figures of ``r`` once, into a PDF held in memory; None if there are none or that fails
    (the report then places them inline)."""
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
    return FigureFile(name, {k: i for i, k in enumerate(keys, start=1)}, data)
