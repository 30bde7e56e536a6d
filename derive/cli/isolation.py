"""Run work that calls the user's code in a child process, with a time limit: its end is never our verdict.

A problem file can end the process (``os._exit(0)`` at import, a segfault in an extension, a signal) where no
``try`` can catch it; in-process, ``bpv gradcheck`` would then exit 0 — "every gradient is right". Here the work
runs in a forked child that sends back either its result or a :class:`~numeric.errors.BadInput` message; a child
that ends without either, is killed by a signal, or outlives its time limit gives an :class:`Outcome` whose
``error`` says so and during which user call (from :func:`numeric.guard.listening`). The child writes the user's
prints to stderr, so a JSON result on stdout stays clean.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from numeric.errors import BadInput
from numeric.guard import listening

__all__ = ["Outcome", "run_isolated", "run_many"]

_PHASE_BYTES = 200


@dataclass
class Outcome:
    """What a child gave back: ``value`` on success, else ``error`` (one line for the user)."""

    value: Any = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def _child(work: Callable[[], Any], conn: Connection, phase: Any) -> None:
    os.dup2(2, 1)  # the user's prints go to stderr: stdout is the parent's (and may carry JSON)

    def note(name: str) -> None:
        data = name.encode("utf-8", "replace")[:_PHASE_BYTES - 1]
        phase.value = data

    try:
        with listening(note):
            value = work()
        conn.send(("ok", value))
    except BadInput as err:
        conn.send(("bad", str(err)))
    except Exception as err:  # our own failure, not the user's: keep the trace for the report
        conn.send(("crash", f"{type(err).__name__}: {err}\n{traceback.format_exc()}"))
    finally:
        conn.close()


def _ended(proc: Any, phase: str, what: str) -> str:
    code = proc.exitcode
    during = f" during {phase}" if phase else ""
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"{what} was killed by {name}{during} (a crash in native code, or the process was killed)"
    return f"{what} ended the process{during} (exit status {code}: sys.exit or os._exit in the user's code)"


@dataclass
class _Running:
    proc: Any
    conn: Connection
    phase: Any
    t0: float
    timeout: float
    what: str

    def phase_text(self) -> str:
        return bytes(self.phase.value).decode("utf-8", "replace")

    def finish(self) -> Outcome | None:
        """The outcome when the child is done (or over its time), else None."""
        seconds = time.perf_counter() - self.t0
        if self.conn.poll():
            try:
                kind, payload = self.conn.recv()
            except (EOFError, OSError):
                self.proc.join()
                return Outcome(error=_ended(self.proc, self.phase_text(), self.what), seconds=seconds)
            self.proc.join()
            if kind == "ok":
                return Outcome(payload, seconds=seconds)
            if kind == "crash":
                print(payload, file=sys.stderr)
                return Outcome(error=f"bpv failed (a bug in bpv, please report it): {payload.splitlines()[0]}",
                               seconds=seconds)
            return Outcome(error=payload, seconds=seconds)
        if not self.proc.is_alive():
            self.proc.join()
            return Outcome(error=_ended(self.proc, self.phase_text(), self.what), seconds=seconds)
        if seconds > self.timeout:
            self.proc.kill()
            self.proc.join()
            during = f" (it was in {self.phase_text()})" if self.phase_text() else ""
            return Outcome(error=f"{self.what} did not finish within {self.timeout:g} s{during}: raise --timeout, or "
                                 "use --mode fast", seconds=seconds)
        return None


def _start(work: Callable[[], Any], timeout: float, what: str) -> _Running:
    ctx = multiprocessing.get_context("fork")  # the child inherits the loaded modules: no re-import of NumPy
    parent, child = ctx.Pipe(duplex=False)
    phase = ctx.Array("c", _PHASE_BYTES)
    proc = ctx.Process(target=_child, args=(work, child, phase), daemon=True)
    sys.stdout.flush()
    sys.stderr.flush()
    proc.start()
    child.close()
    return _Running(proc, parent, phase, time.perf_counter(), timeout, what)


def run_isolated(work: Callable[[], Any], timeout: float, what: str = "the problem file") -> Outcome:
    """``work()`` in a child process; its value, or why there is none."""
    return run_many([work], timeout, 1, [what])[0]


def run_many(works: Sequence[Callable[[], Any]], timeout: float, jobs: int, whats: Sequence[str],
             on_done: Callable[[int, Outcome], None] | None = None) -> list[Outcome]:
    """Each ``works[i]()`` in its own child, ``jobs`` at a time, each within ``timeout`` seconds."""
    outcomes: list[Outcome | None] = [None] * len(works)
    waiting = list(range(len(works)))
    running: dict[int, _Running] = {}
    while waiting or running:
        while waiting and len(running) < max(jobs, 1):
            i = waiting.pop(0)
            running[i] = _start(works[i], timeout, whats[i])
        for i, run in list(running.items()):
            outcome = run.finish()
            if outcome is not None:
                outcomes[i] = outcome
                del running[i]
                if on_done:
                    on_done(i, outcome)
        if running:
            multiprocessing.connection.wait([r.conn for r in running.values()] +
                                            [r.proc.sentinel for r in running.values()], timeout=0.05)
    return [o if o is not None else Outcome(error="not run") for o in outcomes]
