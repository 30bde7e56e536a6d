"""Benchmark of ``bpv derive``: start-up, cold and warm time per catalog model, time per layer against depth, and
the end-to-end check's cost per parameter.

* start-up: ``bpv --help`` in a fresh process (best of 5);
* cold: ``bpv derive MODEL --quiet`` in a fresh process with an empty $BPV_CACHE_DIR (imports included), wall
  time, median and range of ``--runs`` runs (a fresh cache folder each);
* warm: ``bpv derive MODEL --quiet`` again, reading the on-disk cache, median of the same number of runs;
* per part: the timings the (last) cold run reports in its JSON (the end-to-end part's direct side runs on a pool
  of forked workers while the parts after it run, so the parts' times overlap and do not add up to the total);
* depth: cold ``bpv derive --net 2-2-...-2-1`` (2-wide, depth L = 2..16), total and per layer, per part; once a
  depth takes longer than ``--cap`` seconds the deeper ones are skipped, and the table says so;
* end to end: ``sympy.diff`` of the composed cost per parameter, for growing models (one process, after a warm-up).

Targets (issue 19): cold <= 3 s per catalog model, a 13-layer 2-wide net <= 30 s, ``bpv --help`` <= 0.3 s. BLAS is
pinned to one thread through the thread variables (:func:`numeric.blas.pin_blas_environment`), set before NumPy is
imported (docs/conventions.md § Measuring); SymPy work is single-threaded. The machine is shared: compare rows of
one run, not runs.
Run: ``python benchmarks/bench_derive.py [MODEL ...] [--runs 3] [--depths 2,4,8,13,16] [--cap 120] [--skip-e2e]``.
"""

from __future__ import annotations

import os

from numeric.blas import pin_blas_environment

pin_blas_environment()  # before NumPy loads BLAS, here and in the bpv processes (they inherit the environment)

import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

#: the catalog models the derivation targets are stated for (issue 19: cold <= 3 s each)
SIX = ("mnist_nielsen", "regression", "binary_classifier", "softmax_classifier", "numpy_tutorial", "tanh_net")


def _run(args: list[str], env: dict) -> tuple[float, int]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "derive", *args], env=env, capture_output=True, text=True)
    return time.perf_counter() - t0, proc.returncode


def _timings(path: Path) -> dict[str, float]:
    try:
        return json.loads(path.read_text())["models"][0]["timings_s"]
    except (OSError, KeyError, IndexError, ValueError):
        return {}


def startup_time() -> None:
    env = dict(os.environ)
    best = min(_run(["--help"], env)[0] for _ in range(5))
    print(f"start-up: `bpv --help` best of 5: {best:.3f} s (target 0.3 s)\n")


def depth_times(depths: list[int], cap: float) -> None:
    """Cold derivations of 2-wide nets of growing depth: is the time linear in depth?"""
    print("\ncold `bpv derive --net 2-...-2-1` (2-wide, L layers; fresh process, empty cache; one run each)")
    print(f"{'L':>3s} {'total s':>8s} {'s/layer':>8s} {'exit':>4s}  per part (s)")
    with tempfile.TemporaryDirectory() as tmp:
        for depth in depths:
            net = "-".join(["2"] * depth + ["1"])
            out = Path(tmp) / f"depth{depth}.json"
            env = {**os.environ, "BPV_CACHE_DIR": tempfile.mkdtemp(dir=tmp)}
            total, code = _run(["derive", "--net", net, "--quiet", "--json", str(out)], env)
            parts = ", ".join(f"{k} {v:.1f}" for k, v in _timings(out).items()) or "(no timings)"
            print(f"{depth:3d} {total:8.1f} {total / depth:8.2f} {code:4d}  {parts}", flush=True)
            rest = [d for d in depths if d > depth]
            if total > cap and rest:
                print(f"    depth {depth} took {total:.0f} s > the cap of {cap:.0f} s: depths "
                      f"{', '.join(map(str, rest))} skipped")
                break


def derive_times(models: list[str], runs: int) -> None:
    from numeric.catalog import get_model

    print(f"cold / warm `bpv derive MODEL --quiet` (fresh process each; cold: an empty cache folder each run; "
          f"median [min-max] of {runs} runs)")
    print(f"{'model':20s} {'net':14s} {'params':>7s} {'cold s':>18s} {'warm s':>18s} {'exit':>4s}  "
          "last cold run per part (s)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            spec = get_model(name)
            out = Path(tmp) / f"{name}.json"
            cold, warm, code = [], [], 0
            for _ in range(runs):
                env = {**os.environ, "BPV_CACHE_DIR": tempfile.mkdtemp(dir=tmp)}
                secs, code = _run(["derive", name, "--quiet", "--json", str(out)], env)
                cold.append(secs)
                warm.append(_run(["derive", name, "--quiet"], env)[0])
            parts = ", ".join(f"{k} {v:.1f}" for k, v in _timings(out).items()) or "(no timings)"
            cells = [f"{statistics.median(v):5.1f} [{min(v):.1f}-{max(v):.1f}]" for v in (cold, warm)]
            print(f"{name:20s} {spec.net:14s} {spec.n_params:7d} {cells[0]:>18s} {cells[1]:>18s} {code:4d}  {parts}",
                  flush=True)


def end_to_end_cost() -> None:
    from derive.backprop.end_to_end import bp_gradient, direct_gradient, random_point
    from derive.layers import symbolic_layer
    from numeric.spec import ModelSpec

    print("\nend-to-end check: sympy.diff of the composed cost (others fixed) per parameter, vs model size")
    print(f"{'net':16s} {'acts':24s} {'params':>7s} {'sampled':>7s} {'ms/param':>9s} {'BP ms':>7s}")
    cases = [("3-3-1", "sigmoid"), ("3-10-1", "sigmoid"), ("3-30-10-3-1", "sigmoid,sigmoid,relu,identity"),
             ("10-30-10", "sigmoid"), ("100-30-10", "sigmoid"), ("784-30-10", "sigmoid")]
    warm = ModelSpec.build("2-2-1", "relu,identity", "mse")
    direct_gradient(warm, random_point(warm, 1), [next(iter(random_point(warm, 1)))], 1)
    for net, acts in cases:
        spec = ModelSpec.build(net, acts, "mse" if "identity" in acts else "quadratic")
        point = random_point(spec, 1)
        params = [e for layer in spec.layers for e in symbolic_layer(layer).param_entries()]
        picks = params[:: max(1, len(params) // 4)][:4]
        t0 = time.perf_counter()
        direct_gradient(spec, point, picks, 1)
        per = (time.perf_counter() - t0) / len(picks)
        t0 = time.perf_counter()
        bp_gradient(spec, point, 1)
        bp = time.perf_counter() - t0
        print(f"{net:16s} {acts:24s} {spec.n_params:7d} {len(picks):7d} {per * 1000:9.0f} {bp * 1000:7.0f}", flush=True)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="benchmark bpv derive")
    parser.add_argument("models", nargs="*", help="catalog models (default: the six of issue 19)")
    parser.add_argument("--runs", type=int, default=3, help="runs per model for the cold and warm medians")
    parser.add_argument("--depths", default=",".join(map(str, range(2, 17))), help="depths of the 2-wide nets")
    parser.add_argument("--cap", type=float, default=120.0, help="skip deeper nets once one takes this long (s)")
    parser.add_argument("--skip-e2e", action="store_true", help="skip the end-to-end cost per parameter")
    args = parser.parse_args()
    startup_time()
    derive_times(args.models or list(SIX), max(args.runs, 1))
    depth_times([int(d) for d in args.depths.split(",") if d], args.cap)
    if not args.skip_e2e:
        end_to_end_cost()


if __name__ == "__main__":
    main()
