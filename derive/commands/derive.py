"""``bpv derive``: print a model's derivation step by step, with a verdict and method per step."""

from __future__ import annotations

import argparse
import sys

from derive.cliargs import add_json_argument, add_model_arguments, models_from_args, print_warnings
from derive.model_functions import model_function_derivations
from derive.output import write_json
from derive.render import derivation_latex, derivation_text

ORDER = 10
HELP = "derive a model's activation, cost and output-error derivatives step by step"
DESCRIPTION = """\
Derive, with SymPy and from the definitions, every derivative a model's backprop needs:
  - each activation's derivative: sympy.diff of the definition, cross-checked against a 60-digit numerical
    derivative, then compared with the textbook closed form (sigma' = sigma(1 - sigma), tanh' = 1 - tanh^2, ...);
  - the cost's derivative dC/da (bce itself derived from the Bernoulli likelihood);
  - the output error delta^L (a - y for sigmoid+bce, softmax+cce and identity+quadratic, proven).
Each step is printed with its justification, its verdict and how it was checked.

Exit status: 0 every step holds, 1 a step does not hold or is undecided, 2 bad input.

examples:
  bpv derive binary_classifier
  bpv derive --net 3-1 --act sigmoid --cost bce
  bpv derive softmax_classifier --latex > softmax.tex
  bpv derive regression --json derivation.json
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("--latex", action="store_true", help="print LaTeX instead of text")
    p.add_argument("--list", action="store_true", help="list the catalog models and exit")
    add_json_argument(p)


def run(args: argparse.Namespace) -> int:
    if args.list:
        from numeric.catalog import CATALOG

        for name, spec in CATALOG.items():
            print(f"{name:20s} {spec.net:14s} {spec.description}")
        return 0
    specs = models_from_args(args)
    results = []
    all_hold = True
    quiet = args.json == "-"
    for spec in specs:
        print_warnings(spec)
        derivations = model_function_derivations(spec)
        holds = all(d.holds for d in derivations)
        all_hold = all_hold and holds
        results.append({"model": spec.to_dict(), "holds": holds, "derivations": [d.to_dict() for d in derivations]})
        if quiet:
            continue
        if args.latex:
            print(f"% bpv derive: {spec}")
            print("\n\n".join(derivation_latex(d) for d in derivations))
            continue
        print(f"== {spec}")
        for d in derivations:
            print(derivation_text(d))
            print()
        n_steps = sum(len(d) for d in derivations)
        bad = [s.label for d in derivations for s in d.failures()]
        print(f"{spec.title}: {n_steps} steps, " + ("all hold" if holds else f"NOT holding: {', '.join(bad)}"))
    if args.json:
        write_json(args.json, {"bpv": "derive", "holds": all_hold, "models": results})
    sys.stdout.flush()
    return 0 if all_hold else 1


__all__ = ["DESCRIPTION", "HELP", "ORDER", "add_arguments", "run"]
