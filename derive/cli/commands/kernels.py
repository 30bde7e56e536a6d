"""``bpv kernels``: generate a model family's NumPy kernel, verify it, and write it only if it passes."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from derive.cli.args import add_model_arguments, add_seed_argument, models_from_args, print_warnings
from derive.codegen.kernel import generate_kernel_source, kernel_name
from derive.core.files import atomic_write_text
from numeric import backprop
from numeric.errors import BadInput
from numeric.finite_diff import complex_step
from numeric.gradcheck import gradcheck
from numeric.instances import init_params, random_batch
from numeric.metrics import block_relative_error
from numeric.spec import ModelSpec

ORDER = 30
HELP = "generate a verified NumPy kernel (forward, loss, gradients) for a model family"
DESCRIPTION = """\
Generate a standalone Python module that needs NumPy only, with
  forward(params, x) -> a^L,  loss(params, x, y) -> float,  gradients(params, x, y) -> dict
for the model's family (same depth, activations, cost, reduction, layout and biases; any widths). The layer
structure is printed from the proven batch forms (matrix products), the element-wise functions from the proven
stable forms (sigma' from the forward value, softplus and softmax with masks and max-shifts).

Before writing, the kernel is run on a small random instance of the family and compared with the hand-written
backprop (block-relative error <= 1e-12), with complex step (<= 1e-12) and with central differences (numeric
gradcheck, full mode). A kernel that fails is not written (exit 1). The file DIR/<name>.py is written atomically
and the import line is printed.

Exit status: 0 written, 1 a kernel failed verification (nothing written for it), 2 bad input.

examples:
  bpv kernels mnist_nielsen -o numeric/kernels          then: from numeric.kernels import mnist_nielsen
  bpv kernels --net 4-8-3 --act relu,softmax --cost cce -o build/kernels
  bpv kernels mnist_nielsen regression -o /tmp/kernels --seed 3
"""

#: Bounds (DESIGN.md § Conventions): two exact methods and complex step 1e-12.
BOUND_EXACT = 1e-12
BOUND_COMPLEX_STEP = 1e-12
CHECK_WIDTH = 6
CHECK_BATCH = 5


@dataclass
class Verdict:
    """One check of a kernel: what was compared, the worst block-relative error, and whether it holds."""

    check: str
    error: float
    bound: float | None
    holds: bool
    detail: str = ""


def load_kernel(source: str, name: str) -> ModuleType:
    """Import generated source (written by bpv, never user text) from a temporary file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.py"
        path.write_text(source, encoding="ascii")
        spec = importlib.util.spec_from_file_location(f"bpv_kernel_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def instance(spec: ModelSpec, seed: int, width: int = CHECK_WIDTH, m: int = CHECK_BATCH, labels: str = "onehot"):
    """A small random instance of the family: widths capped at ``width`` (softmax keeps 2), batch ``m``."""
    small = spec.with_sizes([min(n, width) for n in spec.sizes])
    rng = np.random.default_rng(seed)
    params = init_params(small, rng)
    x, y = random_batch(small, m, rng, labels=labels)
    return small, params, x, y


def verify_kernel(spec: ModelSpec, kernel: ModuleType, seed: int = 0, width: int = CHECK_WIDTH) -> list[Verdict]:
    """Compare a kernel with the hand-written backprop, complex step and central differences (see DESCRIPTION)."""
    small, params, x, y = instance(spec, seed, width)
    out: list[Verdict] = []
    try:
        g = kernel.gradients(params, x, y)
        ref = backprop.gradients(small, params, x, y)
    except Exception as err:  # a kernel that raises fails verification, with the reason
        return [Verdict("kernel runs", float("inf"), None, False, f"{type(err).__name__}: {err}")]
    err_bp = max(block_relative_error(g.get(k, np.empty(0)), ref[k]) for k in ref)
    if set(g) != set(ref):
        err_bp = float("inf")
    out.append(Verdict("gradients vs numeric.backprop.gradients", err_bp, BOUND_EXACT, err_bp <= BOUND_EXACT))
    err_loss = abs(kernel.loss(params, x, y) - backprop.loss(small, params, x, y)) / max(
        abs(backprop.loss(small, params, x, y)), np.finfo(float).tiny)
    out.append(Verdict("loss vs numeric.backprop.loss", err_loss, BOUND_EXACT, err_loss <= BOUND_EXACT))
    err_fwd = block_relative_error(kernel.forward(params, x), backprop.forward(small, params, x))
    out.append(Verdict("forward vs numeric.backprop.forward", err_fwd, BOUND_EXACT, err_fwd <= BOUND_EXACT))

    def kernel_loss(p):
        return kernel.loss(p, x, y)

    cs_errors = []
    for name in params:
        cs = complex_step(kernel_loss, params, name, vectorised=False)
        if cs is None:
            out.append(Verdict("complex step", float("inf"), BOUND_COMPLEX_STEP, False,
                               f"{name}: the kernel's loss is not analytic (complex step impossible)"))
            break
        cs_errors.append(block_relative_error(np.asarray(g[name]).ravel(), cs))
    else:
        e = max(cs_errors)
        out.append(Verdict("gradients vs complex step", e, BOUND_COMPLEX_STEP, e <= BOUND_COMPLEX_STEP))
    result = gradcheck(kernel_loss, lambda p: kernel.gradients(p, x, y), params, mode="full", seed=seed)
    worst = max((r.rel_error for r in result.rows), default=0.0)
    out.append(Verdict("gradients vs central differences (numeric.gradcheck, full)", worst, None, result.ok,
                       "" if result.ok else str(result)))
    return out


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


def run(args: argparse.Namespace) -> int:
    specs = models_from_args(args)
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(f"-o {args.output}: not a folder")
    status = 0
    for spec in specs:
        print_warnings(spec)
        name = kernel_name(spec)
        source = generate_kernel_source(spec)
        verdicts = verify_kernel(spec, load_kernel(source, name), args.seed)
        ok = all(v.holds for v in verdicts)
        print(f"== {spec.title}: kernel {name}")
        for v in verdicts:
            bound = "" if v.bound is None else f" (bound {v.bound:.0e})"
            print(f"  {'ok  ' if v.holds else 'FAIL'} {v.check}: {v.error:.1e}{bound}")
            if v.detail and not v.holds:
                print("       " + v.detail.replace("\n", "\n       "))
        if not ok:
            print("  not written: the kernel failed verification", file=sys.stderr)
            status = 1
            continue
        path = atomic_write_text(out_dir / f"{name}.py", source)
        print(f"  wrote {path}")
        print(f"  {_import_line(out_dir, name)}")
    return status


__all__ = ["DESCRIPTION", "HELP", "ORDER", "Verdict", "add_arguments", "instance", "load_kernel",
           "run", "verify_kernel"]
