"""Benchmark: a generated kernel's gradients against the hand-written backprop, PyTorch autograd and the GEMM floor.

Model: 784-128-64-10, sigmoid hidden layers, softmax + cce, mean over a batch of 256, samples as columns (issue 5),
in float64 and in float32 (issue 19). Every contender runs in this one process with BLAS pinned to one thread: the
environment variables are set before NumPy loads and threadpoolctl limits OpenBLAS again (:mod:`numeric.blas`), and
PyTorch gets ``torch.set_num_threads(1)`` (docs/conventions.md § Measuring). A run is many repeats with the
contenders interleaved round by round (the order rotated each round), so that drift on a shared machine hits all
of them alike; the ratios of a run are ratios of its medians, and the table gives the median and the spread
(min..max) of the ratios over ``--runs`` runs. Ratios are what to quote; absolute times vary run to run.

Run: ``python benchmarks/bench_kernels.py [--runs 3] [--repeats 100]``. PyTorch is optional
(``pip install torch==2.13.0``); without it that row is skipped.
"""

from __future__ import annotations

from numeric.blas import pin_blas, pin_blas_environment

pin_blas_environment()  # before NumPy loads BLAS (numeric.blas imports no NumPy): docs/conventions.md § Measuring

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from derive.codegen.kernel import generate_kernel_source  # noqa: E402
from derive.verification.kernel_check import load_kernel  # noqa: E402
from numeric import backprop  # noqa: E402
from numeric.instances import init_params, random_batch  # noqa: E402
from numeric.metrics import block_relative_error  # noqa: E402
from numeric.spec import ModelSpec  # noqa: E402

SPEC = ModelSpec.build("784-128-64-10", "sigmoid,sigmoid,softmax", "cce")
BATCH = 256
GENERATED, HAND, GEMMS, TORCH = ("generated gradients", "hand-written backprop", "GEMMs alone",
                                 "PyTorch autograd fwd+bwd")
#: (numerator, denominator, target) of each ratio, per dtype; None: reported only
TARGETS = {
    "float64": [(GEMMS, GENERATED, ">= 0.90"), (GENERATED, HAND, "<= 0.90"), (GENERATED, TORCH, "<= 0.95")],
    "float32": [(GEMMS, GENERATED, None), (GENERATED, HAND, "<= 0.90"), (GENERATED, TORCH, None)],
}


def gemms_alone(params, x):
    """The matrix products of the generated gradients, alone (operands of the right shapes, values irrelevant):
    W^l A^{l-1} forward, (W^{l+1})^T E^{l+1} back (none for the input layer), E^l (A^{l-1})^T."""
    Ws = [params[f"W{l}"] for l in range(1, len([k for k in params if k.startswith("W")]) + 1)]
    A = [x]
    for W in Ws:
        A.append(W @ A[-1])
    E, grads = A[-1], []
    for l in range(len(Ws), 0, -1):
        grads.append(E @ A[l - 1].T)
        if l > 1:
            E = Ws[l - 1].T @ E
    return grads


def torch_contender(params, x, labels):
    """PyTorch CPU autograd forward + backward of the same net (the dtype of ``x``, one thread); None if torch
    is absent."""
    try:
        import torch
    except ImportError:
        return None, "PyTorch not installed (pip install torch==2.13.0): row skipped"
    torch.set_num_threads(1)
    dtype = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}[x.dtype]
    tp = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in params.items()}
    tx = torch.tensor(x.T.copy(), dtype=dtype)  # torch convention: samples as rows
    ty = torch.tensor(labels, dtype=torch.long)

    F, L = torch.nn.functional, len([k for k in params if k.startswith("W")])

    def step():
        for p in tp.values():
            p.grad = None
        a = tx
        for l in range(1, L):
            a = torch.sigmoid(F.linear(a, tp[f"W{l}"], tp[f"b{l}"][:, 0]))  # F.linear: the bias fused (addmm)
        z = F.linear(a, tp[f"W{L}"], tp[f"b{L}"][:, 0])
        loss = F.cross_entropy(z, ty)  # log-softmax + nll, mean over the batch
        loss.backward()
        return {k: p.grad.reshape(params[k].shape) for k, p in tp.items()}

    return step, f"torch {torch.__version__}, torch.get_num_threads() = {torch.get_num_threads()}"


def interleaved(contenders: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """The median time of each contender over ``repeats`` rounds, the contenders interleaved within a round and
    the order rotated from round to round: each one follows every other equally often, so none always starts with
    the caches another one left warm (the same parameters and inputs) or cold (PyTorch's own copies)."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn = contenders[name]
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def contenders_for(dtype: type, seed: int) -> tuple[dict[str, Callable[[], object]], str, str]:
    """The four contenders on one instance in ``dtype``, checked to compute the same gradients first."""
    rng = np.random.default_rng(seed)
    params = {k: v.astype(dtype) for k, v in init_params(SPEC, rng).items()}
    x, labels = random_batch(SPEC, BATCH, rng, labels="int")
    x = x.astype(dtype)
    y = np.eye(10, dtype=dtype)[labels].T.copy()
    kernel = load_kernel(generate_kernel_source(SPEC), "bench_784_128_64_10")
    g, ref = kernel.gradients(params, x, y), backprop.gradients(SPEC, params, x, y)
    assert all(v.dtype == dtype for v in g.values()), "the kernel must keep the input dtype"
    agreement = f"generated vs hand-written {max(block_relative_error(g[k], ref[k]) for k in ref):.1e}"
    contenders = {
        GENERATED: lambda: kernel.gradients(params, x, y),
        HAND: lambda: backprop.gradients(SPEC, params, x, y),
        GEMMS: lambda: gemms_alone(params, x),
    }
    torch_step, torch_note = torch_contender(params, x, labels)
    if torch_step is not None:
        tg = torch_step()
        agreement += f", PyTorch vs hand-written {max(block_relative_error(tg[k].numpy(), ref[k]) for k in ref):.1e}"
        contenders[TORCH] = torch_step
    return contenders, agreement, torch_note


def exp_alone(dtype: type, repeats: int = 50) -> float:
    """Median time of NumPy's exp alone on arrays of the hidden layers' shapes (n_l, batch): the one exponential
    per unit that the stable sigmoid cannot do without, and a lower bound on the time outside the products."""
    rng = np.random.default_rng(1)
    zs = [-np.abs(rng.standard_normal((n, BATCH))).astype(dtype) for n in SPEC.sizes[1:-1]]
    us = [np.empty_like(z) for z in zs]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for z, u in zip(zs, us, strict=True):
            np.exp(z, out=u)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_dtype(dtype: type, runs: int, repeats: int, seed: int) -> None:
    name = np.dtype(dtype).name
    contenders, agreement, torch_note = contenders_for(dtype, seed)
    for fn in contenders.values():  # warm up (and fill the kernel's workspace)
        for _ in range(10):
            fn()
    medians = [interleaved(contenders, repeats) for _ in range(runs)]
    print(f"## {name}: model {SPEC.net} {SPEC.act_text} / {SPEC.cost}, batch {BATCH}, {SPEC.layout}")
    print(f"torch: {torch_note}; agreement: {agreement}")
    print(f"{runs} runs of {repeats} interleaved repeats after 10 warm-up calls")
    print()
    print("| contender | median time, ms (min..max over runs) |")
    print("|---|---|")
    for c in contenders:
        ts = [med[c] * 1e3 for med in medians]
        print(f"| {c} | {statistics.median(ts):.3f} ({min(ts):.3f}..{max(ts):.3f}) |")
    print()
    print("| ratio | median | spread over runs | target |")
    print("|---|---|---|---|")
    for num, den, target in TARGETS[name]:
        label = f"{num} / {den}"
        if num not in contenders or den not in contenders:
            print(f"| {label} | skipped (no torch) | | {target or 'reported'} |")
            continue
        ratios = [med[num] / med[den] for med in medians]
        print(f"| {label} | {statistics.median(ratios):.2f} | {min(ratios):.2f}..{max(ratios):.2f} "
              f"| {target or 'reported only'} |")
    print()
    outside = statistics.median(med[GENERATED] - med[GEMMS] for med in medians)
    floor, exp = statistics.median(med[GEMMS] for med in medians), exp_alone(dtype)
    print(f"What limits it: {outside * 1e3:.3f} ms of the generated gradients is outside the matrix products; "
          f"NumPy's exp alone on the hidden layers' arrays takes {exp * 1e3:.3f} ms of that (measured after the "
          f"runs): with nothing else outside the products, GEMMs alone / generated would be at most "
          f"{floor / (floor + exp):.2f}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="independent runs (median and spread; at least 3)")
    parser.add_argument("--repeats", type=int, default=100, help="interleaved repeats per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=["float64", "float32", "both"], default="both")
    args = parser.parse_args()
    print(f"threads: pinned before NumPy loaded: {pin_blas()}")
    print()
    for dtype in {"float64": [np.float64], "float32": [np.float32], "both": [np.float64, np.float32]}[args.dtype]:
        bench_dtype(dtype, max(1, args.runs), args.repeats, args.seed)


if __name__ == "__main__":
    main()
