"""``bpv report`` as a library: render each model's report, compile the PDFs, and write the catalog book.

:func:`build_reports` writes one PDF per model and, for more than one model, a combined catalog PDF (a book: one
chapter per model and a chapter of computational-graph examples, :mod:`derive.report.documents`). Each model's body
is rendered by :func:`derive.report.body.render_model` (sections: :mod:`derive.report.sections`), in worker
processes when ``jobs`` > 1. PDFs are compiled by :func:`derive.core.texbuild.compile_pdf` (atomic; the previous
PDF survives a LaTeX error; the ``.tex`` is kept beside it), each in a thread as soon as its model is in. Each
model's plots are typeset once, into a figures PDF in the compile folder, and included as pages by the model's
PDF and the book (:mod:`derive.report.figures`): each PDF holds its figures; the ``.tex`` kept beside it has the
plots inline, so it compiles on its own. A section whose source module is not available says so in the PDF and in
:attr:`Rendered.missing`.

A re-run with nothing changed rebuilds nothing: each report's inputs are keyed before any work
(:mod:`derive.report.uptodate`), and a model whose outputs were built from the same key and are unchanged since is
skipped ("up to date"), as is the book when its chapters' keys are the same. When the book must be rebuilt, every
model is gathered again (the book needs their bodies); ``use_cache=False`` (``--no-cache``) rebuilds everything.

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
from derive.report import uptodate
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
    suffixes = (".tex", ".pdf", uptodate.SUFFIX)
    names = [spec.slug + suffix for spec in specs for suffix in suffixes]
    if combined if combined is not None else len(specs) > 1:
        names += [COMBINED_NAME + suffix for suffix in (".tex", ".pdf", uptodate.SUFFIX)]
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
                   files: dict[str, bytes] | None = None, kept: str | None = None) -> Outcome:
    """Write ``kept`` (default ``tex``: the standalone source) beside ``pdf_path`` and compile ``tex`` (unless
    ``pdf`` is False) with ``files`` in its compile folder. Never raises TexError."""
    from derive.core.files import write_output

    pdf_path = Path(pdf_path)
    write_output(pdf_path.with_suffix(".tex"), kept if kept is not None else tex)
    if not pdf:
        return Outcome(pdf_path.with_suffix(".tex"), False, True, "")
    try:
        compile_pdf(tex, pdf_path, keep_tex=False, files=files)
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
                 progress: Progress, keys: list[str]) -> None:
        self.specs, self.out, self.pdf, self.template, self.progress = specs, out, pdf, template, progress
        self.keys = keys  # each model's input key (derive.report.uptodate.model_key)
        self.rendered: list[Rendered | None] = [None] * len(specs)
        self.figure_files: list[FigureFile | None] = [None] * len(specs)
        self.outcomes: dict[int, Outcome] = {}
        self.figures_ready = [threading.Event() for _ in specs]
        self.skipped: set[int] = set()

    def main_output(self, name: str) -> Path:
        """The file a document's key is kept beside: its PDF, or its ``.tex`` with ``--no-pdf``."""
        return self.out / f"{name}{'.pdf' if self.pdf else '.tex'}"

    def skip(self, i: int, title: str | None) -> None:
        """Model ``i`` is up to date: no work, a progress line, and a clean result carried over from its last build."""
        spec = self.specs[i]
        self.skipped.add(i)
        status = uptodate.recorded_status(self.main_output(spec.slug))
        missing = status.get("missing")
        self.rendered[i] = Rendered(spec, title or spec.title, "", holds=status.get("holds"),
                                    verified=status.get("verified"),
                                    missing={str(k): str(v) for k, v in missing.items()} if isinstance(missing, dict)
                                    else {})
        self.outcomes[i] = Outcome(self.main_output(spec.slug), self.pdf, True, "up to date")
        self.figures_ready[i].set()
        problems = "" if self.rendered[i].ok else ", PROBLEMS (as when it was built)"
        self.progress.step(f"{spec.name or spec.title}: up to date{problems}")

    def remember(self, name: str, key: str, clean: bool, status: dict | None = None) -> None:
        """After a build of document ``name`` that wrote every file and crashed nowhere (``clean``), keep its key,
        its files' digests and its verdicts ``status`` (uptodate.record)."""
        if not clean:
            return
        written = [self.out / f"{name}.tex"] + ([self.out / f"{name}.pdf"] if self.pdf else [])
        uptodate.record(self.main_output(name), key, written, status)

    def _written(self, o: Outcome, t1: float) -> None:
        self.progress.note(f"  {o.path} {'written' if o.ok else 'FAILED'} ({time.perf_counter() - t1:.1f} s)")

    def finish(self, i: int) -> None:
        """Figures, then the model's own document (runs in a compile thread)."""
        r = self.rendered[i]
        t1 = time.perf_counter()
        try:
            self.figure_files[i] = compile_figures(r) if self.pdf else None
        finally:
            self.figures_ready[i].set()
        ref = self.figure_files[i]
        files = {ref.name: ref.data} if ref is not None else None
        kept = model_document(r, template=self.template) if ref is not None else None
        o = write_document(model_document(r, template=self.template, figures=ref), self.out / f"{r.spec.slug}.pdf",
                           pdf=self.pdf, files=files, kept=kept)
        self.outcomes[i] = o
        self._written(o, t1)
        status = {"holds": r.holds, "verified": r.verified, "missing": dict(r.missing)}
        self.remember(r.spec.slug, self.keys[i], o.ok and not r.errors, status)

    def book(self) -> Outcome:
        """The combined book: as soon as every model's figures exist (alongside the last model documents)."""
        for ev in self.figures_ready:
            ev.wait()
        t1 = time.perf_counter()
        ready = [r for r in self.rendered if r is not None]
        refs = [f for f, r in zip(self.figure_files, self.rendered, strict=True) if r is not None]
        files = {f.name: f.data for f in refs if f is not None}
        graph = graph_chapter()
        tex = catalog_document(ready, template=self.template, figures=refs, **graph)
        kept = catalog_document(ready, template=self.template, **graph) if files else None
        o = write_document(tex, self.out / f"{COMBINED_NAME}.pdf", pdf=self.pdf, files=files or None, kept=kept)
        self._written(o, t1)
        clean = len(ready) == len(self.specs) and not any(r.errors for r in ready)
        self.remember(COMBINED_NAME, self.book_key(), o.ok and clean)
        return o

    def book_key(self) -> str:
        return uptodate.book_key(self.keys, pdf=self.pdf, template=self.template)

    def gathered(self, i: int, r: Rendered) -> None:
        self.rendered[i] = r
        state = "ok" if r.ok else "PROBLEMS"
        extra = f"; incomplete: {', '.join(r.missing)}" if r.missing else ""
        self.progress.step(f"{r.spec.name or r.title}: gathered in {r.elapsed:.1f} s, {state}{extra}")

    def render_all(self, kwargs: dict, jobs: int, compilers: concurrent.futures.Executor) -> list:
        """Render every model (in ``jobs`` processes when > 1); each one's PDF is submitted as soon as it is in."""
        pending = []
        todo = [i for i in range(len(self.specs)) if i not in self.skipped]
        if jobs > 1 and len(todo) > 1:
            ctx = multiprocessing.get_context("spawn")
            # each worker pins BLAS to one thread as it starts (docs/conventions.md § Measuring)
            with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=ctx,
                                                        initializer=pin_blas) as pool:
                futs = {pool.submit(_render_worker, self.specs[i], kwargs): i for i in todo}
                for fut in concurrent.futures.as_completed(futs):
                    self.gathered(futs[fut], fut.result())
                    pending.append(compilers.submit(self.finish, futs[fut]))
        else:
            for i in todo:
                self.gathered(i, render_safely(self.specs[i], {**kwargs, "progress": self.progress.note}))
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
    if history is not None and len(specs) != 1:
        from numeric.errors import BadInput

        raise BadInput("--history is the training run of one model: give exactly one model with it")
    keys = [uptodate.model_key(s, seed=seed, title=title, history=history, pdf=pdf, template=template) for s in specs]
    build = _Build(specs, out, pdf=pdf, template=template, keys=keys,
                   progress=progress if progress is not None else Progress(len(specs), enabled=False))
    book_done = _skip_up_to_date(build, combined, use_cache, title)
    kwargs = {"seed": seed, "use_cache": use_cache, "title": title, "history": history}
    # one more compile thread than jobs: the book, the longest document, starts without waiting for a free slot
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs) + int(combined)) as compilers:
        pending = build.render_all(kwargs, jobs, compilers)
        book_future = compilers.submit(build.book) if combined and book_done is None else None
        for fut in pending:
            fut.result()
        result = [build.outcomes[i] for i in range(len(specs))]
        if book_future is not None:
            result.append(book_future.result())
        elif book_done is not None:
            result.append(book_done)
    return [r for r in build.rendered if r is not None], result


def _skip_up_to_date(build: _Build, combined: bool, use_cache: bool, title: str | None) -> Outcome | None:
    """Mark the models that are up to date as skipped; the book's outcome when it is up to date too, else None.

    A model is skipped only when the book (if any) is up to date as well: rebuilding the book needs every model's
    body, so a stale book means every model is gathered again.
    """
    if not use_cache:
        return None
    book = build.main_output(COMBINED_NAME)
    book_done = Outcome(book, build.pdf, True, "up to date") if combined and uptodate.is_up_to_date(
        book, build.book_key()) else None
    if combined and book_done is None:
        return None
    for i, spec in enumerate(build.specs):
        if uptodate.is_up_to_date(build.main_output(spec.slug), build.keys[i]):
            build.skip(i, title)
    if book_done is not None:
        build.progress.note(f"  {book} up to date")
    return book_done
