"""``bpv verify``: every model, every witness, one verdict (the CLI face of :mod:`derive.verification`)."""

from __future__ import annotations

import argparse
import sys
import time

from derive.cli.args import (
    add_json_argument,
    add_model_arguments,
    add_seed_argument,
    jobs_value,
    models_from_args,
    print_warnings,
)
from derive.core.files import write_json
from derive.verification.api import CHECKS, verify_models
from derive.verification.rows import BOUNDS, Verdict, format_table
from derive.verification.sampling import EXHAUSTIVE_MAX, N_PROBES, SAMPLE_PER_BLOCK
from derive.verification.schema import report_dict
from numeric.errors import BadInput

ORDER = 20
HELP = "verify models end to end: derivation, generated kernel, hand-written backprop, finite differences"
DESCRIPTION = f"""\
Verify each model with every witness bpv has, on one random instance (parameters and a batch of 3 samples drawn
from --seed), and print one row per (model, check, parameter block):

  derivation                  the model's SymPy derivation: every part's checks hold
  shipped kernel vs generated a catalog model's numeric/kernels/<name>.py is byte-identical to the kernel
                              generated now (skipped when it was printed by another SymPy version)
  kernel vs backprop          the generated NumPy kernel against the hand-written backprop: the loss value and
                              every element of every gradient block, bound {BOUNDS['exact']:g}
  kernel|backprop vs central  each against central differences with Richardson extrapolation,
                              bound {BOUNDS['central']:g}
  kernel|backprop vs complex  each against the complex-step derivative, bound {BOUNDS['complex']:g}
  torch.autograd vs backprop  PyTorch's autograd as an outside oracle, bound {BOUNDS['exact']:g}
                              ("skipped: torch not installed" without PyTorch)

With dropout (--keep-prob), every witness gets the same seeded 0/1 masks. A block whose true gradient is
identically zero -- the bias before batch normalisation, proven zero by the derivation -- is measured against
the largest block instead of itself ("proven zero" rows: max|g - r| / the largest block's max).

The error is block-relative: max|g - r| / max|r| over the block. Where central differences cannot resolve a
block (its gradient is tiny next to the loss: their rounding floor 3 eps |C| / h exceeds 1e-7 of it) the row
shows the raised bound and says why; the complex step still checks that block at 1e-12.
Models with up to {EXHAUSTIVE_MAX} parameters are checked element by element; bigger ones on a stratified sample
of {SAMPLE_PER_BLOCK} elements per block (the row says how many) plus {N_PROBES} signed Gaussian probe directions
per block ("(probes)" rows: g.v against the numerical directional derivative).

With no model named, the whole catalog is verified. Progress goes to stderr; the table and a summary line to
stdout. The seed is printed, and for every model that fails, the exact command that reproduces it.
Results are cached (in $BPV_CACHE_DIR/verify or ~/.cache/bpv/verify) by the derivation hash and the seed (and
the bpv version, its code, the SymPy and NumPy versions), so a second run and `bpv report` reuse them;
--no-cache recomputes.

Exit status: 0 every check holds, 1 a check fails, 2 bad input.

examples:
  bpv verify                               the whole catalog
  bpv verify binary_classifier tanh_net --seed 7
  bpv verify --net 3-5-2 --act tanh,softmax --cost cce --layout rows
  bpv verify bn_net dropout_net               batch normalisation, dropout (torch rows use torch's own ops)
  bpv verify --net 4-8-8-3 --act relu,relu,softmax --cost cce --norm layer --keep-prob 0.8 --l2 0.01
  bpv verify --jobs 2 --json verify.json   two processes; JSON per derive/verification/schemas/verify.schema.json
  bpv verify --quiet                       only failing rows and the summary
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("--jobs", "-j", type=jobs_value, default=1, metavar="N",
                   help="verify N models at a time in separate processes, the longest expected first (default: 1)")
    p.add_argument("--no-cache", action="store_true", help="recompute instead of reusing cached results")
    p.add_argument("--no-torch", action="store_true",
                   help="leave out the torch.autograd oracle, as if PyTorch were not installed")
    p.add_argument("--quiet", "-q", action="store_true", help="print only failing rows and the summary")
    add_json_argument(p)
    add_seed_argument(p)


def run(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise BadInput(f"--jobs must be at least 1, got {args.jobs}")
    if args.seed < 0:
        raise BadInput(f"--seed must be a non-negative integer, got {args.seed}")
    specs = models_from_args(args, default_all=True)
    for spec in specs:
        print_warnings(spec)
    to_stdout_json = args.json == "-"
    out = sys.stderr if to_stdout_json else sys.stdout

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    print(f"bpv verify: {len(specs)} model(s), seed {args.seed}, jobs {args.jobs}", file=out, flush=True)
    t0 = time.perf_counter()
    checks = tuple(c for c in CHECKS if not (args.no_torch and c == "torch"))
    results = verify_models(specs, jobs=args.jobs, progress=progress, seed=args.seed, use_cache=not args.no_cache,
                            checks=checks)
    elapsed = time.perf_counter() - t0

    rows = [r for res in results for r in res.rows]
    shown = [r for r in rows if not r.holds] if args.quiet else rows
    if shown:
        print(format_table(shown), file=out)
    n_fail = sum(not r.holds for r in rows)
    n_skip = sum(r.verdict is Verdict.SKIPPED for r in rows)
    failed = [res for res in results if not res.ok]
    for res in failed:
        bad = res.failures()
        where = ", ".join(f"{r.check} [{r.block}]" for r in bad[:6]) + (" ..." if len(bad) > 6 else "")
        print(f"FAILED {res.model}: {where}", file=out)
        print(f"  reproduce: {res.reproduce()}", file=out)
    skipped = sorted({r.detail for r in rows if r.verdict is Verdict.SKIPPED and r.detail})
    verdict = "all hold" if not failed else f"{len(failed)} model(s) NOT verified"
    print(f"bpv verify: {len(results)} model(s), {len(rows)} checks: {len(rows) - n_fail - n_skip} hold, "
          f"{n_fail} fail, {n_skip} skipped" + (f" ({'; '.join(skipped)})" if skipped else "")
          + f"; seed {args.seed}; {elapsed:.1f} s - {verdict}", file=out, flush=True)
    if args.json:
        write_json(args.json, report_dict(results, seed=args.seed, elapsed=elapsed, jobs=args.jobs))
    return 0 if not failed else 1


__all__ = ["DESCRIPTION", "HELP", "ORDER", "add_arguments", "run"]
