"""``bpv report``: LaTeX derivation reports compiled to PDF, one per model plus a combined catalog book."""

from __future__ import annotations

import argparse
import os
import sys

from derive.cli.args import add_model_arguments, add_seed_argument, models_from_args, print_warnings
from numeric.errors import BadInput

ORDER = 70
HELP = "write LaTeX/PDF derivation reports: notation, derivation, kernel, verification, plots"
DESCRIPTION = """\
Write a report a student can print and learn backprop from, for each model: the notation (symbols and shapes),
the model (forward pass, cost; bce derived from the Bernoulli likelihood), the derivation step by step (sigma'
for each activation, dC/da, delta^L, BP1-BP4, the batch matrix forms, each step with its justification and how
it was checked), the generated NumPy kernel, the verification table (every witness pair, block-relative error,
bound, verdict) and plots (finite-difference error against h; each activation and its derivative on [-6, 6]).
Every equation is printed from the SymPy expression bpv derived.

With no model, every catalog model gets a PDF and a combined book (catalog.pdf) is written as well. A network with
shared weights (lenet_tiny, a convolutional net; char_rnn, a vanilla RNN) gets a chapter of its own: what each
layer computes with a picture (the kernel sliding over the padded input; the RNN unrolled over T steps), the key
steps of its backward (the kernel gradient as a correlation, the input gradient as a full convolution with the
flipped kernel, the pooling tie convention; BPTT), the whole derivation, the kernel and the verification. Derivations
and verification results are reused from the cache when present. PDFs are compiled with latexmk/pdflatex (no
shell escape) in a temporary folder; the .tex is kept beside each PDF, and a failed build keeps the previous PDF.

Exit status: 0 every report written and everything in it holds; 1 a LaTeX error, no TeX engine (the .tex files
are written and the packages to install are named), or something in a report does not hold; 2 bad input.

examples:
  bpv report                                  every catalog model + reports/catalog.pdf
  bpv report binary_classifier -o out/        one model
  bpv report lenet_tiny char_rnn              the convolutional and the recurrent catalog models
  bpv report --net 1x8x8-c4k3p1-pool2-flat-10 --act relu,softmax     a convolutional net of your own
  bpv report --rnn 5-8-5 --steps 6            a vanilla RNN unrolled over 6 steps
  bpv report --net 3-1 --act sigmoid --cost bce --title "logistic regression"
  bpv report regression --no-pdf              the .tex only
  bpv train --net 2-100-3 --act relu,softmax --cost cce --data spiral --json run.json
  bpv report --net 2-100-3 --act relu,softmax --cost cce --history run.json    with the training curves
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("-o", "--output", default="reports", metavar="DIR", help="output folder (default: reports/)")
    p.add_argument("--no-pdf", action="store_true", help="write the .tex files only, do not compile")
    p.add_argument("--title", help="title of the report (one model only; default: the model's name)")
    p.add_argument("--combined", action=argparse.BooleanOptionalAction, default=None,
                   help="also write the combined book catalog.pdf (default: when there is more than one model)")
    p.add_argument("--jobs", type=int, default=None,
                   help="models gathered and PDFs compiled in parallel (default: the number of CPUs, at most 4)")
    p.add_argument("--no-cache", action="store_true", help="recompute derivations and verification results")
    p.add_argument("--history", metavar="FILE",
                   help="add a Training section with the loss (and accuracy) curves of a `bpv train ... --json FILE` "
                        "run of this model (one model only)")
    add_seed_argument(p)


def _history(args: argparse.Namespace, specs: list) -> object | None:
    """The ``--history`` of a `bpv train` run, checked against the one (dense) model it belongs to."""
    if args.history is None:
        return None
    from derive.report.training import load_history

    if len(specs) != 1:
        raise BadInput("--history is the training run of one model: give exactly one model with it")
    if getattr(specs[0], "kind", "dense") != "dense":
        raise BadInput(f"--history is a `bpv train` run, and bpv train takes dense nets; {specs[0].title} is a "
                       f"{specs[0].kind} net: drop --history")
    return load_history(args.history, specs[0])


def run(args: argparse.Namespace) -> int:
    from derive.core.texbuild import DEBIAN_PACKAGES
    from derive.report.build import build_reports
    from numeric.progress import Progress

    specs = models_from_args(args, default_all=True)  # none named: every catalog model, dense and shared
    jobs = args.jobs if args.jobs is not None else max(1, min(4, os.cpu_count() or 1))
    if jobs < 1:
        raise BadInput(f"--jobs must be a positive integer, got {jobs}")
    if args.title is not None and len(specs) != 1:
        raise BadInput("--title names one report: give exactly one model with it")
    for spec in specs:
        print_warnings(spec)
    history = _history(args, specs)

    from derive.core.manifest import refuse_overwrite
    from derive.report.build import planned_outputs

    refuse_overwrite(planned_outputs(specs, args.output, combined=args.combined), args.force, "-o")

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    rendered, outcomes = build_reports(
        specs, args.output, pdf=not args.no_pdf, combined=args.combined, title=args.title, seed=args.seed,
        jobs=jobs, use_cache=not args.no_cache, progress=Progress(len(specs)), history=history,
    )
    status = 0
    for r in rendered:
        for err in r.errors:
            say(f"error: {r.spec.name or r.title}: {err}")
        if r.missing:
            say(f"warning: {r.spec.name or r.title}: incomplete report: "
                + "; ".join(f"{k}: {v}" for k, v in r.missing.items()))
        if not r.ok:
            status = 1
            if r.holds is False:
                say(f"{r.spec.name or r.title}: the derivation does not hold (see the report)")
            if r.verified is False:
                say(f"{r.spec.name or r.title}: the verification fails (see the report)")
    no_engine = [o for o in outcomes if o.no_engine]
    for o in outcomes:
        if o.ok:
            print(o.path)
        elif not o.no_engine:
            status = 1
            say(f"bpv report: {o.path}: {o.message}")
    if no_engine:
        status = 1
        for o in no_engine:
            print(o.path.with_suffix(".tex"))
        say(f"bpv report: no TeX engine found (latexmk and pdflatex): wrote {len(no_engine)} .tex file(s), no PDF. "
            f"Install the engine with:\n  sudo apt-get install --no-install-recommends {DEBIAN_PACKAGES}")
    return status


__all__ = ["DESCRIPTION", "HELP", "ORDER", "add_arguments", "run"]
