"""``bpv gradcheck FILE.py:FUNCTION``: check a user's hand-written gradient with :func:`numeric.gradcheck`.

This command imports and runs the user's Python file, by design (as pytest does with test files), in a child
process with a time limit (:mod:`derive.cli.isolation`): an exit, crash or signal there is bad input, never a
verdict. It never evals strings. NumPy is imported only when the command runs, so ``bpv --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from derive.cli.args import add_json_argument, add_seed_argument
from numeric.errors import BadInput

ORDER = 40
HELP = "check your own hand-written gradient against finite differences, and say what is wrong"
DESCRIPTION = """\
Check a hand-written gradient, whatever its shapes or conventions. TARGET is FILE.py:FUNCTION (FUNCTION defaults
to make_problem); FUNCTION() takes no arguments (or T=..., see below) and returns one of:
  (loss, grad, params)      params a dict of float arrays, e.g. {"W1": ..., "b1": ...};
                            loss(params) -> a number; grad(params) -> a dict of arrays with the same keys and shapes
  numeric.LayerProblem(forward, backward, inputs)
                            a CS231n-style layer: forward(*inputs) -> out or (out_1, ..., out_k, cache),
                            backward(*douts, cache) -> the gradients of the float-array inputs, in order (or a dict)
  numeric.LossProblem(fn, inputs)
                            a loss layer: fn(*inputs) -> (loss, grads), e.g. softmax_loss(x, y) -> (loss, dx)
numeric.adapters reads gradients from an in-place update step, an optimiser object, object attributes or module
globals, and a layer object's forward/backward; numeric.adapters_torch a PyTorch autograd.Function.

Every parameter gets a row: block-relative error max|g - r| / max|r| (r from central differences with Richardson
extrapolation, or the complex step when your loss is analytic), worst element, number of bad elements, a verdict
(ok, kink, wrong) and a diagnosis: a constant factor (sign flip, x2 "forgotten 1/2", x1/m "averaged twice", ...),
the L2 pattern (analytic - numerical proportional to the weights: the regularisation term scaled wrong or missing),
a true gradient that is exactly zero (a bias before batch norm), a transposed gradient, an all-zero gradient,
errors confined to rows or columns, NaN/inf, a missing or extra key, a wrong shape or dtype; and where the error
enters the backward pass when the keys carry layer numbers (W1, fc2.weight).
Bugs of shared weights are named only after an experiment on your own code supports the name: for a CS231n-style
conv or max-pool layer (forward(x, w, b, conv_param), a pool_param), dx with the kernel not flipped, the stride
ignored in the backward, max-pool routing dout to every element of its window; for a vanilla RNN with min-char-rnn's
parameters (Wxh, Whh, bh, Why, by), BPTT's dh_next missing or wrong, dWhh built from h_t instead of h_(t-1).
If FUNCTION takes the number of time steps (def make_problem(T=4)), the prefixes T' = 1..T are checked too and the
first T' at which a gradient goes wrong is reported (a missing dh_next is right for T' = 1, wrong from T' = 2).
Pass/fail comes from an error estimate of the finite differences, not a fixed tolerance (float32 code passes at
float32 accuracy); an analytic value between the left and right derivatives at a kink (ReLU at 0) is "kink", not
"wrong". --mode auto (default) checks every element of blocks up to 5,000 elements and a stratified sample plus
signed probes of larger ones; --mode full every element; --mode fast k signed random directions.

WARNING: this command imports FILE.py and runs its code, exactly as `python FILE.py` would (the way pytest imports
test files), in a child process with a time limit (--timeout). Only check files you trust.

Exit status: 0 every gradient is right (kinks included), 1 a gradient is wrong, 2 bad input (file or function
missing, the code raised, changed its parameters in place, ended the process or ran out of time, or it returned
something else). With --format gradescope, 0 once results.json is written: a failure of the student's code is a
test with score 0 and its message.

examples:
  bpv gradcheck mynet.py:make_problem
  bpv gradcheck mylayers.py:affine_problem --mode full
  bpv gradcheck tests/data/gradcheck_buggy.py:make_problem --json result.json
  bpv gradcheck tests/data/gradcheck_rnn.py:no_dh_next
  bpv gradcheck /autograder/source/problem.py --format gradescope --json /autograder/results/results.json
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="FILE.py[:FUNCTION]",
                   help="Python file and the function returning the problem; default make_problem")
    p.add_argument("--mode", choices=("auto", "full", "fast"), default="auto",
                   help="auto: every element up to 5,000 per block, else a stratified sample plus probes (default); "
                        "full: every element; fast: signed random directions, then localise")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S",
                   help="seconds the whole check may take (default 600)")
    p.add_argument("--accept-reshape", action="store_true",
                   help="accept a gradient of shape (n, 1) for a parameter of shape (n,) and similar (with a note)")
    p.add_argument("--layers", metavar="K1,K2;K3,K4",
                   help="the parameter keys in layer order, input to output: ';' between layers, ',' within one")
    p.add_argument("--format", choices=("text", "gradescope"), default="text",
                   help="gradescope: --json FILE gets Gradescope's results.json (one test per parameter)")
    add_json_argument(p)
    add_seed_argument(p)


def _layers(text: str | None) -> list[list[str]] | None:
    if not text:
        return None
    layers = [[k.strip() for k in part.split(",") if k.strip()] for part in text.split(";")]
    if not all(layers):
        raise BadInput(f"--layers {text!r}: an empty layer; write e.g. W1,b1;W2,b2")
    return layers


def run(args: argparse.Namespace) -> int:
    from derive.cli.isolation import run_isolated
    from derive.cli.user_code import check_target, split_target

    gradescope = args.format == "gradescope"
    if gradescope and (not args.json or args.json == "-"):
        raise BadInput("--format gradescope writes Gradescope's results.json: give its path with --json FILE")
    split_target(args.target)  # a missing file is the caller's mistake, before any child starts
    options = {"mode": args.mode, "seed": args.seed, "accept_reshape": args.accept_reshape,
               "layers": _layers(args.layers), "progress": True}
    outcome = run_isolated(lambda: check_target(args.target, options), args.timeout)
    if gradescope:
        from derive.cli.gradescope import results_json, write_results

        write_results(args.json, results_json(outcome.value, outcome.error, outcome.seconds))
        print(outcome.error or str(outcome.value))
        return 0
    if outcome.error:
        raise BadInput(outcome.error)
    result = outcome.value
    if args.json != "-":
        print(f"== bpv gradcheck {args.target}")
        print(result)
    if args.json:
        from derive.core.files import write_json

        write_json(args.json, {"bpv": "gradcheck", "target": args.target, **result.to_dict()})
    sys.stdout.flush()
    return 0 if result.ok else 1


__all__ = ["DESCRIPTION", "HELP", "ORDER", "add_arguments", "run"]
