"""The one BLAS-pinning helper: every process that does linear algebra for a measurement or a worker pool.

Multi-threaded OpenBLAS is pathological on 2-vCPU virtual machines (docs/conventions.md § Measuring: a GEMM 40x
slower with two threads than with one), so bpv's workers and benchmarks run BLAS on one thread. The environment
variables reach BLAS libraries that are loaded later (and child processes); threadpoolctl limits the ones that
are already loaded.
"""

from __future__ import annotations

import os

__all__ = ["THREAD_VARIABLES", "pin_blas", "pin_blas_environment"]

#: the variables OpenBLAS, OpenMP and MKL read when they load
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def pin_blas_environment(threads: int = 1, *, override: bool = True) -> None:
    """Set the thread variables (before NumPy loads, they are all it takes); ``override=False`` keeps a user's."""
    for var in THREAD_VARIABLES:
        if override:
            os.environ[var] = str(threads)
        else:
            os.environ.setdefault(var, str(threads))


def pin_blas(threads: int = 1) -> str:
    """Pin BLAS to ``threads`` now and for what loads later; returns what it pinned, for a benchmark's header."""
    pin_blas_environment(threads)
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return f"{', '.join(THREAD_VARIABLES)}={threads} (threadpoolctl not installed)"
    threadpool_limits(threads)
    libs = ", ".join(sorted({f"{i.get('internal_api', '?')} {i.get('num_threads', '?')} thread(s)"
                             for i in threadpool_info()})) or "no BLAS loaded yet"
    return f"{', '.join(THREAD_VARIABLES)}={threads}, threadpoolctl limit {threads} ({libs})"
