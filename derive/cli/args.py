"""Arguments every command shares: the model (catalog names or ``--net ...``), ``--json FILE``, ``--seed``.

Kept in one place so that a catalog name works wherever ``--net`` does and the flags mean the same everywhere. The
help texts list the catalog and the registries (:mod:`numeric.functions`), so a new activation or cost shows up in
``--help`` without an edit here.
"""

from __future__ import annotations

import argparse
import sys

from numeric.catalog import CATALOG, get_model
from numeric.errors import BadInput
from numeric.functions import ACTIVATIONS, COSTS
from numeric.spec import LAYOUTS, NORMS, REDUCTIONS, Layout, ModelSpec

__all__ = [
    "MODEL_DEFAULTS",
    "add_json_argument",
    "add_model_arguments",
    "add_seed_argument",
    "model_flags_given",
    "models_from_args",
    "print_warnings",
]

#: the model flags and their defaults (a flag that differs from its default describes a model given with --net)
MODEL_DEFAULTS = {"act": "sigmoid", "cost": "quadratic", "reduction": "mean", "layout": Layout.COLUMNS.value}


def _listing(entries: dict[str, str]) -> str:
    """``name: summary; ...`` for a help text (argparse reads ``%`` as a format character)."""
    return "; ".join(f"{name}: {summary}" for name, summary in entries.items()).replace("%", "%%")


def catalog_help() -> str:
    return "catalog model name(s) - " + _listing({name: spec.description for name, spec in CATALOG.items()})


def activation_help() -> str:
    acts = _listing({name: entry.summary for name, entry in ACTIVATIONS.items()})
    return ("one activation for all layers or one per layer, comma-separated; parameters after a colon: "
            f"leaky_relu:0.01, elu:1.0 (default: {MODEL_DEFAULTS['act']}). Activations - {acts}")


def cost_help() -> str:
    costs = _listing({name: entry.summary for name, entry in COSTS.items()})
    return f"the cost (default: {MODEL_DEFAULTS['cost']}) - {costs}"


def add_model_arguments(parser: argparse.ArgumentParser, *, many: bool = True) -> None:
    """``MODEL...`` positional names plus ``--net/--act/--cost/--reduction/--layout/--no-bias``."""
    parser.add_argument("models", nargs="*" if many else "?", metavar="MODEL", help=catalog_help())
    g = parser.add_argument_group("model from flags (instead of a catalog name)")
    g.add_argument("--net", help="layer sizes n_0-n_1-...-n_L, e.g. 3-30-10-3-1 (3-1 is one layer)")
    g.add_argument("--act", default=MODEL_DEFAULTS["act"], help=activation_help())
    g.add_argument("--cost", default=MODEL_DEFAULTS["cost"], help=cost_help())
    g.add_argument("--reduction", default=MODEL_DEFAULTS["reduction"],
                   help=f"batch reduction: {' or '.join(REDUCTIONS)} (default: {MODEL_DEFAULTS['reduction']})")
    g.add_argument("--layout", default=MODEL_DEFAULTS["layout"],
                   help=f"samples as {' or '.join(LAYOUTS)} of X (default: {MODEL_DEFAULTS['layout']})")
    g.add_argument("--no-bias", action="store_true", help="layers without biases")
    g = parser.add_argument_group("past the dense layer (every hidden layer: affine -> norm -> activation -> dropout)")
    g.add_argument("--norm", choices=list(NORMS), default=None,
                   help="normalise every hidden layer's pre-activations: batch (per unit over the batch, training "
                        "mode: the statistics of the batch given, in forward too; no running averages) or layer "
                        "(per sample over the units); parameters gamma<l>, beta<l> shaped like b<l>; eps = 1e-5")
    g.add_argument("--keep-prob", type=float, default=None, metavar="P",
                   help="inverted dropout after every hidden activation, keeping each unit with probability P "
                        "(torch's p is 1 - P); the kernels take the 0/1 masks as data: masks={'M1': ...}")
    g.add_argument("--l2", type=float, default=None, metavar="LAMBDA",
                   help="add the L2 term (LAMBDA / 2n) sum w^2 over the weights (never biases, gamma, beta)")
    g.add_argument("--l2-n", type=int, default=None, metavar="N",
                   help="n of the L2 term: the training-set size (default: the batch size m; 1 gives CS231n's "
                        "0.5 * reg * sum(W**2))")


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE ('-' for stdout)")


def add_seed_argument(parser: argparse.ArgumentParser, default: int = 0) -> None:
    parser.add_argument("--seed", type=int, default=default, help=f"random seed (default: {default})")


#: the flags of the blocks past the dense layer and the ``ModelSpec.build`` keywords they set
EXTRA_FLAGS = {"norm": "norm", "keep_prob": "keep_prob", "l2": "l2", "l2_n": "l2_n"}


def _extras(args: argparse.Namespace) -> dict:
    return {key: getattr(args, flag) for flag, key in EXTRA_FLAGS.items() if getattr(args, flag, None) is not None}


def model_flags_given(args: argparse.Namespace) -> bool:
    """True when any of --act/--cost/--reduction/--layout/--no-bias/--norm/... differs from its default."""
    return args.no_bias or bool(_extras(args)) or any(
        getattr(args, flag) != default for flag, default in MODEL_DEFAULTS.items())


def models_from_args(args: argparse.Namespace, *, default_all: bool = False) -> list[ModelSpec]:
    """The models named on the command line; all catalog models when none is named and ``default_all``."""
    names = args.models if isinstance(args.models, list) else ([args.models] if args.models else [])
    specs = [get_model(n) for n in names]
    if args.net:
        specs.append(ModelSpec.build(args.net, args.act, args.cost, args.reduction, args.layout, not args.no_bias,
                                     **_extras(args)))
    elif model_flags_given(args):
        raise BadInput("--act/--cost/--reduction/--layout/--no-bias/--norm/--keep-prob/--l2 describe a model "
                       "given with --net; add --net ...")
    if not specs:
        if default_all:
            return list(CATALOG.values())
        raise BadInput(f"no model given: name a catalog model ({', '.join(CATALOG)}) or give --net ...")
    return specs


def print_warnings(spec: ModelSpec) -> None:
    for w in spec.warnings():
        print(f"warning: {spec.title}: {w}", file=sys.stderr)
