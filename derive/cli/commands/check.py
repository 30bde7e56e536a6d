"""``bpv check``: verify the equations of a LaTeX or Markdown document against the derivation."""

from __future__ import annotations

import argparse
import sys

from derive.cli.args import (
    add_json_argument,
    add_model_arguments,
    add_seed_argument,
    model_flags_given,
    models_from_args,
    seconds_value,
)
from derive.core.files import write_json
from numeric.errors import BadInput

ORDER = 50
HELP = "check the equations of a LaTeX or Markdown document (proven / refuted / ambiguous / unparsed)"
DESCRIPTION = """\
Read a LaTeX (.tex) or Markdown (.md) document, find every equation ($$...$$, \\[...\\], inline $...$ holding a
relation, equation/align/eqnarray rows with their \\tag and \\label), understand it in neural-network notation
(w^l_{jk}, a^{l-1}_k, delta^L_j, W^{[l]}, A^{[l-1]T}, dW, dZ, sigma'(z), \\odot, \\frac{\\partial C}{\\partial w},
\\nabla_a C, \\sum_k ...) and check it against the derivation: both sides are evaluated on a small instance of the
model, for every valid value of the free indices, with the true derivatives of the composed cost.

One row per equation: line, tag, verdict, reason. Verdicts:
  proven         holds (the method says how it was checked)
  refuted        a counterexample, and the likely slip: sign, factor 2, stray/missing 1/m, missing sigma',
                 transpose, swapped index
  ambiguous      true under one common convention, false under another (e.g. dZ per sample or dC/dZ)
  definition     \\equiv, :=, or the definition of the cost
  not checkable  \\approx, update rules, quantities without a value on the model
  unparsed       not understood (with the reason); never refuted

The model: a catalog name or --net/--act/--cost/--reduction/--layout, else a directive in the document,
  % bpv: net=2-3-1 act=sigmoid cost=bce reduction=mean layout=columns convention=course
  <!-- bpv: act=tanh,sigmoid cost=bce -->
(keys: model, net, act, cost, reduction, layout, bias, convention, jacobian), else 2-3-4 sigmoid, quadratic cost.
A convolutional or recurrent model (lenet_tiny, char_rnn, --net 1x8x8-c4k3p1-pool2-flat-10, --rnn 5-8-5, or
model=lenet_tiny in a directive) has its own names: convolution and max-pool in index notation
(\\frac{\\partial C}{\\partial K_{o,c,u,v}} = \\sum_{n,i,j} \\delta_{n,o,i,j} X_{n,c,i s+u-p,j s+v-p}, db_o,
dX_{n,c,h,w}, dX_{h,w} of a 2 x 2 pool), BPTT in matrix notation (dh = W_{hy}^T dy + dh_{next},
dh_{raw} = (1 - h_t^2) \\odot dh, dW_{hh} = \\sum_t dh_{raw,t} h_{t-1}^T); see docs/check.md.
Each equation runs in a worker with a time limit (--timeout).

Exit status: 0 nothing refuted, 1 something refuted (or, with --catalog, a catalog claim not proven),
2 bad input.

examples:
  bpv check notes.md
  bpv check lecture.tex --net 4-3-1 --act sigmoid --cost bce -v
  bpv check homework.tex binary_classifier --json results.json
  bpv check --catalog
"""

_VERDICT_WIDTH = 13


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", metavar="FILE", help="the .tex or .md document to check")
    add_model_arguments(p, many=False)
    p.add_argument("--convention", choices=("course", "batch"),
                   help="what dZ/dA mean: course = per-sample dC_x/dZ stacked (course notes), batch = dC/dZ "
                        "(default: try both and call a claim ambiguous when they disagree)")
    p.add_argument("--catalog", action="store_true", help="check the built-in catalog of textbook claims")
    p.add_argument("--timeout", type=seconds_value, default=30.0, metavar="SECONDS",
                   help="time limit per equation (default: 30; at most a day)")
    p.add_argument("-v", "--verbose", action="store_true", help="also print what was understood and the method")
    add_json_argument(p)
    add_seed_argument(p)


def _context(args: argparse.Namespace):
    from derive.claims import Context

    flags = args.net or args.models or model_flags_given(args) or getattr(args, "rnn", None)
    dz = {"course": "per_sample", "batch": "batch"}.get(args.convention or "")
    if not flags:
        return Context(dz=dz, cost_known=False) if dz else None
    spec = models_from_args(args)[0]
    return Context(spec, f"from the command line: {spec.title}", dz, True, declared=True)


def _print_rows(report, verbose: bool) -> None:
    context = None
    if verbose:
        for e in report.expansions:
            print(f"macro: {e}")
    for r in report.rows:
        if r.context != context:
            context = r.context
            print(f"model: {context}")
        tag = r.tag or "-"
        print(f"{r.line:>5}  {tag:<10} {r.verdict:<{_VERDICT_WIDTH}} {r.reason}")
        if r.repair:
            print(f"{'':>5}  {'':<10} {'':<{_VERDICT_WIDTH}} repair: {r.repair}")
        if verbose:
            if r.understood:
                print(f"{'':>5}  {'':<10} {'':<{_VERDICT_WIDTH}} understood: {r.understood}")
            if r.method:
                print(f"{'':>5}  {'':<10} {'':<{_VERDICT_WIDTH}} method: {r.method}")
            if r.strength:
                print(f"{'':>5}  {'':<10} {'':<{_VERDICT_WIDTH}} strength: {r.strength}")
    counts = ", ".join(f"{n} {v}" for v, n in report.counts().items() if n)
    print(f"{report.source}: {len(report.rows)} equation(s): {counts or 'none found'}")
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from derive.claims import check_file, check_text
    from derive.claims.textbook import catalog_document

    if args.catalog:
        if args.file:
            raise BadInput("--catalog checks the built-in catalog: give no FILE with it")
        report = check_text(catalog_document(), "md", None, source="catalog", timeout=args.timeout, seed=args.seed)
        failed = any(r.verdict != "proven" for r in report.rows)
    else:
        if not args.file:
            raise BadInput("no FILE given: bpv check FILE [MODEL | --net ...], or bpv check --catalog")
        report = check_file(args.file, _context(args), timeout=args.timeout, seed=args.seed)
        failed = report.refuted
    if args.json != "-":
        _print_rows(report, args.verbose)
    if args.json:
        write_json(args.json, {"bpv": "check", **report.to_dict()})
    sys.stdout.flush()
    return 1 if failed else 0


__all__ = ["DESCRIPTION", "HELP", "ORDER", "add_arguments", "run"]
