"""Benchmark: `bpv verify` on the whole catalog, wall time with --jobs 1 and --jobs 2 (target <= 60 s each).

BLAS is pinned to one thread through the thread variables (:func:`numeric.blas.pin_blas_environment`), set before
NumPy is imported here and inherited by every `bpv` subprocess (the --jobs workers pin it again with
:func:`numeric.blas.pin_blas`; docs/conventions.md § Measuring).

What is measured, in this order:

1. `bpv verify --no-cache --jobs 1` and `--jobs 2` as subprocesses: the wall time a user sees, interpreter start and
   imports included, with a private BPV_CACHE_DIR: a first, cold run derives every model (its time is printed
   separately) and the --jobs runs find the derivations cached (kernels are generated and checked every time).
2. The per-model time of the --jobs 1 run, from its JSON (`elapsed_s`), and how many rows each model has.
3. A second `bpv verify` (cache on): what `bpv report` pays to reuse the results.

torch is used as the outside oracle when it can be imported (it is in the project's .venv); the script says which.

Usage: python benchmarks/bench_verify.py [--seed S]
"""

from __future__ import annotations

import os

from numeric.blas import THREAD_VARIABLES, pin_blas_environment

pin_blas_environment()  # before NumPy loads BLAS, here and in the bpv processes (they inherit the environment)

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

TARGET_S = 60.0


def bpv(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "derive", "verify", *args], capture_output=True, text=True, env=env,
                          check=False)
    dt = time.perf_counter() - t0
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr.strip()[-300:]
    return dt, proc.returncode, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch = "yes (outside oracle included)" if importlib.util.find_spec("torch") else "no (torch rows skipped)"
    print(f"bench_verify: BLAS threads pinned to 1 via {'/'.join(THREAD_VARIABLES)}; {os.cpu_count()} CPUs; "
          f"torch importable: {torch}; load average {os.getloadavg()[0]:.1f} (others share these cores)")
    seed = ["--seed", str(args.seed)]
    failed = False
    with tempfile.TemporaryDirectory(prefix="bpv-bench-verify-") as tmp:
        # a private cache: the first run derives every model cold, the later ones find the derivations cached
        env = dict(os.environ, BPV_CACHE_DIR=str(Path(tmp) / "cache"))
        cold, code, summary = bpv(["--no-cache", "--quiet", *seed], env)
        print(f"cold run (derivations not cached):  {cold:6.1f} s  exit {code}  | {summary}")
        failed |= code != 0
        times = {}
        for jobs in (1, 2):
            out = Path(tmp) / f"jobs{jobs}.json"
            dt, code, summary = bpv(["--no-cache", "--quiet", "--jobs", str(jobs), "--json", str(out), *seed], env)
            times[jobs] = dt
            flag = "ok" if dt <= TARGET_S else "OVER TARGET"
            print(f"--jobs {jobs}: {dt:6.1f} s wall (target <= {TARGET_S:.0f} s: {flag})  exit {code}  | {summary}")
            failed |= code != 0
        doc = json.loads((Path(tmp) / "jobs1.json").read_text())
        print("\nper model (--jobs 1, in-process time):")
        print(f"  {'model':20s} {'params':>8s} {'rows':>5s} {'sampled':>8s} {'time':>8s}")
        for m in doc["models"]:
            print(f"  {m['model']:20s} {m['n_params']:8d} {len(m['rows']):5d} {m['sampled']!s:>8s} "
                  f"{m['elapsed_s']:7.2f}s")
        print(f"  all rows: {doc['counts']}")
        print(f"\nspeed-up --jobs 2 over --jobs 1: {times[1] / times[2]:.2f}x (measured back to back)")
        bpv(["--quiet", *seed], env)  # fill the verify cache
        warm, code, summary = bpv(["--quiet", *seed], env)
        print(f"cached rerun (what bpv report pays): {warm:6.1f} s  exit {code}")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
