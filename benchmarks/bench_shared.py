"""Benchmark: gradients of the models with shared weights, the generated kernels against loops and torch.

Cases: ``lenet_tiny`` (1x8x8, 3x3 convolution with 4 filters and padding 1, relu, 2x2 max-pool, dense 64 -> 10,
softmax, cce) at a batch of 64 and of 256, and the vanilla RNN at (T, m) = (4, 64), (25, 64) with ``char_rnn``'s
5-8-5 and with a wider 5-64-5 at (25, 64). float64. Contenders, each computing every gradient of one batch:

* **kernel**: the shipped generated kernel (``numeric.kernels.lenet_tiny``, ``numeric.kernels.char_rnn``; the RNN
  kernel serves every width), im2col + GEMM and one loop over time;
* **loops**: a plain NumPy implementation written below the naive way (CS231n's naive layers: the convolution and the
  pool loop over the output positions, vectorised over the batch and the channels only; the RNN as min-char-rnn,
  one sequence at a time, one loop over time each), the baseline of the ratios;
* **numeric.conv_net**: bpv's hand-written reference (windowed tensordot + col2im over kernel offsets; BPTT
  vectorised over the sequences);
* **torch**: PyTorch CPU autograd, forward + backward (``conv2d``, ``max_pool2d``, an unrolled RNN;
  ``torch.set_num_threads(1)``), when torch is installed.

Every contender is first checked against numeric.conv_net (max block-relative error over the gradient blocks,
printed). As in bench_blocks.py, BLAS is pinned to one thread before NumPy loads (:mod:`numeric.blas`), the
contenders run interleaved with the order rotated each round, a run's time is a median over its repeats and the
table gives the median over ``--runs`` runs. Numbers are printed, not asserted; ratios are what to quote.

Run: ``python benchmarks/bench_shared.py [--runs 3] [--repeats 20]``.
"""

from __future__ import annotations

from numeric.blas import pin_blas, pin_blas_environment

pin_blas_environment()  # before NumPy loads BLAS (numeric.blas imports no NumPy): docs/conventions.md § Measuring

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Mapping  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from numeric import conv_net  # noqa: E402
from numeric.catalog import SHARED_CATALOG  # noqa: E402
from numeric.conv import Conv2d, Flatten, MaxPool2d  # noqa: E402
from numeric.conv_spec import ConvNetSpec  # noqa: E402
from numeric.kernels import char_rnn, lenet_tiny  # noqa: E402
from numeric.metrics import block_relative_error  # noqa: E402
from numeric.rnn_spec import RnnSpec  # noqa: E402

Array = np.ndarray
KERNEL, LOOPS, REFERENCE, TORCH = "kernel", "loops", "numeric.conv_net", "torch"
#: (label, spec, m): the cases of the table
CASES = [("lenet_tiny", SHARED_CATALOG["lenet_tiny"], 64), ("lenet_tiny", SHARED_CATALOG["lenet_tiny"], 256),
         ("char_rnn T=4", RnnSpec.build("5-8-5", 4), 64), ("char_rnn T=25", RnnSpec.build("5-8-5", 25), 64),
         ("rnn 5-64-5 T=25", RnnSpec.build("5-64-5", 25), 64)]


# ----- the plain loop contender: CS231n's naive layers, min-char-rnn's loop ---------------------------------------


def conv_forward_naive(x: Array, w: Array, b: Array, stride: int, pad: int) -> tuple[Array, tuple]:
    """Loops over the output positions; each is a tensordot of one window of every sample with the filters."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    m, _, hp, wp = xp.shape
    f, _, k, _ = w.shape
    rows, cols = (hp - k) // stride + 1, (wp - k) // stride + 1
    out = np.zeros((m, f, rows, cols))
    for i in range(rows):
        for j in range(cols):
            window = xp[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b[0]
    return out, (xp, w, stride, pad)


def conv_backward_naive(dout: Array, cache: tuple) -> tuple[Array, Array, Array]:
    xp, w, stride, pad = cache
    k = w.shape[2]
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = xp[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            dw += np.tensordot(dout[:, :, i, j], window, axes=([0], [0]))
            dxp[:, :, i * stride:i * stride + k, j * stride:j * stride + k] += np.tensordot(dout[:, :, i, j], w,
                                                                                          axes=([1], [0]))
    h, w_in = xp.shape[2] - 2 * pad, xp.shape[3] - 2 * pad
    return dxp[:, :, pad:pad + h, pad:pad + w_in], dw, dout.sum(axis=(0, 2, 3)).reshape(1, -1)


def pool_forward_naive(x: Array, k: int, stride: int) -> tuple[Array, tuple]:
    """Loops over the output positions; the gradient goes to the first maximum of each window."""
    m, c, h, w = x.shape
    rows, cols = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.zeros((m, c, rows, cols))
    where = np.zeros((m, c, rows, cols), dtype=np.int64)
    for i in range(rows):
        for j in range(cols):
            window = x[:, :, i * stride:i * stride + k, j * stride:j * stride + k].reshape(m, c, k * k)
            where[:, :, i, j] = window.argmax(axis=2)
            out[:, :, i, j] = window.max(axis=2)
    return out, (x.shape, where, k, stride)


def pool_backward_naive(dout: Array, cache: tuple) -> Array:
    shape, where, k, stride = cache
    dx = np.zeros(shape)
    m, c = shape[:2]
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            hit = np.zeros((m, c, k * k))
            np.put_along_axis(hit, where[:, :, i, j, None], dout[:, :, i, j, None], axis=2)
            dx[:, :, i * stride:i * stride + k, j * stride:j * stride + k] += hit.reshape(m, c, k, k)
    return dx


def conv_net_loops(spec: ConvNetSpec, p: Mapping[str, Array], x: Array, y: Array) -> dict[str, Array]:
    """Forward and backward through the stages of a relu / softmax-cce net with the naive layers above."""
    caches, a = [], x
    for layer in spec.layers:
        if isinstance(layer, Conv2d):
            z, cache = conv_forward_naive(a, p[layer.W], p[layer.b], layer.stride, layer.pad)
            a = np.maximum(z, 0)
            caches.append((layer, (cache, z)))
        elif isinstance(layer, MaxPool2d):
            a, cache = pool_forward_naive(a, layer.k, layer.stride)
            caches.append((layer, cache))
        elif isinstance(layer, Flatten):
            caches.append((layer, a.shape))
            a = a.reshape(a.shape[0], -1)
        else:
            z = a @ p[layer.W] + p[layer.b]
            caches.append((layer, (a, z)))
            a = np.maximum(z, 0) if layer is not spec.dense[-1] else z
    z = a - a.max(axis=1, keepdims=True)
    s = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    g, grads = (s - y) / x.shape[0], {}
    for layer, cache in reversed(caches):
        if isinstance(layer, Conv2d):
            conv_cache, z = cache
            g, grads[layer.W], grads[layer.b] = conv_backward_naive(g * (z > 0), conv_cache)
        elif isinstance(layer, MaxPool2d):
            g = pool_backward_naive(g, cache)
        elif isinstance(layer, Flatten):
            g = g.reshape(cache)
        else:
            a_in, z = cache
            if layer is not spec.dense[-1]:
                g = g * (z > 0)
            grads[layer.W], grads[layer.b] = a_in.T @ g, g.sum(axis=0, keepdims=True)
            g = g @ p[layer.W].T
    return {k: grads[k] for k in spec.param_names()}


def rnn_loops(p: Mapping[str, Array], x: Array, y: Array) -> dict[str, Array]:
    """min-char-rnn's forward and backward, one sequence at a time (columns of one), summed and averaged."""
    T, m = x.shape
    n_h, V = p["Wxh"].shape
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    for s in range(m):
        hs, ps, xs = {-1: np.zeros((n_h, 1))}, {}, {}
        for t in range(T):
            xs[t] = np.zeros((V, 1))
            xs[t][x[t, s]] = 1
            hs[t] = np.tanh(p["Wxh"] @ xs[t] + p["Whh"] @ hs[t - 1] + p["bh"])
            z = p["Why"] @ hs[t] + p["by"]
            ps[t] = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        dh_next = np.zeros((n_h, 1))
        for t in reversed(range(T)):
            dz = ps[t].copy()
            dz[y[t, s]] -= 1
            grads["Why"] += dz @ hs[t].T
            grads["by"] += dz
            dh = p["Why"].T @ dz + dh_next
            da = (1 - hs[t] * hs[t]) * dh
            grads["bh"] += da
            grads["Wxh"] += da @ xs[t].T
            grads["Whh"] += da @ hs[t - 1].T
            dh_next = p["Whh"].T @ da
    return {k: v / m for k, v in grads.items()}


# ----- torch --------------------------------------------------------------------------------------------------------


def torch_contender(spec: Any, p: Mapping[str, Array], x: Array, y: Array) -> tuple[Callable[[], dict] | None, str]:
    """PyTorch autograd forward + backward of the same model, one thread; None without torch."""
    try:
        import torch
    except ImportError:
        return None, "torch not installed: column skipped"
    torch.set_num_threads(1)
    F = torch.nn.functional
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in p.items()}
    tx, ty = torch.tensor(x), torch.tensor(y)

    def conv_loss() -> Any:
        a = tx
        for layer in spec.layers:
            if isinstance(layer, Conv2d):
                a = torch.relu(F.conv2d(a, tp[layer.W], tp[layer.b][0], stride=layer.stride, padding=layer.pad))
            elif isinstance(layer, MaxPool2d):
                a = F.max_pool2d(a, layer.k, layer.stride)
            elif isinstance(layer, Flatten):
                a = a.reshape(a.shape[0], -1)
            else:
                a = a @ tp[layer.W] + tp[layer.b]
                a = torch.relu(a) if layer is not spec.dense[-1] else a
        return -(ty * F.log_softmax(a, dim=1)).sum() / tx.shape[0]

    def rnn_loss() -> Any:
        T, m = tx.shape
        h, cols, loss = torch.zeros((spec.hidden, m), dtype=torch.float64), torch.arange(m), 0
        for t in range(T):
            h = torch.tanh(tp["Wxh"][:, tx[t]] + tp["Whh"] @ h + tp["bh"])
            loss = loss - F.log_softmax(tp["Why"] @ h + tp["by"], dim=0)[ty[t], cols].sum()
        return loss / m

    def step() -> dict:
        for t in tp.values():
            t.grad = None
        (rnn_loss() if isinstance(spec, RnnSpec) else conv_loss()).backward()
        return {k: t.grad for k, t in tp.items()}

    return step, f"torch {torch.__version__}, {torch.get_num_threads()} thread"


# ----- timing -------------------------------------------------------------------------------------------------------


def interleaved(contenders: Mapping[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """The median time of each contender over ``repeats`` rounds, interleaved, the order rotated each round."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            contenders[name]()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def _agreement(got: Mapping[str, Any], ref: Mapping[str, Array]) -> float:
    return max(block_relative_error(np.asarray(got[k]).reshape(r.shape), r) for k, r in ref.items())


def contenders_for(spec: Any, m: int, seed: int) -> tuple[dict[str, Callable[[], object]], list[str]]:
    rng = np.random.default_rng(seed)
    params = conv_net.init_params(spec, rng)
    x, y = conv_net.random_batch(spec, m, rng)
    ref = conv_net.gradients(spec, params, x, y)
    rnn = isinstance(spec, RnnSpec)
    kernel = char_rnn if rnn else lenet_tiny
    contenders: dict[str, Callable[[], object]] = {
        KERNEL: lambda: kernel.gradients(params, x, y),
        LOOPS: (lambda: rnn_loops(params, x, y)) if rnn else (lambda: conv_net_loops(spec, params, x, y)),
        REFERENCE: lambda: conv_net.gradients(spec, params, x, y),
    }
    notes = [f"{name} vs numeric.conv_net {_agreement(fn(), ref):.1e}" for name, fn in contenders.items()
             if name != REFERENCE]
    torch_step, torch_note = torch_contender(spec, params, x, y)
    if torch_step is not None:
        notes.append(f"torch vs numeric.conv_net {_agreement({k: v.numpy() for k, v in torch_step().items()}, ref):.1e}"
                     f" ({torch_note})")
        contenders[TORCH] = torch_step
    else:
        notes.append(torch_note)
    return contenders, notes


def _ms(medians: list[dict[str, float]], c: str) -> float | None:
    return statistics.median(med[c] for med in medians) * 1e3 if c in medians[0] else None


def _ratio(medians: list[dict[str, float]], num: str, den: str) -> str:
    if num not in medians[0] or den not in medians[0]:
        return "-"
    ratios = [med[num] / med[den] for med in medians]
    return f"{statistics.median(ratios):.3g} ({min(ratios):.3g}..{max(ratios):.3g})"


RATIOS = [(KERNEL, LOOPS), (KERNEL, REFERENCE), (KERNEL, TORCH), (TORCH, LOOPS)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="independent runs (median and spread of the ratios)")
    parser.add_argument("--repeats", type=int, default=20, help="interleaved repeats per run")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"threads: {pin_blas()}")
    print(f"float64; {max(1, args.runs)} runs of {args.repeats} interleaved repeats after 3 warm-up calls; "
          "times are medians (ms), ratios median (min..max over runs)")
    print()
    table = []
    for label, spec, m in CASES:
        contenders, notes = contenders_for(spec, m, args.seed)
        for fn in contenders.values():
            for _ in range(3):
                fn()
        medians = [interleaved(contenders, args.repeats) for _ in range(max(1, args.runs))]
        print(f"{label}, m = {m}: " + "; ".join(notes))
        table.append((label, m, medians))
    print()
    head = [KERNEL, LOOPS, REFERENCE, TORCH]
    print("| case | m | " + " | ".join(f"{c} ms" for c in head) + " | "
          + " | ".join(f"{a} / {b}" for a, b in RATIOS) + " |")
    print("|---|---|" + "---|" * (len(head) + len(RATIOS)))
    for label, m, medians in table:
        cells = ["n/a" if t is None else f"{t:.3f}" for t in (_ms(medians, c) for c in head)]
        print(f"| {label} | {m} | " + " | ".join(cells) + " | "
              + " | ".join(_ratio(medians, a, b) for a, b in RATIOS) + " |")


if __name__ == "__main__":
    main()
