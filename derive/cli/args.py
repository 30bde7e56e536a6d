"""Arguments every command shares: the model (catalog names or ``--net ...``), ``--json FILE``, ``--seed``.

Kept in one place so that a catalog name works wherever ``--net`` does and the flags mean the same everywhere. The
help texts list the catalog and the registries (:mod:`numeric.functions`), so a new activation or cost shows up in
``--help`` without an edit here.
"""

from __future__ import annotations

import argparse
import sys

from numeric.catalog import all_model_names, get_model
from numeric.conv_spec import ConvNetSpec, is_conv_net
from numeric.errors import BadInput
from numeric.functions import ACTIVATIONS, COSTS
from numeric.rnn_spec import RnnSpec
from numeric.spec import LAYOUTS, NORMS, REDUCTIONS, Layout, ModelSpec

Spec = ModelSpec | ConvNetSpec | RnnSpec

__all__ = [
    "MODEL_DEFAULTS",
    "add_json_argument",
    "add_model_arguments",
    "add_seed_argument",
    "dense_only",
    "jobs_value",
    "model_flags_given",
    "models_from_args",
    "print_warnings",
    "seconds_value",
    "seed_value",
]

#: the model flags and their defaults (a flag that differs from its default describes a model given with --net)
MODEL_DEFAULTS = {"act": "sigmoid", "cost": "quadratic", "reduction": "mean", "layout": Layout.COLUMNS.value}
#: the time steps of ``--rnn`` when ``--steps`` is not given (char_rnn's T)
RNN_STEPS = 4


def _listing(entries: dict[str, str]) -> str:
    """``name: summary; ...`` for a help text (argparse reads ``%`` as a format character)."""
    return "; ".join(f"{name}: {summary}" for name, summary in entries.items()).replace("%", "%%")


def catalog_help() -> str:
    models = {name: get_model(name).description for name in all_model_names()}
    return "catalog model name(s) - " + _listing(models)


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
    g.add_argument("--net", help="layer sizes n_0-n_1-...-n_L, e.g. 3-30-10-3-1 (3-1 is one layer); or a "
                                 "convolutional net, stages joined by '-': the input CxHxW, c<C_out>k<k>[s<stride>]"
                                 "[p<pad>] (a convolution, stride 1 and pad 0 by default), pool<k>[s<stride>] "
                                 "(max-pooling), flat, then dense widths, e.g. 1x8x8-c4k3p1-pool2-flat-10 with "
                                 "--act relu,softmax (one activation per layer with parameters; samples as rows, "
                                 "x is (m, C, H, W))")
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
    g = parser.add_argument_group("a recurrent net (instead of --net)")
    g.add_argument("--rnn", metavar="V-H-V",
                   help="a vanilla tanh RNN over a vocabulary of V tokens with H hidden units, softmax + cross-entropy "
                        "on the next token, summed over time, averaged over the sequences (min-char-rnn; parameters "
                        "Wxh, Whh, bh, Why, by; x and y integer arrays (T, m)), e.g. 5-8-5")
    g.add_argument("--steps", type=int, default=None, metavar="T",
                   help=f"time steps T of the sequences checks and reports use with --rnn (default {RNN_STEPS})")


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE ('-' for stdout)")


def _integer(text: str, flag: str, example: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not an integer; give e.g. {flag} {example}") from None


def seed_value(text: str) -> int:
    """``--seed``: a non-negative integer of at most 2**63 - 1 (what NumPy's generators take)."""
    value = _integer(text, "--seed", "0")
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"{value} is out of range; give a non-negative integer below 2**63")
    return value


#: the longest time limit a command accepts (a day): beyond it a "limit" is no limit
MAX_SECONDS = 86_400.0


def seconds_value(text: str) -> float:
    """A time limit in seconds (``--timeout``): a finite number in (0, 86400]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number of seconds") from None
    if not 0 < value <= MAX_SECONDS:  # also NaN
        raise argparse.ArgumentTypeError(f"{text[:40]} is not a time limit; give seconds in (0, {MAX_SECONDS:g}]")
    return value


#: the most worker processes a command starts (--jobs): beyond a few per core they only compete
MAX_JOBS = 64


def jobs_value(text: str) -> int:
    """``--jobs``: worker processes, an integer from 1 to :data:`MAX_JOBS`."""
    value = _integer(text, "--jobs", "2")
    if not 1 <= value <= MAX_JOBS:
        raise argparse.ArgumentTypeError(f"{value} is not a number of processes; give 1 to {MAX_JOBS}")
    return value


def add_seed_argument(parser: argparse.ArgumentParser, default: int = 0) -> None:
    parser.add_argument("--seed", type=seed_value, default=default,
                        help=f"random seed, a non-negative integer (default: {default})")


#: the flags of the blocks past the dense layer and the ``ModelSpec.build`` keywords they set
EXTRA_FLAGS = {"norm": "norm", "keep_prob": "keep_prob", "l2": "l2", "l2_n": "l2_n"}


def _extras(args: argparse.Namespace) -> dict:
    return {key: getattr(args, flag) for flag, key in EXTRA_FLAGS.items() if getattr(args, flag, None) is not None}


def model_flags_given(args: argparse.Namespace) -> bool:
    """True when any of --act/--cost/--reduction/--layout/--no-bias/--norm/... differs from its default."""
    return args.no_bias or bool(_extras(args)) or any(
        getattr(args, flag) != default for flag, default in MODEL_DEFAULTS.items())


def _flag_model(args: argparse.Namespace) -> Spec | None:
    """The model of ``--net`` (dense or convolutional) or ``--rnn``, None when neither is given."""
    rnn = getattr(args, "rnn", None)
    steps = getattr(args, "steps", None)
    if rnn is not None:
        if args.net or model_flags_given(args):
            raise BadInput("--rnn describes the whole recurrent net (tanh hidden state, softmax + cce output): give "
                           "it without --net/--act/--cost/--reduction/--layout/--no-bias/--norm/--keep-prob/--l2")
        return RnnSpec.build(rnn, RNN_STEPS if steps is None else steps)
    if steps is not None:
        raise BadInput("--steps is the sequence length of a recurrent net: give it with --rnn V-H-V")
    if not args.net:
        return None
    if is_conv_net(args.net):
        unsupported = [f"--{flag.replace('_', '-')}" for flag in EXTRA_FLAGS if getattr(args, flag, None) is not None]
        unsupported += ["--no-bias"] if args.no_bias else []
        if unsupported:
            raise BadInput(f"{', '.join(unsupported)}: not available for a convolutional net (samples as rows, "
                           "biases on, no normalisation, dropout or L2 term); drop them")
        return ConvNetSpec.build(args.net, args.act, args.cost, args.reduction)
    return ModelSpec.build(args.net, args.act, args.cost, args.reduction, args.layout, not args.no_bias,
                           **_extras(args))


def models_from_args(args: argparse.Namespace, *, default_all: bool = False) -> list[Spec]:
    """The models named on the command line; all catalog models when none is named and ``default_all``."""
    names = args.models if isinstance(args.models, list) else ([args.models] if args.models else [])
    specs = [get_model(n) for n in names]
    flagged = _flag_model(args)
    if flagged is not None:
        specs.append(flagged)
    elif model_flags_given(args):
        raise BadInput("--act/--cost/--reduction/--layout/--no-bias/--norm/--keep-prob/--l2 describe a model "
                       "given with --net; add --net ...")
    if not specs:
        if default_all:
            return [get_model(name) for name in all_model_names()]
        raise BadInput(f"no model given: name a catalog model ({', '.join(all_model_names())}) or give --net ... "
                       "or --rnn ...")
    return specs


def dense_only(specs: list[Spec], command: str) -> list[ModelSpec]:
    """``specs`` when every one is a dense net; BadInput naming the first net with shared weights otherwise."""
    for spec in specs:
        if not isinstance(spec, ModelSpec):
            raise BadInput(f"bpv {command} works on dense nets; {spec.title} is a {spec.kind} net (bpv verify, "
                           f"derive, kernels and report take it)")
    return specs


def print_warnings(spec: Spec) -> None:
    for w in getattr(spec, "warnings", list)():
        print(f"warning: {spec.title}: {w}", file=sys.stderr)
