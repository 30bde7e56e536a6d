"""``bpv report`` as a library: render each model's report, compile the PDFs, and write the catalog book.

:func:`build_reports` writes one PDF per model and, for more than one model, a combined catalog PDF (a book: one
chapter per model and a chapter of computational-graph examples, :mod:`derive.report.documents`). Each model's body
is rendered by :func:`derive.report.body.render_model` (sections: :mod:`derive.report.sections`), in worker
processes when ``jobs`` > 1. PDFs are compiled by :func:`derive.core.texbuild.compile_pdf` (atomic; the previous
PDF survives a LaTeX error; the ``.tex`` is kept beside it), each in a thread as soon as its model is in. Each
model's plots are typeset once, into ``<name>-figures.pdf`` beside its report, and included as pages by the
model's PDF and the book (:mod:`derive.report.figures`); ``--no-pdf`` writes the plots inline instead, so each
``.tex`` compiles on its own. A section whose source module is not available says so in the PDF and in
:attr:`Rendered.missing`.

This module is not a LaTeX layout engine (:mod:`derive.report.layout` is) and computes no derivative itself.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from derive.core.texbuild import TexError, TexMissing, compile_pdf
from derive.report.body import render_safely
from derive.report.data import Rendered
from derive.report.documents import catalog_document, graph_chapter, model_document
from derive.report.figures import FigureFile, compile_figures
from numeric.blas import pin_blas
from numeric.progress import Progress
from numeric.spec import ModelSpec

__all__ = ["COMBINED_NAME", "Outcome", "build_reports", "write_document"]

COMBINED_NAME = "catalog"


def planned_outputs(specs: Sequence[Any], out: str | os.PathLike, *, combined: bool | None = None) -> list[Path]:
    """Every file :func:`build_reports` may write for ``specs`` into ``out`` (checked before any work starts)."""
    folder = Path(out)
    names = [n for spec in specs for n in (f"{spec.slug}.tex", f"{spec.slug}.pdf", f"{spec.slug}-figures.pdf")]
    if combined if combined is not None else len(specs) > 1:
        names += [f"{COMBINED_NAME}.tex", f"{COMBINED_NAME}.pdf"]
    return [folder / n for n in names]


@dataclass
class Outcome:
    """What happened to one output file."""

    path: Path
    pdf: bool
    ok: bool
    message: str = ""
    no_engine: bool = False  # no TeX engine: the .tex was written, no PDF


def write_document(tex: str, pdf_path: str | os.PathLike, *, pdf: bool = True,
                   files: dict[str, bytes] | None = None) -> Outcome:
    """Write ``tex`` beside ``pdf_path`` and compile it (unless ``pdf`` is False). Never raises TexError."""
    from derive.core.files import write_output

    pdf_path = Path(pdf_path)
    if not pdf:
        write_output(pdf_path.with_suffix(".tex"), tex)
        return Outcome(pdf_path.with_suffix(".tex"), False, True, "")
    try:
        compile_pdf(tex, pdf_path, files=files)
    except TexMissing as exc:
        return Outcome(pdf_path, False, False, str(exc), no_engine=True)
    except TexError as exc:
        return Outcome(pdf_path, False, False, str(exc))
    return Outcome(pdf_path, True, True, "")


def _render_worker(spec: ModelSpec, kwargs: dict) -> Rendered:
    return render_safely(spec, kwargs)


class _Build:
    """The state of one build: rendered bodies, figure files and outcomes, filled in as models come in."""

    def __init__(self, specs: Sequence[ModelSpec], out: Path, *, pdf: bool, template: str | None,
                 progress: Progress) -> None:
        self.specs, self.out, self.pdf, self.template, self.progress = specs, out, pdf, template, progress
        self.rendered: list[Rendered | None] = [None] * len(specs)
        self.figure_files: list[FigureFile | None] = [None] * len(specs)
        self.outcomes: dict[int, Outcome] = {}
        self.figures_ready = [threading.Event() for _ in specs]

    def _written(self, o: Outcome, t1: float) -> None:
        self.progress.note(f"  {o.path} {'written' if o.ok else 'FAILED'} ({time.perf_counter() - t1:.1f} s)")

    def finish(self, i: int) -> None:
        """Figures, then the model's own document (runs in a compile thread)."""
        r = self.rendered[i]
        t1 = time.perf_counter()
        try:
            self.figure_files[i] = compile_figures(r, self.out) if self.pdf else None
        finally:
            self.figures_ready[i].set()
        ref = self.figure_files[i]
        files = {ref.name: ref.data} if ref is not None else None
        o = write_document(model_document(r, template=self.template, figures=ref), self.out / f"{r.spec.slug}.pdf",
                           pdf=self.pdf, files=files)
        self.outcomes[i] = o
        self._written(o, t1)

    def book(self) -> Outcome:
        """The combined book: as soon as every model's figures exist (alongside the last model documents)."""
        for ev in self.figures_ready:
            ev.wait()
        t1 = time.perf_counter()
        ready = [r for r in self.rendered if r is not None]
        refs = [f for f, r in zip(self.figure_files, self.rendered, strict=True) if r is not None]
        files = {f.name: f.data for f in refs if f is not None}
        tex = catalog_document(ready, template=self.template, figures=refs, **graph_chapter())
        o = write_document(tex, self.out / f"{COMBINED_NAME}.pdf", pdf=self.pdf, files=files or None)
        self._written(o, t1)
        return o

    def gathered(self, i: int, r: Rendered) -> None:
        self.rendered[i] = r
        state = "ok" if r.ok else "PROBLEMS"
        extra = f"; incomplete: {', '.join(r.missing)}" if r.missing else ""
        self.progress.step(f"{r.spec.name or r.title}: gathered in {r.elapsed:.1f} s, {state}{extra}")

    def render_all(self, kwargs: dict, jobs: int, compilers: concurrent.futures.Executor) -> list:
        """Render every model (in ``jobs`` processes when > 1); each one's PDF is submitted as soon as it is in."""
        pending = []
        if jobs > 1 and len(self.specs) > 1:
            ctx = multiprocessing.get_context("spawn")
            # each worker pins BLAS to one thread as it starts (docs/conventions.md § Measuring)
            with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(self.specs)), mp_context=ctx,
                                                        initializer=pin_blas) as pool:
                futs = {pool.submit(_render_worker, s, kwargs): i for i, s in enumerate(self.specs)}
                for fut in concurrent.futures.as_completed(futs):
                    self.gathered(futs[fut], fut.result())
                    pending.append(compilers.submit(self.finish, futs[fut]))
        else:
            for i, s in enumerate(self.specs):
                self.gathered(i, render_safely(s, {**kwargs, "progress": self.progress.note}))
                pending.append(compilers.submit(self.finish, i))
        return pending


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
    progress: Progress | None = None,
    history: dict | None = None,
) -> tuple[list[Rendered], list[Outcome]]:
    """Render and write the reports of ``specs`` into ``out_dir``; see the module docstring.

    ``combined`` (default: when there is more than one model) also writes ``catalog.pdf``. ``title`` retitles a
    single model's report. ``jobs`` > 1 gathers models in parallel processes; each model's PDF is compiled (in a
    thread) as soon as its data is in, while the others are still being gathered; the combined book starts as soon
    as every model's figures exist. ``progress`` (default: quiet) gets a step per model gathered and a note per
    file written. ``history`` (one model only: :func:`derive.report.training.load_history`) adds its Training section.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if title is not None and len(specs) != 1:
        from numeric.errors import BadInput

        raise BadInput("--title names one report: give exactly one model with it")
    combined = len(specs) > 1 if combined is None else combined
    build = _Build(specs, out, pdf=pdf, template=template,
                   progress=progress if progress is not None else Progress(len(specs), enabled=False))
    if history is not None and len(specs) != 1:
        from numeric.errors import BadInput

        raise BadInput("--history is the training run of one model: give exactly one model with it")
    kwargs = {"seed": seed, "use_cache": use_cache, "title": title, "history": history}
    # one more compile thread than jobs: the book, the longest document, starts without waiting for a free slot
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs) + int(combined)) as compilers:
        pending = build.render_all(kwargs, jobs, compilers)
        book_future = compilers.submit(build.book) if combined else None
        for fut in pending:
            fut.result()
        result = [build.outcomes[i] for i in range(len(specs))]
        if book_future is not None:
            result.append(book_future.result())
    return [r for r in build.rendered if r is not None], result
