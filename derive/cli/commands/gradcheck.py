"""``bpv gradcheck FILE.py:FUNCTION``: check a user's hand-written gradient with :func:`numeric.gradcheck`.

This command imports and runs the user's Python file, by design (as pytest does with test files): it loads the file
with ``importlib.util.spec_from_file_location`` and calls the named function. It never evals strings.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from derive.cli.args import add_json_argument, add_seed_argument
from derive.core.files import write_json
from numeric import gradcheck
from numeric.errors import BadInput

ORDER = 40
HELP = "check your own hand-written gradient against finite differences, and say what is wrong"
DESCRIPTION = """\
Check a hand-written gradient, whatever its shapes or conventions. TARGET is FILE.py:FUNCTION (FUNCTION defaults
to make_problem); FUNCTION() takes no arguments and returns (loss, grad, params):
  params   a dict of float arrays, e.g. {"W1": ..., "b1": ...}
  loss     loss(params) -> a number
  grad     grad(params) -> a dict of arrays with the same keys and shapes (your backward pass)

Every parameter gets a row: block-relative error max|g - r| / max|r| (r from central differences with Richardson
extrapolation, or the complex step when your loss is analytic), worst element, number of bad elements, a verdict
(ok, kink, wrong) and a diagnosis: a constant factor (sign flip, x2 "forgotten 1/2", x1/m "averaged twice", ...),
a transposed gradient, an all-zero gradient, errors confined to rows or columns, NaN/inf, a missing or extra key,
a wrong shape or dtype; and where the error enters the backward pass when the keys are W1..WL, b1..bL.
Pass/fail comes from an error estimate of the finite differences, not a fixed tolerance (float32 code passes at
float32 accuracy); an analytic value between the left and right derivatives at a kink (ReLU at 0) is "kink", not
"wrong". --mode fast checks k signed random directions, then localises a failure to the blocks responsible.

WARNING: this command imports FILE.py and runs its code, exactly as `python FILE.py` would (the way pytest imports
test files). Only check files you trust.

Exit status: 0 every gradient is right (kinks included), 1 a gradient is wrong, 2 bad input (file or function
missing, FUNCTION raised, or it returned something other than (loss, grad, params)).

examples:
  bpv gradcheck mynet.py:make_problem
  bpv gradcheck mynet.py --mode fast --seed 3
  bpv gradcheck tests/data/gradcheck_buggy.py:make_problem --json result.json
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="FILE.py[:FUNCTION]",
                   help="Python file and the function returning (loss, grad, params); default make_problem")
    p.add_argument("--mode", choices=("full", "fast"), default="full",
                   help="full: every element (default); fast: signed random directions, then localise")
    add_json_argument(p)
    add_seed_argument(p)


def _split_target(target: str) -> tuple[Path, str]:
    path_text, sep, func = target.rpartition(":")
    if not sep or not path_text or "/" in func or func.endswith(".py"):
        path_text, func = target, "make_problem"
    func = func.strip()
    if not func.isidentifier():
        raise BadInput(f"{func!r} in {target!r} is not a Python function name; write FILE.py:make_problem")
    return Path(path_text), func


def load_problem(target: str) -> tuple[Any, Any, Mapping[str, Any]]:
    """Import FILE.py (user code runs here, by design), call FUNCTION() and check it returned (loss, grad, params)."""
    path, func = _split_target(target)
    if not path.is_file():
        raise BadInput(f"file {str(path)!r} not found (TARGET is FILE.py:FUNCTION)")
    if path.suffix != ".py":
        raise BadInput(f"{str(path)!r} is not a .py file (TARGET is FILE.py:FUNCTION)")
    module_name = f"bpv_gradcheck_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise BadInput(f"cannot import {str(path)!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)  # so the file can import its neighbours, as `python FILE.py` allows
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise BadInput(f"importing {str(path)!r} raised {type(err).__name__}: {err}") from None
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    fn = getattr(module, func, None)
    if fn is None:
        names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise BadInput(f"{str(path)!r} has no function {func!r} (it defines: {', '.join(names) or 'none'})")
    if not callable(fn):
        raise BadInput(f"{func!r} in {str(path)!r} is a {type(fn).__name__}, not a function")
    try:
        problem = fn()
    except Exception as err:
        raise BadInput(f"{func}() raised {type(err).__name__}: {err}") from None
    if not isinstance(problem, tuple) or len(problem) != 3:
        got = f"a tuple of {len(problem)}" if isinstance(problem, tuple) else type(problem).__name__
        raise BadInput(f"{func}() must return (loss, grad, params), got {got}")
    loss, grad, params = problem
    if not callable(loss):
        raise BadInput(f"{func}() returned a loss that is not callable ({type(loss).__name__}); "
                       "it must be loss(params) -> number")
    if not callable(grad):
        raise BadInput(f"{func}() returned a grad that is not callable ({type(grad).__name__}); "
                       "it must be grad(params) -> dict of arrays")
    if not isinstance(params, Mapping):
        raise BadInput(f"{func}() returned params of type {type(params).__name__}; it must be a dict of arrays")
    return loss, grad, params


def run(args: argparse.Namespace) -> int:
    loss, grad, params = load_problem(args.target)
    result = gradcheck(loss, grad, params, mode=args.mode, seed=args.seed)
    if args.json != "-":
        print(f"== bpv gradcheck {args.target}")
        print(result)
    if args.json:
        write_json(args.json, {"bpv": "gradcheck", "target": args.target, **result.to_dict()})
    sys.stdout.flush()
    return 0 if result.ok else 1


__all__ = ["DESCRIPTION", "HELP", "ORDER", "add_arguments", "load_problem", "run"]
