"""Benchmark: gradients of nets with the blocks past the dense layer (batch norm, layer norm, dropout, L2).

Four specs, each at a batch of 64 and of 256, float64: ``nielsen_ch3`` (784-30-10 sigmoid, bce, L2 lambda 5 over
n = 50,000), ``bn_net`` (32-64-64-10 relu, relu, softmax, cce, batch norm, samples as rows), ``layernorm_net``
(16-32-32-4 tanh, tanh, softmax, cce, layer norm) and ``dropout_net`` (20-50-50-3 relu, relu, softmax, cce, keep
0.5, one fixed mask per batch). Contenders, each computing every gradient of one batch:

* **kernel**: the generated kernel (``derive.codegen.generate_kernel_source`` + ``load_kernel``); when generation
  or loading raises, or the kernel takes no dropout masks, the row says ``kernel: not available`` and why;
* **hand NumPy**: a plain CS231n-style forward and backward written below (samples as rows, the compact batch-norm
  backward), the baseline of the ratios;
* **numeric.backprop**: bpv's hand-written reference (its own layer objects, validation, layout conversion);
* **torch**: PyTorch CPU autograd, forward + backward (``torch.set_num_threads(1)``), when torch is installed.

Every contender is first checked against numeric.backprop (max block-relative error, printed; a bias right before
a batch norm has a true gradient of exactly 0, so it is left out of that number). As in bench_kernels.py, BLAS is
pinned to one thread before NumPy loads (:mod:`numeric.blas`), the contenders run interleaved with the order rotated
each round, a run's time is a median over its repeats and the table gives the median over ``--runs`` runs. Numbers
are printed, not asserted; ratios are what to quote.

Run: ``python benchmarks/bench_blocks.py [--runs 3] [--repeats 40] [--batch 64 256]``.
"""

from __future__ import annotations

from numeric.blas import pin_blas, pin_blas_environment

pin_blas_environment()  # before NumPy loads BLAS (numeric.blas imports no NumPy): docs/conventions.md § Measuring

import argparse  # noqa: E402
import inspect  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Mapping  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from numeric import backprop  # noqa: E402
from numeric.instances import init_params, random_batch, random_masks  # noqa: E402
from numeric.metrics import block_relative_error  # noqa: E402
from numeric.spec import ModelSpec  # noqa: E402

Array = np.ndarray

SPECS = {
    "nielsen_ch3": dict(sizes="784-30-10", activations="sigmoid", cost="bce", l2=5.0, l2_n=50000),
    "bn_net": dict(sizes="32-64-64-10", activations="relu,relu,softmax", cost="cce", norm="batch", layout="rows"),
    "layernorm_net": dict(sizes="16-32-32-4", activations="tanh,tanh,softmax", cost="cce", norm="layer"),
    "dropout_net": dict(sizes="20-50-50-3", activations="relu,relu,softmax", cost="cce", keep_prob=0.5),
}
KERNEL, HAND, BACKPROP, TORCH = "kernel", "hand NumPy", "numeric.backprop", "torch"


# ----- the plain hand-written NumPy contender (samples as rows, CS231n's conventions) ------------------------------


def _act(name: str, z: Array) -> Array:
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    raise ValueError(f"the hand-written contender has no activation {name!r}")


def _act_backward(name: str, da: Array, z: Array, a: Array) -> Array:
    if name == "sigmoid":
        return da * a * (1.0 - a)
    if name == "tanh":
        return da * (1.0 - a * a)
    return da * (z > 0)


def _norm_forward(kind: str, z: Array, gamma: Array, beta: Array, eps: float) -> tuple[Array, tuple]:
    """Batch norm: statistics per feature over the batch (axis 0); layer norm: per sample over the features."""
    axis = 0 if kind == "batchnorm" else 1
    mu = z.mean(axis=axis, keepdims=True)
    var = z.var(axis=axis, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (z - mu) * inv_std
    return gamma * xhat + beta, (xhat, inv_std, gamma, axis)


def _norm_backward(dout: Array, cache: tuple) -> tuple[Array, Array, Array]:
    """The compact form: dz = inv_std (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), means over the stats' axis."""
    xhat, inv_std, gamma, axis = cache
    dxhat = dout * gamma
    dz = inv_std * (dxhat - dxhat.mean(axis=axis, keepdims=True)
                    - xhat * (dxhat * xhat).mean(axis=axis, keepdims=True))
    return dz, (dout * xhat).sum(axis=0, keepdims=True), dout.sum(axis=0, keepdims=True)


class HandNet:
    """A spec's net written out by hand, rows layout: params ``W{l}`` (n_in, n_out), ``b{l}``/``gamma{l}``/
    ``beta{l}`` (1, n_out); x (m, n_0), one-hot y (m, n_L), masks (m, n_l)."""

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.acts = [str(a) for a in spec.activations]
        self.norms = [None if layer.norm is None else (layer.norm.kind, layer.norm.eps) for layer in spec.layers]
        self.keep = [None if layer.dropout is None else layer.dropout.keep for layer in spec.layers]
        self.l2 = None if spec.penalty is None else (spec.penalty.lam, spec.penalty.n)

    def gradients(self, p: Mapping[str, Array], x: Array, y: Array, masks: Mapping[str, Array] | None
                  ) -> dict[str, Array]:
        L, m = self.spec.L, x.shape[0]
        a, caches = x, []
        for l in range(1, L + 1):  # affine -> norm -> activation -> dropout
            z = a @ p[f"W{l}"] + p[f"b{l}"]
            norm_cache = None
            if self.norms[l - 1] is not None:
                kind, eps = self.norms[l - 1]
                u, norm_cache = _norm_forward(kind, z, p[f"gamma{l}"], p[f"beta{l}"], eps)
            else:
                u = z
            if l == L:
                caches.append((a, None, None, None, None))
                break
            h = _act(self.acts[l - 1], u)
            mask = masks[f"M{l}"] if masks is not None and self.keep[l - 1] is not None else None
            caches.append((a, u, h, norm_cache, mask))
            a = h if mask is None else h * mask / self.keep[l - 1]
        # softmax + cce and sigmoid + bce both give delta^L = (a - y) / m for a mean over the batch
        if self.acts[-1] == "softmax":
            e = np.exp(u - u.max(axis=1, keepdims=True))
            out = e / e.sum(axis=1, keepdims=True)
        else:
            out = _act(self.acts[-1], u)
        dz = (out - y) / m
        grads: dict[str, Array] = {}
        for l in range(L, 0, -1):
            a_prev, _, _, norm_cache, _ = caches[l - 1]
            grads[f"W{l}"] = a_prev.T @ dz
            grads[f"b{l}"] = dz.sum(axis=0, keepdims=True)
            if l == 1:
                break
            da = dz @ p[f"W{l}"].T
            _, u, h, norm_cache, mask = caches[l - 2]
            if mask is not None:
                da = da * mask / self.keep[l - 2]
            du = _act_backward(self.acts[l - 2], da, u, h)
            if norm_cache is not None:
                du, grads[f"gamma{l - 1}"], grads[f"beta{l - 1}"] = _norm_backward(du, norm_cache)
            dz = du
        if self.l2 is not None:
            lam, n = self.l2
            for l in range(1, L + 1):
                grads[f"W{l}"] = grads[f"W{l}"] + lam / (n if n is not None else m) * p[f"W{l}"]
        return grads


# ----- torch --------------------------------------------------------------------------------------------------------


def torch_contender(spec: ModelSpec, p_rows: Mapping[str, Array], x: Array, y: Array,
                    masks: Mapping[str, Array] | None) -> tuple[Callable[[], dict] | None, str]:
    """PyTorch autograd forward + backward of the same net, samples first, one thread; None without torch."""
    try:
        import torch
    except ImportError:
        return None, "torch not installed: column skipped"
    torch.set_num_threads(1)
    F = torch.nn.functional
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in p_rows.items()}
    tx, ty = torch.tensor(x), torch.tensor(y)
    tm = {k: torch.tensor(v) for k, v in (masks or {}).items()}
    act = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}
    L, m = spec.L, x.shape[0]

    def step() -> dict:
        for t in tp.values():
            t.grad = None
        a = tx
        for layer in spec.layers:
            l = layer.index
            z = a @ tp[f"W{l}"] + tp[f"b{l}"]
            if layer.norm is not None:
                g, b = tp[f"gamma{l}"][0], tp[f"beta{l}"][0]
                z = (F.batch_norm(z, None, None, g, b, training=True, eps=layer.norm.eps)
                     if layer.norm.kind == "batchnorm" else F.layer_norm(z, (layer.n_out,), g, b, layer.norm.eps))
            if l == L:
                break
            a = act[layer.act.name](z)
            if f"M{l}" in tm:
                a = a * tm[f"M{l}"] / layer.dropout.keep
        if spec.activations[-1].name == "softmax":
            loss = -(ty * F.log_softmax(z, dim=1)).sum() / m
        else:
            loss = F.binary_cross_entropy_with_logits(z, ty, reduction="sum") / m
        if spec.penalty is not None:
            n = spec.penalty.n if spec.penalty.n is not None else m
            loss = loss + spec.penalty.lam / (2 * n) * sum((tp[w] ** 2).sum() for w in spec.weight_names())
        loss.backward()
        return {k: t.grad for k, t in tp.items()}

    return step, f"torch {torch.__version__}, {torch.get_num_threads()} thread"


# ----- the generated kernel -----------------------------------------------------------------------------------------


_KERNELS: dict[str, Any] = {}  # spec slug -> the loaded module, or the reason there is none (one per family)


def _kernel_module(spec: ModelSpec) -> Any:
    if spec.slug not in _KERNELS:
        try:
            from derive.codegen import generate_kernel_source
            from derive.verification.kernel_check import load_kernel

            _KERNELS[spec.slug] = load_kernel(generate_kernel_source(spec), spec.slug)
        except Exception as exc:  # the generator may not handle every block yet: report, do not stop the benchmark
            first = (str(exc).splitlines() or [""])[0][:100]
            _KERNELS[spec.slug] = f"kernel: not available ({type(exc).__name__}: {first})"
    return _KERNELS[spec.slug]


def kernel_contender(spec: ModelSpec, params: Mapping[str, Array], x: Array, y: Array,
                     masks: Mapping[str, Array] | None) -> tuple[Callable[[], dict] | None, str]:
    """The generated kernel's gradients, or None and the reason it is not available."""
    kernel = _kernel_module(spec)
    if isinstance(kernel, str):
        return None, kernel
    if masks is None:
        return (lambda: kernel.gradients(params, x, y)), "kernel: generated"
    if "masks" not in inspect.signature(kernel.gradients).parameters:
        return None, "kernel: not available (its gradients() takes no dropout masks)"
    return (lambda: kernel.gradients(params, x, y, masks=masks)), "kernel: generated"


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


def _rows(spec: ModelSpec, a: Any) -> Array:
    """An array of the spec's layout in the rows layout (samples first), contiguous."""
    return np.ascontiguousarray(np.asarray(a) if not spec.layout.columns else np.asarray(a).T)


def _agreement(spec: ModelSpec, got: Mapping[str, Any], ref: Mapping[str, Array], rows: bool) -> float:
    """Max block-relative error against numeric.backprop, without the biases right before a batch norm."""
    skip = set(spec.zero_gradient_blocks())  # the bias before batch norm: both sides are rounding noise around 0
    errs = []
    for k, r in ref.items():
        if k in skip:
            continue
        g = np.asarray(got[k])
        if rows and spec.layout.columns:  # a rows-layout contender on a columns spec: back to the spec's layout
            g = g.T
        errs.append(block_relative_error(g.reshape(r.shape), r))
    return max(errs)


def contenders_for(name: str, m: int, seed: int) -> tuple[dict[str, Callable[[], object]], list[str]]:
    spec = ModelSpec.build(name=name, **SPECS[name])
    rng = np.random.default_rng(seed)
    params = init_params(spec, rng)
    x, y = random_batch(spec, m, rng)
    masks = random_masks(spec, m, rng)
    ref = backprop.gradients(spec, params, x, y, masks=masks)
    notes = []
    contenders: dict[str, Callable[[], object]] = {}
    kernel, why = kernel_contender(spec, params, x, y, masks)
    if kernel is not None:
        try:
            notes.append(f"kernel vs backprop {_agreement(spec, kernel(), ref, rows=False):.1e}")
            contenders[KERNEL] = kernel
        except Exception as exc:
            why = f"kernel: not available (gradients raised {type(exc).__name__}: {str(exc)[:100]})"
    if KERNEL not in contenders:
        notes.append(why)
    p_rows = {k: _rows(spec, v) for k, v in params.items()}
    x_rows, y_rows = _rows(spec, x), _rows(spec, y)
    m_rows = None if masks is None else {k: _rows(spec, v) for k, v in masks.items()}
    hand = HandNet(spec)
    contenders[HAND] = lambda: hand.gradients(p_rows, x_rows, y_rows, m_rows)
    notes.append(f"hand vs backprop {_agreement(spec, contenders[HAND](), ref, rows=True):.1e}")
    contenders[BACKPROP] = lambda: backprop.gradients(spec, params, x, y, masks=masks)
    torch_step, torch_note = torch_contender(spec, p_rows, x_rows, y_rows, m_rows)
    if torch_step is not None:
        got = {k: v.numpy() for k, v in torch_step().items()}
        notes.append(f"torch vs backprop {_agreement(spec, got, ref, rows=True):.1e} ({torch_note})")
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
    return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}..{max(ratios):.2f})"


RATIOS = [(KERNEL, HAND), (BACKPROP, HAND), (TORCH, HAND), (KERNEL, BACKPROP), (KERNEL, TORCH)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="independent runs (median and spread of the ratios)")
    parser.add_argument("--repeats", type=int, default=40, help="interleaved repeats per run")
    parser.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--spec", nargs="+", choices=list(SPECS), default=list(SPECS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"threads: {pin_blas()}")
    print(f"float64; {max(1, args.runs)} runs of {args.repeats} interleaved repeats after 5 warm-up calls; "
          "times are medians (ms), ratios median (min..max over runs)")
    print()
    table = []
    for name in args.spec:
        for m in args.batch:
            contenders, notes = contenders_for(name, m, args.seed)
            for fn in contenders.values():  # warm up (and fill a kernel's workspace)
                for _ in range(5):
                    fn()
            medians = [interleaved(contenders, args.repeats) for _ in range(max(1, args.runs))]
            print(f"{name}, m = {m}: " + "; ".join(notes))
            table.append((name, m, medians))
    print()
    head = [KERNEL, HAND, BACKPROP, TORCH]
    print("| spec | m | " + " | ".join(f"{c} ms" for c in head) + " | "
          + " | ".join(f"{a} / {b}" for a, b in RATIOS) + " |")
    print("|---|---|" + "---|" * (len(head) + len(RATIOS)))
    for name, m, medians in table:
        times = [_ms(medians, c) for c in head]
        cells = ["n/a" if t is None else f"{t:.3f}" for t in times]
        print(f"| {name} | {m} | " + " | ".join(cells) + " | "
              + " | ".join(_ratio(medians, a, b) for a, b in RATIOS) + " |")


if __name__ == "__main__":
    main()
