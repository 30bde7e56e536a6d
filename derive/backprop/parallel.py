"""Independent parts of a derivation on the machine's cores: a pool of forked worker processes.

SymPy work is pure Python, so threads would take turns on one core; forked processes start with everything the
parent has imported and derived so far (no second SymPy import, the parent's caches included) and run on the
other cores. A task is a module-level function and picklable arguments; its result comes back pickled.

Where ``fork`` is not available, in a worker process, while other threads run, or with ``BPV_DERIVE_JOBS=1`` (or
one core), there is no pool and the callers run the same tasks in the process, in the same order: the results do
not depend on where a task ran.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any

__all__ = ["Inline", "jobs", "pool", "result_or_run"]


def jobs() -> int:
    """Worker processes to use: ``BPV_DERIVE_JOBS`` if set, else the number of cores (at most 2 helps today)."""
    raw = os.environ.get("BPV_DERIVE_JOBS", "")
    if raw.isdigit() and int(raw) >= 1:
        return int(raw)
    return min(os.cpu_count() or 1, 2)


class Inline(Executor):
    """An executor that runs each task when it is submitted, in this process (no pool)."""

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # delivered to whoever asks for the result, as a pool would
            future.set_exception(exc)
        return future


def pool() -> Executor:
    """A pool of forked workers, or :class:`Inline` when forking is not possible or not wanted (module doc)."""
    n = jobs()
    # inside a worker (a verification pool's, or this pool's) the cores are already in use: no second pool
    nested = multiprocessing.parent_process() is not None
    # forking while other threads run (bpv report's LaTeX threads) can copy a lock some thread holds: no pool then
    threads = threading.active_count() > 1
    if n < 2 or nested or threads or "fork" not in multiprocessing.get_all_start_methods():
        return Inline()
    return ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("fork"))


def result_or_run(future: Future, fn: Callable, /, *args: Any) -> Any:
    """The task's result: computed here when no worker has started it yet (its future is then cancelled), so a
    caller that has finished its own work takes tasks off the queue instead of waiting for the workers."""
    return fn(*args) if future.cancel() else future.result()
