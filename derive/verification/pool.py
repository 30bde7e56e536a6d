"""Run a function over several items in worker processes, BLAS pinned to one thread in each.

Generic on purpose: :func:`derive.verification.api.verify_models` gives it the models and says what a dead
worker's result is.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from numeric.blas import pin_blas

__all__ = ["in_processes"]

T = TypeVar("T")
R = TypeVar("R")


def _worker_init() -> None:
    """Every worker process: BLAS on one thread (docs/conventions.md § Measuring)."""
    pin_blas(1)


def in_processes(function: Callable[[T], R], items: Sequence[T], *, jobs: int,
                 done: Callable[[int, R], None], failed: Callable[[int, Exception], R],
                 order: Sequence[int] | None = None) -> None:
    """``function(item)`` for every item in at most ``jobs`` processes; ``done(i, result)`` as each finishes.

    ``order`` is the start order (indices into ``items``, each once; default: as given): a free worker takes the
    next item in it, so putting the longest first balances the workers (:mod:`derive.verification.schedule`).

    A worker that dies (killed, out of memory) or raises gives ``failed(i, exc)`` instead: one item's failure never
    loses the others'. Fork where there is one (Linux): workers start with what the parent has imported (NumPy
    and bpv's verification code; SymPy loads in each worker, in parallel, as its first derivation needs it).
    """
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(items)), mp_context=context,
                                                initializer=_worker_init) as pool:
        start = range(len(items)) if order is None else order
        if sorted(start) != list(range(len(items))):
            raise ValueError(f"order must list every index of the {len(items)} items once, got {list(start)}")
        futures = {pool.submit(function, items[i]): i for i in start}
        for fut in concurrent.futures.as_completed(futures):
            i = futures[fut]
            try:
                result: Any = fut.result()
            except Exception as exc:  # the caller turns it into a failing result, with the reason
                result = failed(i, exc)
            done(i, result)
