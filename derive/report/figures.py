"""A report's figures: typeset once into ``<slug>-figures.pdf`` and included as pages, or placed inline.

The sections leave a ``<<FIG:key>>`` placeholder per tikzpicture (:meth:`ReportData.figure`). With a compiled
figures file, :func:`place_figures` replaces each by ``\\includegraphics`` of its page, so pgfplots is not re-run in
every LaTeX pass of every document; without one (``--no-pdf``), by the picture itself, so the ``.tex`` compiles on
its own.
"""

from __future__ import annotations

import os
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


def compile_figures(r: Rendered, out_dir: str | os.PathLike) -> FigureFile | None:
    """Typeset the figures of ``r`` once, as ``<slug>-figures.pdf`` beside the report; None if that fails.

    The reports then include the pages (pgfplots is not re-run in every LaTeX pass of every document), and the
    ``.tex`` kept beside a report still compiles by hand, with the figures file next to it.
    """
    from derive.core.files import write_output
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
    write_output(Path(out_dir) / name, data)
    return FigureFile(name, {k: i for i, k in enumerate(keys, start=1)}, data)
