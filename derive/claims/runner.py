"""Running the per-equation work in a worker process with a time limit, so that no equation can hang ``bpv check``.

One persistent worker (``fork``) checks equations one at a time and keeps its caches (composed models,
derivatives) between them, also between documents (:func:`shared_runner`). When an equation takes longer than the
time limit the worker is killed and a fresh one is started for the next equation; the slow one gets an *unparsed*
verdict. The worker also caps its own memory
(``RLIMIT_AS``), so an expression that explodes becomes a ``MemoryError`` and an *unparsed* verdict, not a swapping
machine. Where ``fork`` is unavailable the work runs in-process without a time limit (said in the reason).

Only plain data crosses the pipe: the job (the equation's text and the context) and the result (a dict of strings).
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from collections.abc import Callable

__all__ = ["MEMORY_LIMIT", "Runner", "close_shared", "shared_runner"]

#: how much address space the worker may add to what it inherits, bytes
MEMORY_LIMIT = 2 << 30


def _address_space() -> int:
    """The process's current virtual size in bytes (Linux), 1 GiB where unknown."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 30


#: why an equation whose numbers do not fit (e^{e^{e^z}} at a sample point) is not checked
OVERFLOW = "its value is too large to evaluate (a number overflows, e.g. a tower of exponentials)"


def _serve(conn, fn: Callable[..., dict], parent_end=None) -> None:
    import signal

    # Ctrl-C reaches the whole process group: the parent reports it and kills this worker; the worker itself must
    # not print a traceback of its own (it used to: "Process ForkProcess-1: ... KeyboardInterrupt")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent_end is not None:
        parent_end.close()  # else the worker never sees EOF when the parent dies
    try:
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = MEMORY_LIMIT + _address_space()  # on top of what the forked worker already maps
        if hard == resource.RLIM_INFINITY or hard > limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        try:
            result = fn(**job)
        except MemoryError:
            result = {"verdict": "unparsed", "reason": "ran out of memory evaluating this equation"}
        except RecursionError:
            result = {"verdict": "unparsed", "reason": "nested too deeply"}
        except OverflowError:
            result = {"verdict": "unparsed", "reason": OVERFLOW}
        except Exception as err:  # a bug must not take the whole document down: report it on this row
            result = {"verdict": "unparsed", "reason": f"internal error: {type(err).__name__}: {err}"[:300]}
        conn.send(result)


class Runner:
    """Calls ``fn(**job)`` in a worker with ``timeout`` seconds per call (``None``: in-process, no limit)."""

    def __init__(self, fn: Callable[..., dict], timeout: float | None = 30.0):
        self.fn = fn
        self.timeout = timeout
        self.proc = None
        self.conn = None
        self.forking = timeout is not None and "fork" in mp.get_all_start_methods() and sys.platform != "win32"

    def _start(self) -> None:
        ctx = mp.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, self.fn, self.conn), daemon=True)
        self.proc.start()
        child.close()

    def run(self, job: dict) -> dict:
        if not self.forking:
            try:
                return self.fn(**job)
            except RecursionError:
                return {"verdict": "unparsed", "reason": "nested too deeply"}
            except OverflowError:
                return {"verdict": "unparsed", "reason": OVERFLOW}
        if self.proc is None or not self.proc.is_alive():
            self._start()
        try:
            self.conn.send(job)
            if self.conn.poll(self.timeout):
                return self.conn.recv()
        except (EOFError, BrokenPipeError, OSError):
            self._kill()
            return {"verdict": "unparsed", "reason": "the worker checking this equation died"}
        self._kill()
        return {"verdict": "unparsed", "reason": f"gave up after {self.timeout:g} s (the equation is too costly)"}

    def _kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join(5)
        self.proc = None
        self.conn = None

    def close(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            try:
                self.conn.send(None)
                self.proc.join(2)
            except (BrokenPipeError, OSError):
                pass
        self._kill()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_SHARED: dict = {}


def shared_runner(fn: Callable[..., dict], timeout: float | None) -> Runner:
    """One long-lived runner per (function, time limit), so the worker's caches serve every document checked by
    this process. Its worker is a daemon: it ends with the process."""
    key = (fn, timeout)
    if key not in _SHARED:
        _SHARED[key] = Runner(fn, timeout)
    return _SHARED[key]


def close_shared() -> None:
    """Stop the shared workers (the next document forks a fresh one, which inherits this process's caches)."""
    for runner in _SHARED.values():
        runner.close()
    _SHARED.clear()
