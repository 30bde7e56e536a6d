"""Benchmark: how the generated kernel scales with batch size and width, against the GEMM floor and PyTorch.

Model: 784-w-w-10, sigmoid hidden layers, softmax + cce, mean over the batch, samples as columns (the family of
``bench_kernels.py``), for batch sizes 1..4096 and widths w = 16..1024. In every cell the contenders run in this one
process, BLAS pinned to one thread (:mod:`numeric.blas`; PyTorch ``set_num_threads(1)``), interleaved round by
round: the generated kernel's gradients, the same matrix products alone (the floor), PyTorch CPU autograd, and the
same products through PyTorch (to tell its BLAS from the rest). A cell whose measurement would take longer than
``--budget`` seconds (default 10) is skipped; the number of repeats adapts to the cell (at least 3; the median is
reported).

Where the kernel loses to PyTorch the last list says why, from what was measured in that cell: slower matrix
products (OpenBLAS against PyTorch's MKL on the same shapes), more time outside them (element-wise passes), or the
fixed cost of a call (argument checks and some 30 NumPy calls) when the whole call is short.

Run: ``python benchmarks/bench_scaling.py [--dtype float64] [--budget 10]``.
"""

from __future__ import annotations

from numeric.blas import pin_blas, pin_blas_environment

pin_blas_environment()  # before NumPy loads BLAS (numeric.blas imports no NumPy): docs/conventions.md § Measuring

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from bench_kernels import gemms_alone, interleaved, torch_contender  # noqa: E402

from derive.codegen.kernel import generate_kernel_source  # noqa: E402
from derive.verification.kernel_check import load_kernel  # noqa: E402
from numeric.instances import init_params, random_batch  # noqa: E402
from numeric.spec import ModelSpec  # noqa: E402

BATCHES = (1, 4, 16, 64, 256, 1024, 4096)
WIDTHS = (16, 64, 256, 1024)
GENERATED, GEMMS, TORCH, TORCH_GEMMS = "generated", "GEMMs alone", "PyTorch", "PyTorch GEMMs alone"
#: probes of the element-wise work: NumPy's exp alone and PyTorch's whole sigmoid on the two hidden layers' arrays
EXP, TORCH_SIGMOID = "NumPy exp of the hidden layers", "PyTorch sigmoid of the hidden layers"
#: below this time a call is dominated by its fixed cost, not by arithmetic
SHORT_CALL = 200e-6


def spec_for(width: int) -> ModelSpec:
    return ModelSpec.build(f"784-{width}-{width}-10", "sigmoid,sigmoid,softmax", "cce")


def torch_gemms(params, x):
    """The same matrix products as :func:`gemms_alone` through PyTorch's BLAS (MKL in the CPU wheels), no
    autograd; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    tp = {k: torch.from_numpy(v) for k, v in params.items()}
    tx = torch.from_numpy(x)

    def products():
        with torch.no_grad():
            return gemms_alone(tp, tx)

    return products


def elementwise_probes(width: int, batch: int, dtype: type) -> dict[str, object]:
    """NumPy's exp alone on two (width, batch) arrays (the one exponential per unit of the folded sigmoid) and
    PyTorch's sigmoid on the same shapes (exp, add and divide in one vectorised pass); no torch: the exp only."""
    z = np.random.default_rng(1).standard_normal((2, width, batch)).astype(dtype)
    u = np.empty_like(z)
    probes: dict[str, object] = {EXP: lambda: (np.exp(z[0], out=u[0]), np.exp(z[1], out=u[1]))}
    try:
        import torch
    except ImportError:
        return probes
    tz, tu = torch.from_numpy(z), torch.from_numpy(u)
    probes[TORCH_SIGMOID] = lambda: (torch.sigmoid(tz[0], out=tu[0]), torch.sigmoid(tz[1], out=tu[1]))
    return probes


def cell(kernel, width: int, batch: int, dtype: type, budget: float, seed: int) -> dict[str, float] | None:
    """Median times of the contenders in one cell, or None if measuring it would exceed ``budget`` seconds."""
    spec = spec_for(width)
    rng = np.random.default_rng(seed)
    params = {k: v.astype(dtype) for k, v in init_params(spec, rng).items()}
    x, labels = random_batch(spec, batch, rng, labels="int")
    x = x.astype(dtype)
    y = np.eye(10, dtype=dtype)[labels].T.copy()
    contenders = {GENERATED: lambda: kernel.gradients(params, x, y), GEMMS: lambda: gemms_alone(params, x)}
    torch_step, _ = torch_contender(params, x, labels)
    if torch_step is not None:
        contenders[TORCH] = torch_step
        contenders[TORCH_GEMMS] = torch_gemms(params, x)
    contenders.update(elementwise_probes(width, batch, dtype))
    t0 = time.perf_counter()
    for fn in contenders.values():  # one warm-up call each (fills the kernel's workspace), timed as a probe
        fn()
    round_time = time.perf_counter() - t0
    if 4 * round_time > budget:  # the warm-up and at least three interleaved rounds
        return None
    repeats = int(min(200, max(3, (budget / 4) / max(round_time, 1e-9))))
    return interleaved(contenders, repeats)


def why(times: dict[str, float], width: int, batch: int, dtype: type) -> str:
    """Why the kernel is slower than PyTorch in this cell, from the cell's own measurements: the matrix products
    (OpenBLAS through NumPy against MKL through PyTorch, the same shapes) and the time outside them."""
    gen, floor, step, mkl = times[GENERATED], times[GEMMS], times[TORCH], times[TORCH_GEMMS]
    if gen < SHORT_CALL:
        return (f"fixed cost of a call ({gen * 1e6:.0f} us in all, {floor * 1e6:.0f} us of it matrix products):"
                " argument checks and ~30 NumPy calls of ~1 us each")
    reasons = []
    if floor > 1.1 * mkl:
        reasons.append(f"the matrix products: OpenBLAS {floor * 1e3:.2f} ms, PyTorch's MKL {mkl * 1e3:.2f} ms")
    if gen - floor > 1.1 * max(step - mkl, 0.0):
        size = width * batch * np.dtype(dtype).itemsize
        size_text = f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{size / 2**10:.0f} KB"
        text = (f"outside the products {1e3 * (gen - floor):.2f} ms against PyTorch's {1e3 * max(step - mkl, 0.0):.2f}"
                f" ms: NumPy makes one pass per operation over {size_text} layer arrays (the folded sigmoid: an exp"
                " and 10 passes), PyTorch's sigmoid and sigmoid backward are one vectorised pass each")
        if TORCH_SIGMOID in times:
            text += (f"; measured here, NumPy's exp alone on the two hidden layers takes {1e3 * times[EXP]:.2f} ms,"
                     f" PyTorch's whole sigmoid {1e3 * times[TORCH_SIGMOID]:.2f} ms")
        if np.dtype(dtype) == np.float64:
            text += " (NumPy's float64 exp is a scalar libm loop on this CPU: no AVX-512)"
        reasons.append(text)
    return "; ".join(reasons) or "within the noise of this cell"


def table(title: str, results: dict, value) -> None:
    print(f"### {title}")
    print()
    print("| batch \\ width | " + " | ".join(str(w) for w in WIDTHS) + " |")
    print("|---" * (len(WIDTHS) + 1) + "|")
    for b in BATCHES:
        cells = []
        for w in WIDTHS:
            r = results.get((b, w))
            cells.append("skipped (> budget)" if r is None else value(r))
        print(f"| {b} | " + " | ".join(cells) + " |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--budget", type=float, default=10.0, help="seconds per cell; longer cells are skipped")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    dtype = np.dtype(args.dtype).type
    print(f"threads: pinned before NumPy loaded: {pin_blas()}")
    _, torch_note = torch_contender({"W1": np.zeros((1, 1)), "b1": np.zeros((1, 1))}, np.zeros((1, 1)), [0])
    print(f"torch: {torch_note}")
    print(f"model 784-w-w-10 sigmoid,sigmoid,softmax / cce, mean, columns, {args.dtype}; "
          f"cells over {args.budget:g} s skipped; medians of interleaved repeats")
    print()
    kernel = load_kernel(generate_kernel_source(spec_for(WIDTHS[0])), "bench_scaling")  # one kernel, every width
    results: dict[tuple[int, int], dict[str, float] | None] = {}
    for w in WIDTHS:
        for b in BATCHES:
            results[b, w] = cell(kernel, w, b, dtype, args.budget, args.seed)
    has_torch = any(r is not None and TORCH in r for r in results.values())
    table("generated gradients, ms", results, lambda r: f"{r[GENERATED] * 1e3:.3f}")
    table("GEMMs alone / generated (1.00 = at the GEMM floor)", results, lambda r: f"{r[GEMMS] / r[GENERATED]:.2f}")
    table("NumPy exp of the hidden layers / time outside the products (generated - GEMMs)", results,
          lambda r: f"{r[EXP] / (r[GENERATED] - r[GEMMS]):.2f}" if r[GENERATED] > r[GEMMS] else "n/a (noise)")
    if not has_torch:
        print("PyTorch not installed: no comparison with it")
        return
    table("generated / PyTorch (< 1: the kernel is faster)", results, lambda r: f"{r[GENERATED] / r[TORCH]:.2f}")
    losing = {k: r for k, r in results.items() if r is not None and r[GENERATED] > r[TORCH]}
    print("### where the kernel loses to PyTorch, and why")
    print()
    if not losing:
        print("nowhere")
    for (b, w), r in sorted(losing.items()):
        print(f"- batch {b}, width {w}: {r[GENERATED] / r[TORCH]:.2f} x PyTorch; {why(r, w, b, dtype)}")
    ratios = [r[GEMMS] / r[GENERATED] for r in results.values() if r is not None]
    print()
    print(f"GEMM floor ratio over the measured cells: median {statistics.median(ratios):.2f}, "
          f"range {min(ratios):.2f}..{max(ratios):.2f}")


if __name__ == "__main__":
    main()
