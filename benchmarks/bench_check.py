"""Benchmark of ``bpv check`` on the annotated corpus of test documents (tests/data/notes, issue 15).

For every document: the counts of :func:`derive.claims.corpus.score` (true claims proven, errors refuted and
diagnosed, unparsed rows, false proofs, false refutations) and the time of a first and a second check in one
process (the second reuses the worker's caches, as checking a document again does). Nothing is asserted here; the
corpus test asserts the safety counts.

Run: ``python benchmarks/bench_check.py [DOC ...] [--problems]``.
"""

from __future__ import annotations

from numeric.blas import pin_blas_environment

pin_blas_environment()  # before NumPy loads BLAS

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from derive.claims import check_file  # noqa: E402
from derive.claims.corpus import Score, corpus_documents, load_expected, score  # noqa: E402

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "notes"


def main(argv: list[str]) -> int:
    names = [a for a in argv if not a.startswith("--")]
    docs = [d for d in corpus_documents(CORPUS) if not names or d.stem in names]
    total, firsts, seconds = Score(), [], []
    print(f"{'document':18s} {'eqs':>3s} {'1st s':>6s} {'2nd s':>6s}  counts")
    for doc in docs:
        t0 = time.perf_counter()
        check_file(doc, None)
        t1 = time.perf_counter()
        report = check_file(doc, None)
        t2 = time.perf_counter()
        s = score(report, load_expected(doc), doc.read_text(encoding="utf-8"))
        total = total + s
        firsts.append(t1 - t0)
        seconds.append((t2 - t1) / max(1, len(report.rows)) * 10)
        print(f"{doc.stem:18s} {len(report.rows):>3d} {t1 - t0:6.2f} {t2 - t1:6.2f}  {s.row()}")
    print(f"{'total':18s} {'':>3s} {sum(firsts):6.1f} {'':>6s}  {total.row()}")
    if total.true:
        print(f"proven {100 * total.proven / total.true:.0f} % of true claims; errors refuted "
              f"{100 * total.caught / max(1, total.errors):.0f} %, with the right diagnosis "
              f"{100 * total.diagnosed / max(1, total.errors):.0f} %; median second run per 10 equations "
              f"{statistics.median(seconds):.2f} s")
    if "--problems" in argv:
        for p in total.problems:
            print("  " + p)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
