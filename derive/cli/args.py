"""Arguments every command shares: the model (catalog names or ``--net ...``), ``--json FILE``, ``--seed``.

Kept in one place so that a catalog name works wherever ``--net`` does and the flags mean the same everywhere.
"""

from __future__ import annotations

import argparse
import sys

from numeric.catalog import CATALOG, get_model
from numeric.errors import BadInput
from numeric.spec import COSTS, LAYOUTS, REDUCTIONS, ModelSpec

__all__ = ["add_json_argument", "add_model_arguments", "add_seed_argument", "models_from_args", "print_warnings"]


def add_model_arguments(parser: argparse.ArgumentParser, *, many: bool = True) -> None:
    """``MODEL...`` positional names plus ``--net/--act/--cost/--reduction/--layout/--no-bias``."""
    parser.add_argument("models", nargs="*" if many else "?", metavar="MODEL",
                        help=f"catalog model name(s): {', '.join(CATALOG)}")
    g = parser.add_argument_group("model from flags (instead of a catalog name)")
    g.add_argument("--net", help="layer sizes n_0-n_1-...-n_L, e.g. 3-30-10-3-1 (3-1 is one layer)")
    g.add_argument("--act", default="sigmoid",
                   help="one activation for all layers or one per layer, comma-separated; parameters after a "
                        "colon: leaky_relu:0.01, elu:1.0 (default: sigmoid)")
    g.add_argument("--cost", default="quadratic", help=f"one of {', '.join(COSTS)} (default: quadratic)")
    g.add_argument("--reduction", default="mean", help=f"batch reduction: {' or '.join(REDUCTIONS)} (default: mean)")
    g.add_argument("--layout", default="columns", help=f"samples as {' or '.join(LAYOUTS)} of X (default: columns)")
    g.add_argument("--no-bias", action="store_true", help="layers without biases")


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE ('-' for stdout)")


def add_seed_argument(parser: argparse.ArgumentParser, default: int = 0) -> None:
    parser.add_argument("--seed", type=int, default=default, help=f"random seed (default: {default})")


def models_from_args(args: argparse.Namespace, *, default_all: bool = False) -> list[ModelSpec]:
    """The models named on the command line; all catalog models when none is named and ``default_all``."""
    names = args.models if isinstance(args.models, list) else ([args.models] if args.models else [])
    specs = [get_model(n) for n in names]
    flags_given = any(getattr(args, f) != d for f, d in
                      (("act", "sigmoid"), ("cost", "quadratic"), ("reduction", "mean"), ("layout", "columns")))
    if args.net:
        specs.append(ModelSpec.build(args.net, args.act, args.cost, args.reduction, args.layout, not args.no_bias))
    elif flags_given or args.no_bias:
        raise BadInput("--act/--cost/--reduction/--layout/--no-bias describe a model given with --net; add --net ...")
    if not specs:
        if default_all:
            return list(CATALOG.values())
        raise BadInput(f"no model given: name a catalog model ({', '.join(CATALOG)}) or give --net ...")
    return specs


def print_warnings(spec: ModelSpec) -> None:
    for w in spec.warnings():
        print(f"warning: {spec.title}: {w}", file=sys.stderr)
