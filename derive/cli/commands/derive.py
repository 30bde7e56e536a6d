"""``bpv derive``: print a model's full backprop derivation step by step, with a verdict and method per step."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from derive.cli.args import add_json_argument, add_model_arguments, models_from_args, print_warnings
from derive.core.files import write_json
from derive.core.render import LATEX_END, derivation_latex, derivation_text, latex_head
from derive.core.texbuild import escape_tex
from numeric.errors import BadInput
from numeric.progress import Progress

ORDER = 10
HELP = "derive BP1-BP4 and a model's activation, cost and output-error derivatives, step by step, checked"
DESCRIPTION = """\
Derive, with SymPy and from the definitions, the backpropagation of a model, in five parts, each established by
its own method and printed step by step with its justification, its verdict and how it was checked:

  1. this model's functions: each activation's derivative (sympy.diff of the definition, proven equal to the limit
     of the difference quotient, or for a definition that branches on the sign of z (ReLU, leaky ReLU, ELU)
     checked against a 60-digit central difference; compared with the textbook closed form sigma' = sigma(1 - sigma),
     ...), the
     cost's derivative dC/da (bce itself derived from the Bernoulli likelihood) and the output error delta^L;
  2. the general rule for every width: BP1-BP4 in index form (symbolic widths, Sum, KroneckerDelta; sigma and C
     undefined functions); the multivariate chain rule is the one stated axiom, everything else is computed;
  3. the rule at small fixed widths with no axiom: SymPy's own chain rule through the composed network produces
     BP1-BP4 for every unit and weight;
  4. the batch (matrix) forms vectorised code uses, for the model's reduction and layout;
  5. this model end to end: the model's cost composed as one expression C(theta) and differentiated with
     sympy.diff, compared with the BP value in 60-digit arithmetic (every parameter of the reduced-width twin,
     a sample of every parameter block of the model itself where composing it is tractable).

Derivations are cached on disk ($BPV_CACHE_DIR or ~/.cache/bpv), keyed by the model, the SymPy and bpv versions,
so a second run is fast; --no-cache recomputes (and refreshes the entry). Progress lines for slow parts go to stderr.

Exit status: 0 every step holds, 1 a step does not hold or is undecided, 2 bad input.

examples:
  bpv derive binary_classifier
  bpv derive --net 3-1 --act sigmoid --cost bce
  bpv derive --net 3-30-10-3-1 --act sigmoid,sigmoid,relu,identity --cost mse
  bpv derive softmax_classifier --latex > softmax.tex
  bpv derive regression --json derivation.json
  bpv derive binary_classifier --functions-only     # only part 1 (fast)
  bpv derive --list
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("--latex", action="store_true", help="print LaTeX instead of text")
    p.add_argument("--list", action="store_true", help="list the catalog models and exit")
    p.add_argument("--functions-only", action="store_true",
                   help="only the model's functions (activation, cost and output-error derivatives)")
    p.add_argument("--no-cache", action="store_true",
                   help="recompute instead of reading the on-disk cache (the fresh result replaces the entry)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    add_json_argument(p)


def _parts(spec, args) -> tuple[list, Callable[[], dict]]:
    """The derivation's parts, and how to make its JSON (made only for --json: printing the steps' LaTeX and
    hashing them took 0.7 s of a warm run)."""
    if args.functions_only:
        from derive.backprop.model_functions import model_function_derivations

        parts = model_function_derivations(spec)
        return parts, lambda: {"model": spec.to_dict(), "holds": all(p.holds for p in parts),
                               "derivations": [p.to_dict() for p in parts]}
    from derive.backprop.model import derive_model

    lines = Progress(0)  # free lines only: derive_model says what it is doing
    t0 = time.perf_counter()
    tty = sys.stderr.isatty()

    def say(text: str) -> None:
        # --quiet silences progress, except on a terminal once the work has run 2 s: a long silence looks like a hang
        if not args.quiet or (tty and time.perf_counter() - t0 > 2.0):
            lines.note(f"bpv derive: {text}")

    md = derive_model(spec, use_cache=not args.no_cache, progress=say)

    def data() -> dict:
        out = md.to_dict()
        out["derivations"] = out.pop("parts")
        out["from_cache"] = md.from_cache
        return out

    return md.parts, data


def run(args: argparse.Namespace) -> int:
    if args.list:
        from numeric.catalog import all_model_names, get_model

        if args.models or args.net or getattr(args, "rnn", None):
            raise BadInput("--list lists the catalog: give it without a model")
        for name in all_model_names():
            spec = get_model(name)
            print(f"{name:20s} {spec.net:27s} {spec.description}")
        return 0
    specs = models_from_args(args)
    results = []
    all_hold = True
    quiet = args.json == "-"
    if args.latex and not quiet:
        print(latex_head("Backpropagation, derived: " + ", ".join(s.title for s in specs)))
    for spec in specs:
        print_warnings(spec)
        parts, data = _parts(spec, args)
        holds = all(d.holds for d in parts)
        all_hold = all_hold and holds
        if args.json:
            results.append(data())
        if quiet:
            continue
        if args.latex:
            print(f"% bpv derive: {spec}")
            print(f"\\section*{{{escape_tex(spec.title)}}}")
            print("\n\n".join(derivation_latex(d) for d in parts))
            continue
        print(f"== {spec}")
        for d in parts:
            print(derivation_text(d))
            print()
        n_steps = sum(len(d) for d in parts)
        print(f"{spec.title}: {len(parts)} derivations, {n_steps} steps")
        for d in parts:
            mark = "holds" if d.holds else "NOT holding: " + ", ".join(s.label for s in d.failures())
            print(f"  {'ok ' if d.holds else 'BAD'} {d.title}: {mark}")
        print(f"{spec.title}: " + ("all hold" if holds else "something does NOT hold"))
    if args.latex and not quiet:
        print(LATEX_END)
    if args.json:
        write_json(args.json, {"bpv": "derive", "holds": all_hold, "models": results})
    sys.stdout.flush()
    return 0 if all_hold else 1


__all__ = ["DESCRIPTION", "HELP", "ORDER", "add_arguments", "run"]
