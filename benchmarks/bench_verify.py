"""Benchmark: `bpv verify` on the catalog, cold and warm, with --jobs 1 and --jobs 2 (issue 19: cold <= 15 s).

BLAS is pinned to one thread through the thread variables (:func:`numeric.blas.pin_blas_environment`), set before
NumPy is imported here and inherited by every `bpv` subprocess (the --jobs workers pin it again with
:func:`numeric.blas.pin_blas`; docs/conventions.md § Measuring).

Every run is `bpv verify` as a subprocess: the wall time a user sees, interpreter start and imports included. For
each --jobs value and each repeat:

* **cold**: an empty, private BPV_CACHE_DIR: every model is derived, its kernel generated, every witness run;
* **derivations cached**: the same folder again with --no-cache: the derivations come from the cache, the kernels
  and every witness are recomputed (what a rerun after a seed change pays);
* **warm**: the same folder again, cache on: every result is reused (what `bpv report` pays).

Cache keys include the digest of bpv's source (:func:`derive.core.cache.source_digest`): when the code changes
during a round (someone editing the tree), its cached runs are not cache hits and are left out ("n/a").

By default PyTorch is hidden from the `bpv` processes, as if it were not installed (issue 19 measures without it):
a `sitecustomize` on PYTHONPATH sets ``sys.modules["torch"] = None``, so ``import torch`` fails and
``importlib.util.find_spec("torch")`` is None, exactly what `bpv` sees without PyTorch (the torch rows say
"skipped: torch not installed"). --torch leaves it importable.

The scope is the six catalog models of issue 19 by default; --all verifies the whole catalog (what `bpv verify`
with no model does). The machine may be shared: the load average is printed, and with --repeat N the median and
the spread (min-max) of N runs.

Usage: python benchmarks/bench_verify.py [--all] [--repeat N] [--torch] [--seed S]
"""

from __future__ import annotations

import os

from numeric.blas import THREAD_VARIABLES, pin_blas_environment

pin_blas_environment()  # before NumPy loads BLAS, here and in the bpv processes (they inherit the environment)

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from bench_derive import SIX  # noqa: E402  (issue 19's six models, one list)

from derive.core.cache import source_digest  # noqa: E402

#: issue 19's target for a cold run of those six (--jobs 2 allowed, torch not installed)
TARGET_COLD_S = 15.0
HIDE_TORCH = 'import sys\nsys.modules["torch"] = None  # bpv sees no PyTorch: as if it were not installed\n'


def bpv(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """``(wall seconds, exit code, summary line)`` of one `bpv verify` subprocess."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "derive", "verify", *args], capture_output=True, text=True, env=env,
                          check=False)
    dt = time.perf_counter() - t0
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr.strip()[-300:]
    return dt, proc.returncode, summary


def spread(times: list[float]) -> str:
    times = [t for t in times if t == t]  # without the rounds whose cache an edit of the code invalidated (NaN)
    if not times:
        return "n/a (the code changed in every round)"
    return f"{statistics.median(times):6.1f} s (min {min(times):.1f}, max {max(times):.1f}, n={len(times)})"


def one_round(models: list[str], jobs: int, env: dict[str, str], tmp: Path, seed: str) -> dict[str, tuple]:
    """Cold, derivations cached and warm runs in one fresh cache folder: ``{kind: (seconds, exit, summary)}``."""
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=tmp))
    env = dict(env, BPV_CACHE_DIR=str(cache))
    common = [*models, "--quiet", "--jobs", str(jobs), "--seed", seed]
    before = source_digest()
    runs = {"cold": bpv(common, env), "derivations cached": bpv([*common, "--no-cache"], env),
            "warm": bpv(common, env)}
    if source_digest() != before:  # cache keys include the code's digest: an edit mid-round is a cache miss
        runs = {k: v if k == "cold" else (float("nan"), v[1], "bpv's code changed during the round: not a cache hit")
                for k, v in runs.items()}
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--all", action="store_true", help="the whole catalog instead of issue 19's six models")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each kind (median and spread; default 3)")
    parser.add_argument("--torch", action="store_true", help="leave PyTorch importable (default: hidden)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    models = [] if args.all else list(SIX)
    scope = "the whole catalog" if args.all else f"issue 19's six models ({', '.join(SIX)})"
    failed = False
    with tempfile.TemporaryDirectory(prefix="bpv-bench-verify-") as name:
        tmp = Path(name)
        env = dict(os.environ)
        if not args.torch:
            (tmp / "notorch").mkdir()
            (tmp / "notorch" / "sitecustomize.py").write_text(HIDE_TORCH, encoding="utf-8")
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tmp / "notorch"), env.get("PYTHONPATH")) if p)
        print(f"bench_verify: {scope}; BLAS threads pinned to 1 via {'/'.join(THREAD_VARIABLES)}; "
              f"{os.cpu_count()} CPUs; torch {'importable' if args.torch else 'hidden (as if not installed)'}; "
              f"load average {os.getloadavg()[0]:.1f} (others may share these cores)")
        times: dict[tuple[int, str], list[float]] = {}
        for r in range(args.repeat):
            for jobs in (1, 2):
                for kind, (dt, code, summary) in one_round(models, jobs, env, tmp, str(args.seed)).items():
                    times.setdefault((jobs, kind), []).append(dt)
                    failed |= code != 0
                    print(f"  run {r + 1} --jobs {jobs} {kind:18s} {dt:6.1f} s  exit {code} | {summary}", flush=True)
        print(f"\n{'':10s} {'cold':36s} {'derivations cached':36s} {'warm':36s}")
        for jobs in (1, 2):
            print(f"--jobs {jobs}:  " + " ".join(f"{spread(times[jobs, k]):36s}"
                                                 for k in ("cold", "derivations cached", "warm")))
        if not args.all:
            best = statistics.median(times[2, "cold"])
            print(f"\ncold --jobs 2, median {best:.1f} s: target <= {TARGET_COLD_S:.0f} s "
                  f"{'met' if best <= TARGET_COLD_S else 'NOT met'}")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
