"""Benchmarks of numeric.gradcheck and numeric.finite_diff (numbers for the closing note; nothing is asserted).

BLAS is pinned to ONE thread with numeric.blas: the thread variables are set before NumPy loads, threadpoolctl
limits it again (pin_blas), and torch (if present) gets torch.set_num_threads(1). Ratios are measured in one
process, best of a few repeats.

1. the exhaustive per-element check, vectorised (SpecLoss.perturbed: many perturbed parameter sets per call) against
   a Python loop over the elements, on two ~1e4-parameter nets (200-50-10 and 100-80-30-10);
0. the default mode (auto) on Nielsen's 784-30-10, batch 16, with a user's plain NumPy loss (no vectorised
   ``perturbed``): median and spread of 3 runs, correct code and a planted bug; fast mode beside it;
2. fast mode (signed random directions, then localise) on a ~1e5-parameter net, and the full exhaustive check there;
3. complex-step accuracy against backprop (and central / Richardson for comparison) on every catalog model;
4. torch.autograd.gradcheck, slow and fast mode, on the planted-bug corpus and the correct net: time, and whether it
   caught each bug (skipped with a message when torch is not installed).

Run: /tmp/venv/bin/python benchmarks/bench_gradcheck.py [--quick]
"""

from __future__ import annotations

from numeric.blas import pin_blas, pin_blas_environment

pin_blas_environment()  # before NumPy loads BLAS (numeric.blas imports no NumPy): docs/conventions.md § Measuring

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import itertools  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from numeric import CATALOG, ModelSpec, backprop, gradcheck, init_params, random_batch  # noqa: E402
from numeric import finite_diff as fd  # noqa: E402

BLAS = pin_blas()
ROOT = Path(__file__).resolve().parents[1]


def best_of(fn, repeat=3):
    """Best wall-clock time of ``repeat`` runs, and the result."""
    return best_of_both(fn, repeat)[0], best_of_both.last


def best_of_both(fn, repeat=3):
    """(best wall time, best CPU time of this process) over ``repeat`` runs; the result is in ``.last``.

    The machine is shared with other jobs: CPU time (time.process_time) is the steadier measure of our own work.
    """
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        best_of_both.last = fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def load_corpus():
    spec = importlib.util.spec_from_file_location("bpv_planted_bugs", ROOT / "tests" / "planted_bugs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def bench_vectorised(quick: bool) -> None:
    # a two-layer net (the textbook shape) and a three-layer one: the rank-one trick saves more on the first
    for part, (net, act) in zip("ab", (("200-50-10", "sigmoid,identity"), ("100-80-30-10", "tanh,sigmoid,identity")),
                                strict=True):
        _bench_vectorised(ModelSpec.build(net, act, "quadratic"), part)


def _bench_vectorised(spec: ModelSpec, part: str) -> None:
    rng = np.random.default_rng(0)
    params = init_params(spec, rng)
    x, y = random_batch(spec, 32, rng)
    loss = backprop.SpecLoss(spec, x, y)
    print(f"\n1{part}. exhaustive per-element check, net {spec.net} ({spec.n_params} parameters), batch 32, float64")

    def all_blocks(vectorised):
        return {n: fd.differences(loss, params, n, vectorised=vectorised).richardson for n in params}

    # interleaved repeats, best of each: the machine is shared, so single runs are noisy
    t_vec = c_vec = t_loop = c_loop = float("inf")
    for _ in range(2):
        t, c = best_of_both(lambda: all_blocks(True), 2)
        r_vec = best_of_both.last
        t_vec, c_vec = min(t_vec, t), min(c_vec, c)
        t, c = best_of_both(lambda: all_blocks(False), 1)
        r_loop = best_of_both.last
        t_loop, c_loop = min(t_loop, t), min(c_loop, c)
    diff = max(np.max(np.abs(r_vec[n] - r_loop[n])) for n in params)
    n_evals = 4 * spec.n_params
    print(f"   central differences at h and h/2 ({n_evals} perturbed losses):")
    print(f"   wall time: vectorised {t_vec:.3f} s, per-element loop {t_loop:.3f} s, speed-up {t_loop / t_vec:.1f}x")
    print(f"   CPU time:  vectorised {c_vec:.3f} s, per-element loop {c_loop:.3f} s, speed-up {c_loop / c_vec:.1f}x "
          f"(max difference of the results {diff:.1e})")
    g = backprop.gradients(spec, params, x, y)
    t_gc, _ = best_of(lambda: gradcheck(loss, lambda p: g, params, complex_step_check=False), 3)
    t_gc_cs, res_cs = best_of(lambda: gradcheck(loss, lambda p: g, params), 3)
    print(f"   whole gradcheck(mode='full'): {t_gc:.3f} s without complex step, {t_gc_cs:.3f} s with it "
          f"(ok={res_cs.ok}, worst rel. error {max(r.rel_error for r in res_cs.rows):.1e})")


def bench_fast(quick: bool) -> None:
    spec = ModelSpec.build("784-128-10", "relu,softmax", "cce")
    rng = np.random.default_rng(1)
    params = init_params(spec, rng)
    x, y = random_batch(spec, 32, rng)
    loss, grad, p = backprop.problem(spec, params, x, y)
    print(f"\n2. net {spec.net} relu,softmax/cce ({spec.n_params} parameters), batch 32")

    def plain_loss(q):  # a user's loss: no perturbed method, no batch_size attribute
        return backprop.loss(spec, q, x, y)

    t_fast, r = best_of(lambda: gradcheck(plain_loss, grad, p, mode="fast", k=4), 3)
    print(f"   fast mode (k=4 probes overall and per block, plain loss): {t_fast:.3f} s, ok={r.ok}")
    corpus_bug = {**grad(p)}
    corpus_bug["b1"] = corpus_bug["b1"] / 32
    t_bad, rb = best_of(lambda: gradcheck(plain_loss, lambda q: corpus_bug, p, mode="fast", k=4), 3)
    print(f"   fast mode with b1 averaged twice: {t_bad:.3f} s, caught={not rb.ok}: {rb.row('b1').diagnosis[:60]}")
    t_full, rf = best_of(lambda: gradcheck(loss, grad, p, mode="full"), 1)
    print(f"   full mode, every element (vectorised SpecLoss, with complex step): {t_full:.2f} s, ok={rf.ok}, "
          f"worst rel. error {np.nanmax([r.rel_error for r in rf.rows]):.1e}")
    for name in ("mnist_nielsen", "softmax_classifier", "numpy_tutorial"):
        cat = CATALOG[name]
        cp = init_params(cat, rng)
        cx, cy = random_batch(cat, 16, rng)
        t, rc = best_of(lambda cat=cat, cp=cp, cx=cx, cy=cy: gradcheck(*backprop.problem(cat, cp, cx, cy),
                                                                        mode="full"), 1)
        print(f"   full mode on catalog {name} ({cat.n_params} parameters, every element): {t:.2f} s, ok={rc.ok}, "
              f"worst rel. error {np.nanmax([r.rel_error for r in rc.rows]):.1e}")


def _nielsen_problem():
    """Nielsen's 784-30-10 sigmoid net with quadratic cost, written as a user would: loops over layers, dicts."""
    rng = np.random.default_rng(0)
    sizes = [784, 30, 10]
    params = {}
    for l, (n, m) in enumerate(itertools.pairwise(sizes), start=1):
        params[f"W{l}"] = rng.standard_normal((m, n)) / np.sqrt(n)
        params[f"b{l}"] = rng.standard_normal((m, 1))
    x = rng.random((784, 16))
    y = np.eye(10)[:, rng.integers(0, 10, 16)]

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    def loss(p):
        a = x
        for l in (1, 2):
            a = sigmoid(p[f"W{l}"] @ a + p[f"b{l}"])
        return 0.5 * np.sum((a - y) ** 2) / 16

    def grad(p, bug=False):
        acts = [x]
        for l in (1, 2):
            acts.append(sigmoid(p[f"W{l}"] @ acts[-1] + p[f"b{l}"]))
        delta = (acts[2] - y) * acts[2] * (1 - acts[2]) / 16
        g = {"W2": delta @ acts[1].T, "b2": delta.sum(axis=1, keepdims=True)}
        delta = (p["W2"].T @ delta) * acts[1] * (1 - acts[1])
        g["W1"] = delta @ x.T
        g["b1"] = delta.sum(axis=1, keepdims=True) / (16 if bug else 1)
        return g

    return loss, grad, params


def bench_default_mode(quick: bool) -> None:
    loss, grad, params = _nielsen_problem()
    print("\n0. Nielsen's 784-30-10 (23,860 parameters), batch 16, plain NumPy loss: median [min, max] of 3 runs")
    for label, mode, bug in (("auto (default), correct", "auto", False), ("auto (default), b1 / m", "auto", True),
                             ("fast, correct", "fast", False)):
        times, result = [], None
        for _ in range(3):
            t = time.perf_counter()
            result = gradcheck(loss, lambda p, bug=bug: grad(p, bug), params, mode=mode, progress=False)
            times.append(time.perf_counter() - t)
        print(f"   {label:26s} {np.median(times):6.2f} s [{min(times):.2f}, {max(times):.2f}]  {result.status()}")
    if not quick:
        t = time.perf_counter()
        result = gradcheck(loss, grad, params, mode="full", progress=True)
        print(f"   {'full, correct':26s} {time.perf_counter() - t:6.2f} s (one run)  {result.status()}")


def bench_complex_step(quick: bool) -> None:
    print("\n3. accuracy against backprop (block-relative error, all elements or 400 per block), batch 8")
    print(f"   {'model':20s} {'central':>9s} {'richardson':>11s} {'complex':>9s} {'cs median':>10s}")
    rng = np.random.default_rng(2)
    for name, spec in CATALOG.items():
        params = init_params(spec, rng)
        x, y = random_batch(spec, 8, rng)
        loss = backprop.SpecLoss(spec, x, y)
        g = backprop.gradients(spec, params, x, y)
        worst = {"central": 0.0, "richardson": 0.0, "complex": 0.0}
        elementwise = []
        for n, block in g.items():
            flat = np.arange(block.size) if block.size <= 400 else rng.choice(block.size, 400, replace=False)
            d = fd.differences(loss, params, n, flat)
            cs = fd.complex_step(loss, params, n, flat)
            ref = block.reshape(-1)[flat]
            scale = max(np.max(np.abs(ref)), 1e-300)
            for key, val in (("central", d.central), ("richardson", d.richardson), ("complex", cs)):
                worst[key] = max(worst[key], float(np.max(np.abs(val - ref)) / scale))
            elementwise.append(np.abs(cs - ref) / scale)
        med = float(np.median(np.concatenate(elementwise)))
        print(f"   {name:20s} {worst['central']:9.1e} {worst['richardson']:11.1e} {worst['complex']:9.1e} "
              f"{med:10.1e}")


def bench_torch(quick: bool) -> None:
    print("\n4. torch.autograd.gradcheck on the same problems")
    try:
        import torch
    except ImportError:
        print("   skipped: torch is not installed (pip install torch==2.13.0 into the venv to run this part)")
        return
    torch.set_num_threads(1)
    corpus = load_corpus()

    def torch_problem(loss, grad, params):
        names = list(params)

        class Hand(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *tensors):
                ctx.save_for_backward(*tensors)
                p = {n: t.detach().numpy() for n, t in zip(names, tensors, strict=True)}
                return torch.tensor(loss(p), dtype=torch.float64)

            @staticmethod
            def backward(ctx, grad_out):
                p = {n: t.detach().numpy() for n, t in zip(names, ctx.saved_tensors, strict=True)}
                g = grad(p)
                return tuple(grad_out * torch.from_numpy(np.ascontiguousarray(g[n])) for n in names)

        inputs = tuple(torch.tensor(params[n], dtype=torch.float64, requires_grad=True) for n in names)
        return Hand.apply, inputs

    kink_spec = importlib.util.spec_from_file_location("bpv_kink", ROOT / "tests" / "data" / "gradcheck_relu_kink.py")
    kink_module = importlib.util.module_from_spec(kink_spec)
    kink_spec.loader.exec_module(kink_module)
    problems = [("(correct)", corpus.make_problem(None))]
    problems += [(bug, corpus.make_problem(bug)) for bug in corpus.BUGS]
    problems.append(("(correct ReLU at kinks)", kink_module.make_problem()))
    print(f"   {'bug':24s} {'torch slow':>16s} {'torch fast':>16s} {'bpv full':>16s} {'bpv fast':>16s}")
    for label, (loss, grad, params) in problems:
        fn, inputs = torch_problem(loss, grad, params)
        cells = []
        for fast in (False, True):
            t = time.perf_counter()
            try:
                caught = not torch.autograd.gradcheck(fn, inputs, fast_mode=fast, raise_exception=False)
                how = "caught" if caught else "missed"
            except Exception as err:  # a shape error in backward: caught, but without a diagnosis
                how = f"error:{type(err).__name__[:8]}"
            cells.append(f"{how} {time.perf_counter() - t:.3f}s")
        for mode in ("full", "fast"):
            t = time.perf_counter()
            r = gradcheck(loss, grad, params, mode=mode)
            cells.append(f"{'caught' if not r.ok else 'passed'} {time.perf_counter() - t:.3f}s")
        print(f"   {label:24s} " + " ".join(f"{c:>16s}" for c in cells))
    print("   (for the correct nets 'missed'/'passed' is the right answer: 'caught' there is a false failure; bpv also")
    print("   names each bug, see tests/test_gradcheck.py; torch reports a wrong shape as a RuntimeError)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip the slow full-mode runs on catalog models")
    args = parser.parse_args()
    print(f"bench_gradcheck: BLAS pinned before NumPy loaded: {BLAS}")
    bench_default_mode(args.quick)
    bench_vectorised(args.quick)
    bench_fast(args.quick)
    bench_complex_step(args.quick)
    bench_torch(args.quick)


if __name__ == "__main__":
    main()
