"""``bpv kernels``: generate a model family's NumPy kernel, verify it, and write it only if it passes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from derive.cli.args import add_model_arguments, add_seed_argument, models_from_args, print_warnings
from derive.codegen.kernel import kernel_name
from derive.core.files import write_output
from derive.core.manifest import refuse_overwrite
from derive.verification.kernel_check import KernelCheck, generated_source, load_kernel, verify_kernel
from numeric.errors import BadInput

ORDER = 30
HELP = "generate a verified NumPy kernel (forward, loss, gradients) for a model family"
DESCRIPTION = """\
Generate a standalone Python module that needs NumPy only, with
  forward(params, x) -> a^L,  loss(params, x, y) -> float,  gradients(params, x, y) -> dict
for the model's family (same depth, activations, cost, reduction, layout and biases; any widths). The layer
structure is printed from the proven batch forms (matrix products), the element-wise functions from the proven
stable forms (sigma' from the forward value, softplus and softmax with masks and max-shifts); normalisation,
dropout and the L2 term from their proven array forms; sgd_step(params, x, y, eta) from the derived update rule.
Kernels with dropout take masks={"M1": ...} (0/1 arrays shaped like a^l; None: no dropout); with L2, l2= and l2_n=
override the family's lambda and n.
A convolutional net (--net CxHxW-c..k..-pool..-flat-N) gets one module for its stage structure: x is (m, C, H, W),
convolution as im2col + one matrix product (dX as the proven full convolution with the rotated kernel), max-pool
routing to the first maximum, no Python loop. A recurrent net (--rnn V-H-V) gets one module for every V, H and T,
x and y integer (T, m), h0= the initial state; one loop over time each way.

Before writing, the kernel is run on a small random instance of the family and compared with the hand-written
backprop (block-relative error <= 1e-12; its sgd_step against theta - eta * the backprop's gradient), with complex
step (<= 1e-12) and with central differences (Richardson, <= 1e-7), by the same checks as `bpv verify`
(derive.verification.kernel_check). A kernel that fails is not
written (exit 1). The file DIR/<name>.py is written atomically
and the import line is printed.

Exit status: 0 written, 1 a kernel failed verification (nothing written for it), 2 bad input.

examples:
  bpv kernels mnist_nielsen -o numeric/kernels          then: from numeric.kernels import mnist_nielsen
  bpv kernels --net 4-8-3 --act relu,softmax --cost cce -o build/kernels
  bpv kernels mnist_nielsen regression -o /tmp/kernels --seed 3
  bpv kernels lenet_tiny char_rnn -o build/kernels          the convolutional and the recurrent kernel
"""

def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("-o", "--output", metavar="DIR", required=True, help="folder to write <name>.py into")
    add_seed_argument(p)


def _import_line(out_dir: Path, name: str) -> str:
    parts = out_dir.resolve().parts
    cwd = Path.cwd().resolve().parts
    if parts[: len(cwd)] == cwd and all(s.isidentifier() for s in parts[len(cwd):]) and len(parts) > len(cwd):
        return f"from {'.'.join(parts[len(cwd):])} import {name}"
    return f"import sys; sys.path.insert(0, {str(out_dir.resolve())!r}); import {name}"


def _print_check(c: KernelCheck) -> None:
    bound = "" if c.bound is None else f" (bound {c.bound:.0e})"
    print(f"  {'ok  ' if c.holds else 'FAIL'} {c.check}: {c.error:.1e}{bound}")
    if c.detail and not c.holds:
        print("       " + c.detail.replace("\n", "\n       "))


def run(args: argparse.Namespace) -> int:
    specs = models_from_args(args)
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(f"-o {args.output}: not a folder")
    refuse_overwrite([out_dir / f"{kernel_name(spec)}.py" for spec in specs], args.force)
    status = 0
    for spec in specs:
        print_warnings(spec)
        name = kernel_name(spec)
        source = generated_source(spec)
        checks = verify_kernel(spec, load_kernel(source, name), args.seed)
        print(f"== {spec.title}: kernel {name}")
        for c in checks:
            _print_check(c)
        if not all(c.holds for c in checks):
            print("  not written: the kernel failed verification", file=sys.stderr)
            status = 1
            continue
        path = write_output(out_dir / f"{name}.py", source)
        print(f"  wrote {path}")
        print(f"  {_import_line(out_dir, name)}")
    return status


__all__ = ["DESCRIPTION", "HELP", "ORDER", "add_arguments", "run"]
