"""``bpv train``: minibatch SGD on a data set with the model's generated kernel (the CLI face of
:mod:`numeric.train`)."""

from __future__ import annotations

import argparse
import io
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import numpy as np

from derive.cli.args import (
    add_json_argument,
    add_model_arguments,
    add_seed_argument,
    dense_only,
    models_from_args,
    print_warnings,
)
from derive.core.files import write_json, write_output
from numeric.data import BUILTIN, load_dataset, prepare
from numeric.errors import BadInput
from numeric.progress import Progress
from numeric.spec import ModelSpec
from numeric.train import Diverged, TrainResult, check_settings, shipped_kernel, train

ORDER = 35
HELP = "train a model by minibatch SGD with its generated kernel, on a toy set or your CSV/npz data"
DESCRIPTION = """\
Train a network by minibatch stochastic gradient descent. Every update is the sgd_step of the model's generated
kernel (printed from the derived update rules, the same kernel `bpv kernels` writes): the parameters move by
-eta times the gradient of the minibatch cost. A catalog model, or any net whose family (depth, activations,
cost, reduction, layout, biases) has a shipped kernel in numeric/kernels, trains at once; other families have
their kernel generated first with SymPy (a few seconds) and checked as `bpv kernels` checks it (exit 1 if it
fails).

Start: weights Gaussian with variance 2 / n_in (He), biases 0, and for --norm gamma = 1, beta = 0. Each epoch
shuffles the training set (from --seed), walks it in minibatches of --batch-size samples (the last one may be
smaller), then measures the loss and the accuracy on the whole training set, without dropout. Accuracy is the
share of samples whose output names their class: the largest output unit (softmax, or one-hot targets with bce
or a regression cost, as Nielsen's MNIST nets), or a single sigmoid unit above 0.5 for bce with one output;
real-valued targets have none.

  --norm batch   normalises with the statistics of each minibatch (training mode; there are no running
                 averages), so the loss and accuracy of an epoch use the statistics of the whole training set
  --keep-prob P  draws fresh 0/1 dropout masks for every step (each unit kept with probability P); the loss
                 and accuracy are measured with dropout off
  --l2 LAMBDA    adds (LAMBDA / 2n) sum w^2 with n the training-set size here (Nielsen's n), whatever
                 --l2-n or the catalog model says; the reported loss includes the term

Data (--data), samples as rows:
  spiral         CS231n's three spiral arms in the plane: 300 points, 2 features, 3 classes (noise 0.2)
  moons          two interleaved half circles: 200 points, 2 features, 2 classes (noise 0.1)
  digits         scikit-learn's 8x8 digits: 1797 samples, 64 pixels in [0, 1], 10 classes (needs scikit-learn)
  FILE.csv       comma-separated numbers, one sample per row, the target in the last column (an optional
                 header line); non-negative integer targets are class labels, other targets real values
  FILE.npz       np.savez(FILE, x=X, y=Y): X (n, d), Y (n,) labels or (n, k) real values
The net must fit the data: n_0 = the number of features; for cce n_L >= the number of classes; for bce one
output unit and 0/1 labels, or n_L >= the number of classes (one-hot 0/1 targets); for a regression cost
n_L = the number of real targets (or n_L >= the number of classes, one-hot).

Output: a progress bar with an ETA on stderr, then a table of loss and accuracy per epoch (epoch 0 is the
start; about a dozen rows for long runs, the last epoch always) and a summary line. --json FILE writes the spec,
the data (name, n samples), seed, eta, batch_size, epochs and the whole history [{epoch, loss, accuracy,
seconds}] (seconds of training so far); --save FILE writes the trained parameters with np.savez (W1, b1, ...
in the model's layout; np.load(FILE) reads them back).

Exit status: 0 training ran, 1 it diverged (the loss became NaN or infinite: lower --eta) or a generated
kernel failed its checks, 2 bad input.

examples:
  bpv train --net 2-100-3 --act relu,softmax --cost cce --data spiral --epochs 1000 --batch-size 32 --eta 0.5
  bpv train --net 2-16-1 --act tanh,sigmoid --cost bce --data moons --epochs 200 --eta 0.5 --save moons.npz
  bpv train --net 2-50-3 --act relu,softmax --cost cce --norm batch --keep-prob 0.8 --data spiral --eta 0.2
  bpv train --net 13-30-1 --act relu,identity --cost mse --data houses.csv --epochs 50 --json run.json
"""

#: a long run's table shows about this many rows (the last epoch always)
TABLE_ROWS = 12


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p, many=False)
    g = p.add_argument_group("training")
    g.add_argument("--data", required=True, metavar="SET|FILE",
                   help=f"the training set: {', '.join(BUILTIN)}, FILE.csv or FILE.npz (samples as rows)")
    g.add_argument("--epochs", type=int, default=100, metavar="N",
                   help="passes over the training set (default: 100)")
    g.add_argument("--batch-size", type=int, default=32, metavar="B",
                   help="samples per SGD step (default: 32; larger than the set: full-batch gradient descent)")
    g.add_argument("--eta", type=float, default=0.1, metavar="ETA",
                   help="the learning rate: each step subtracts ETA times the minibatch gradient (default: 0.1)")
    g.add_argument("--save", metavar="FILE", help="write the trained parameters to FILE with np.savez")
    add_json_argument(p)
    add_seed_argument(p)


def _spec(args: argparse.Namespace) -> ModelSpec:
    specs = dense_only(models_from_args(args), "train")
    if len(specs) != 1:
        raise BadInput("bpv train trains one model: give a catalog name or --net ..., not both")
    return specs[0]


class KernelRejected(RuntimeError):
    """A kernel generated now failed the checks ``bpv kernels`` runs before writing one (exit 1: a bug, not input)."""


def resolve_kernel(spec: ModelSpec, progress: Progress) -> tuple[ModuleType, str]:
    """The kernel to train with and where it came from: a shipped module of the family, else one generated now and
    checked as ``bpv kernels`` checks it (against the hand-written backprop, complex step, central differences)."""
    shipped = shipped_kernel(spec)
    if shipped is not None:
        return shipped, shipped.__name__
    from derive.codegen.kernel import generate_kernel_source, kernel_name
    from derive.verification.kernel_check import load_kernel, verify_kernel

    progress.note(f"generating the kernel for {spec.title} with SymPy ...")
    name = kernel_name(spec)
    kernel = load_kernel(generate_kernel_source(spec), name)
    failed = [c.check for c in verify_kernel(spec, kernel) if not c.holds]
    if failed:
        raise KernelRejected(f"the kernel generated for {spec.title} fails {'; '.join(failed)}: not training with "
                             f"it (bpv kernels {spec.cli_args()} -o DIR shows the checks)")
    return kernel, f"generated and verified ({name})"


def shown_epochs(last: int, rows: int = TABLE_ROWS) -> list[int]:
    """The epochs the table shows: all for short runs; else multiples of a round step (1, 2, 5 x 10^k) giving
    about ``rows`` rows, from 0, and the last epoch always."""
    if last <= 20:
        return list(range(last + 1))
    raw = last / rows
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(f * magnitude for f in (1, 2, 5, 10) if f * magnitude >= raw)
    epochs = list(range(0, last + 1, int(step)))
    return epochs if epochs[-1] == last else [*epochs, last]


def _accuracy_text(acc: float | None) -> str:
    return "-" if acc is None else f"{100 * acc:.1f} %"


def format_history(history: list[dict[str, Any]]) -> str:
    """The table: one row per shown epoch."""
    wanted = set(shown_epochs(history[-1]["epoch"]))
    lines = [f"{'epoch':>7}  {'loss':>12}  {'accuracy':>9}  {'seconds':>8}"]
    for entry in history:
        if entry["epoch"] in wanted:
            lines.append(f"{entry['epoch']:>7}  {entry['loss']:>12.6g}  {_accuracy_text(entry['accuracy']):>9}  "
                         f"{entry['seconds']:>8.2f}")
    return "\n".join(lines)


def _save(path: str, params: dict[str, np.ndarray]) -> None:
    """np.savez into memory, then one atomic write: an interrupted run never leaves half a file."""
    buffer = io.BytesIO()
    np.savez(buffer, **params)
    write_output(path, buffer.getvalue())


def _check_targets(args: argparse.Namespace) -> None:
    """Output paths that cannot be written are bad input before training, not an error after it."""
    for flag, target in (("--save", args.save), ("--json", args.json)):
        if target is None or target == "-":
            continue
        path = Path(target)
        if path.is_dir():
            raise BadInput(f"{flag} {target}: is a folder; give a file name")
        parent = path.parent
        if parent.exists() and not parent.is_dir():
            raise BadInput(f"{flag} {target}: {parent} is not a folder")


def _document(spec: ModelSpec, args: argparse.Namespace, data: dict, kernel: str, result: TrainResult,
              diverged: str | None) -> dict:
    return {
        "spec": spec.to_dict(),
        "data": data,
        "seed": args.seed,
        "eta": args.eta,
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "kernel": kernel,
        "diverged": diverged,
        "history": result.history,
    }


def run(args: argparse.Namespace) -> int:
    spec = _spec(args)
    print_warnings(spec)
    check_settings(args.epochs, args.batch_size, args.eta, args.seed)  # all bad input fails before any work
    _check_targets(args)
    out: TextIO = sys.stderr if args.json == "-" else sys.stdout
    notes = Progress(0, stream=sys.stderr)
    dataset = load_dataset(args.data, args.seed)
    training_set = prepare(spec, dataset)  # fit checked before a kernel is generated: bad input fails fast
    if spec.penalty is not None and spec.penalty.n not in (None, dataset.n):
        notes.note(f"note: the L2 term's n is the training-set size here, {dataset.n}, not the spec's "
                   f"{spec.penalty.n}")
    try:
        kernel, source = resolve_kernel(spec, notes)
    except KernelRejected as err:
        print(f"bpv train: {err}", file=sys.stderr)
        return 1
    progress = Progress(args.epochs, stream=sys.stderr)
    print(f"bpv train: {spec.title} with kernel {source}", file=out)
    print(f"  data {dataset.describe()}; {args.epochs} epochs, batch {args.batch_size}, eta {args.eta:g}, "
          f"seed {args.seed}", file=out, flush=True)
    diverged = None
    try:
        result = train(spec, kernel, training_set, epochs=args.epochs, batch_size=args.batch_size, eta=args.eta,
                       seed=args.seed, progress=progress)
    except Diverged as err:
        diverged, result = str(err), err.result
    print(format_history(result.history), file=out)
    final = result.final
    seconds = final["seconds"]
    per_epoch = 1000 * seconds / max(final["epoch"], 1)
    if args.json:
        data = {"name": dataset.name, "n": dataset.n}
        write_json(args.json, _document(spec, args, data, source, result, diverged))
    if diverged is not None:
        print(f"bpv train: {diverged}", file=sys.stderr)
        return 1
    acc = "" if final["accuracy"] is None else f", training accuracy {_accuracy_text(final['accuracy'])}"
    print(f"bpv train: {final['epoch']} epochs in {seconds:.2f} s ({per_epoch:.2f} ms per epoch): loss "
          f"{final['loss']:.6g}{acc}", file=out)
    if args.save:
        _save(args.save, result.params)
        print(f"bpv train: wrote {args.save} ({', '.join(result.params)})", file=out)
    return 0


__all__ = ["DESCRIPTION", "HELP", "ORDER", "KernelRejected", "add_arguments", "format_history", "resolve_kernel",
           "run", "shown_epochs"]
