"""Benchmark: `bpv report` on the whole catalog, PDFs included: cold, warm and a re-run with nothing changed.

Each run is a fresh `bpv report` process writing into a temporary folder, with BLAS pinned to one thread through
numeric.blas.THREAD_VARIABLES (OPENBLAS/OMP/MKL_NUM_THREADS=1, set in the child's environment before NumPy loads).
"Cold" points BPV_CACHE_DIR (the derivation and verification caches) and XDG_CACHE_HOME at an empty folder and
writes into an empty output folder; "warm" writes into another empty output folder with the caches "cold" filled
(every document is built, no derivation is); "re-run" repeats "warm" in its folder, where every report is up to date
(derive.report.uptodate: nothing is rebuilt). Targets (issue 18): cold <= 30 s on a 2-core machine once the
derivations are fast (issue 19); re-run <= 3 s. Each model's PDF holds its figures (no ``-figures.pdf``).

    python benchmarks/bench_report.py            # cold and warm with --jobs 2
    python benchmarks/bench_report.py --jobs 1   # the same, sequential
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from numeric.blas import THREAD_VARIABLES


def run(jobs: int, out: Path, cache: Path) -> tuple[float, float, int, str]:
    env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, "1"), "BPV_CACHE_DIR": str(cache),
           "XDG_CACHE_HOME": str(cache)}
    bpv = Path(sys.executable).with_name("bpv")
    cmd = [str(bpv), "report", "-o", str(out), "--jobs", str(jobs)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode, proc.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    print("BLAS: one thread (OPENBLAS/OMP/MKL_NUM_THREADS=1 in the child environment); "
          f"cpus: {os.cpu_count()}; load average before: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bpv-bench-report-") as tmp:
        tmp = Path(tmp)
        cache = tmp / "cache"
        rows = []
        for label, out in (("cold", tmp / "cold"), ("warm", tmp / "warm"), ("re-run", tmp / "warm")):
            wall, cpu, code, err = run(args.jobs, out, cache)
            pdfs = sorted(p.name for p in out.glob("*.pdf") if not p.name.endswith("-figures.pdf"))
            compile_times = [float(x) for x in re.findall(r"\.pdf written \(([\d.]+) s\)", err)]
            rows.append((label, wall, cpu, code, len(pdfs), sum(compile_times)))
            if code not in (0, 1):
                print(err[-3000:])
        print(f"{'run':6s} {'jobs':>4s} {'wall s':>8s} {'CPU s':>8s} {'exit':>4s} {'PDFs':>4s} "
              f"{'sum of PDF build s':>18s}")
        for label, wall, cpu, code, n, comp in rows:
            print(f"{label:6s} {args.jobs:4d} {wall:8.1f} {cpu:8.1f} {code:4d} {n:4d} {comp:18.1f}")
        print("CPU s: user + system time of the whole process tree (Python workers, latexmk, pdflatex); "
              "CPU s / 2 is the wall time two idle cores would need if the work split evenly.")
        print(f"cold/warm wall ratio: {rows[0][1] / rows[1][1]:.2f}; target cold <= 30 s: "
              f"{'met' if rows[0][1] <= 30 else 'MISSED'}; target re-run <= 3 s: "
              f"{'met' if rows[2][1] <= 3 else 'MISSED'}; load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
