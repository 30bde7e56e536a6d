"""Benchmark: a generated kernel's gradients against the hand-written backprop, PyTorch autograd and the GEMM floor.

Model: 784-128-64-10, sigmoid hidden layers, softmax + cce, mean over a batch of 256, float64, samples as columns
(issue 5). Every contender runs in this one process with BLAS pinned to one thread: the environment variables
are set before NumPy loads and threadpoolctl limits OpenBLAS again (:mod:`numeric.blas`), and PyTorch gets
``torch.set_num_threads(1)`` (docs/conventions.md § Measuring). Timings are medians of many repeats, the
contenders interleaved round by round so that drift on a shared machine hits all of them alike. Ratios are what to
quote; absolute times vary run to run.

Run: ``python benchmarks/bench_kernels.py [--repeats 300]``. PyTorch is optional (``pip install torch==2.13.0``);
without it that row is skipped.
"""

from __future__ import annotations

from numeric.blas import pin_blas, pin_blas_environment

pin_blas_environment()  # before NumPy loads BLAS (numeric.blas imports no NumPy): docs/conventions.md § Measuring

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from derive.codegen.kernel import generate_kernel_source  # noqa: E402
from derive.verification.kernel_check import load_kernel  # noqa: E402
from numeric import backprop  # noqa: E402
from numeric.instances import init_params, random_batch  # noqa: E402
from numeric.metrics import block_relative_error  # noqa: E402
from numeric.spec import ModelSpec  # noqa: E402

SPEC = ModelSpec.build("784-128-64-10", "sigmoid,sigmoid,softmax", "cce")
BATCH = 256


def gemms_alone(params, x):
    """The matrix products of the generated gradients, alone (operands of the right shapes, values irrelevant)."""
    W1, W2, W3 = params["W1"], params["W2"], params["W3"]
    A1 = W1 @ x
    A2 = W2 @ A1
    A3 = W3 @ A2
    E3 = A3
    g3 = E3 @ A2.T
    E2 = W3.T @ E3
    g2 = E2 @ A1.T
    E1 = W2.T @ E2
    g1 = E1 @ x.T
    return g1, g2, g3


def torch_contender(params, x, labels):
    """PyTorch CPU autograd forward + backward of the same net (float64, one thread); None if torch is absent."""
    try:
        import torch
    except ImportError:
        return None, "PyTorch not installed (pip install torch==2.13.0): row skipped"
    torch.set_num_threads(1)
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    tx = torch.tensor(x.T.copy(), dtype=torch.float64)  # torch convention: samples as rows
    ty = torch.tensor(labels, dtype=torch.long)

    def step():
        for p in tp.values():
            p.grad = None
        a = tx
        for l in (1, 2):
            a = torch.sigmoid(a @ tp[f"W{l}"].T + tp[f"b{l}"].T)
        z = a @ tp["W3"].T + tp["b3"].T
        loss = torch.nn.functional.cross_entropy(z, ty)  # log-softmax + nll, mean over the batch
        loss.backward()
        return {k: p.grad for k, p in tp.items()}

    return step, f"torch {torch.__version__}, torch.get_num_threads() = {torch.get_num_threads()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pinned = pin_blas()
    rng = np.random.default_rng(args.seed)
    params = init_params(SPEC, rng)
    x, labels = random_batch(SPEC, BATCH, rng, labels="int")
    y = np.eye(10)[labels].T.copy()
    kernel = load_kernel(generate_kernel_source(SPEC), "bench_784_128_64_10")

    # the contenders compute the same thing: check before timing
    g, ref = kernel.gradients(params, x, y), backprop.gradients(SPEC, params, x, y)
    err = max(block_relative_error(g[k], ref[k]) for k in ref)
    contenders = {
        "generated gradients": lambda: kernel.gradients(params, x, y),
        "hand-written backprop": lambda: backprop.gradients(SPEC, params, x, y),
        "GEMMs alone": lambda: gemms_alone(params, x),
    }
    torch_step, torch_note = torch_contender(params, x, labels)
    if torch_step is not None:
        tg = torch_step()
        err_t = max(block_relative_error(tg[k].numpy(), ref[k]) for k in ref)
        contenders["PyTorch autograd fwd+bwd"] = torch_step

    for fn in contenders.values():  # warm up
        for _ in range(10):
            fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.repeats):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(ts) for name, ts in times.items()}

    print(f"model {SPEC.net} {SPEC.act_text} / {SPEC.cost}, batch {BATCH}, float64, {SPEC.layout}")
    print(f"threads: pinned before NumPy loaded: {pinned}")
    print(f"torch:   {torch_note}")
    print(f"medians of {args.repeats} interleaved repeats after 10 warm-up calls")
    print(f"agreement: generated vs hand-written {err:.1e}"
          + (f", PyTorch vs hand-written {err_t:.1e}" if torch_step is not None else ""))
    print()
    for name, t in med.items():
        print(f"  {name:26s} {t * 1e3:8.3f} ms")
    print()
    print("| ratio | measured | target |")
    print("|---|---|---|")
    gen = med["generated gradients"]
    print(f"| generated gradients / hand-written backprop | {gen / med['hand-written backprop']:.2f} | <= 1.0 |")
    if torch_step is not None:
        print(f"| generated gradients / PyTorch autograd fwd+bwd | {gen / med['PyTorch autograd fwd+bwd']:.2f}"
              " | <= 1.0 |")
    else:
        print("| generated gradients / PyTorch autograd fwd+bwd | skipped (no torch) | <= 1.0 |")
    print(f"| GEMMs alone / generated gradients | {med['GEMMs alone'] / gen:.2f} | >= 0.8 |")


if __name__ == "__main__":
    main()
