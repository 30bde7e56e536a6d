"""Benchmark of ``bpv derive``: cold and warm time per catalog model, and the end-to-end check's cost per parameter.

* cold: ``bpv derive MODEL --no-cache --quiet`` in a fresh process (imports included), wall time;
* warm: ``bpv derive MODEL --quiet`` again, reading the on-disk cache (a temporary $BPV_CACHE_DIR);
* per part: the timings the cold run reports in its JSON;
* end to end: ``sympy.diff`` of the composed cost per parameter, for growing models (one process, after a warm-up).

Targets (issue 3): cold <= 10 s per model, <= 2 s for ``regression``. BLAS is pinned to one thread through the
thread variables (:func:`numeric.blas.pin_blas_environment`), set before NumPy is imported (docs/conventions.md
§ Measuring); SymPy work is single-threaded.
Run: ``python benchmarks/bench_derive.py [MODEL ...]``.
"""

from __future__ import annotations

import os

from numeric.blas import pin_blas_environment

pin_blas_environment()  # before NumPy loads BLAS, here and in the bpv processes (they inherit the environment)

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402


def _run(args: list[str], env: dict) -> tuple[float, int]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "derive", *args], env=env, capture_output=True, text=True)
    return time.perf_counter() - t0, proc.returncode


def derive_times(models: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "BPV_CACHE_DIR": tmp}
        print("cold / warm `bpv derive MODEL` (fresh process each; cache in a temporary folder)")
        print(f"{'model':20s} {'net':14s} {'params':>7s} {'cold s':>7s} {'warm s':>7s} {'exit':>4s}  cold per part (s)")
        for name in models:
            from numeric.catalog import get_model

            spec = get_model(name)
            out = Path(tmp) / f"{name}.json"
            cold, code = _run(["derive", name, "--no-cache", "--quiet", "--json", str(out)], env)
            warm, _ = _run(["derive", name, "--quiet"], env)
            parts = ""
            try:
                timings = json.loads(out.read_text())["models"][0]["timings_s"]
                parts = ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
            except (OSError, KeyError, IndexError, ValueError):
                parts = "(no timings)"
            row = f"{name:20s} {spec.net:14s} {spec.n_params:7d} {cold:7.1f} {warm:7.1f} {code:4d}"
            print(f"{row}  {parts}", flush=True)


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
    from numeric.catalog import CATALOG

    models = sys.argv[1:] or list(CATALOG)
    derive_times(models)
    end_to_end_cost()


if __name__ == "__main__":
    main()
