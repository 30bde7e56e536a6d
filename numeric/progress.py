"""The one progress helper of every long command: ``[2/6] regression: derivation (1.2 s)`` on stderr.

Quiet when disabled (JSON to stdout stays clean) and never changes a result. ``Progress.bar`` redraws one line
with a count and an ETA when stderr is a terminal, and prints a line every ``every`` seconds otherwise, so logs
stay short. Long work (gradcheck, training, reports) uses it for anything that may take more than 2 s.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Counts ``total`` units of work; ``step(label)`` after each, ``note(text)`` for a free line."""

    def __init__(self, total: int, enabled: bool = True, stream: TextIO | None = None, every: float = 2.0,
                 delay: float = 0.0):
        """``delay``: ``bar`` stays silent for that many seconds, so work that ends sooner prints nothing."""
        self.total = total
        self.delay = delay
        self._shown = False
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.done = 0
        self.t0 = time.perf_counter()
        self.every = every
        self._last = self.t0

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def eta(self) -> float | None:
        """Seconds left at the rate so far (None before the first unit)."""
        if not self.done:
            return None
        return self.elapsed / self.done * max(self.total - self.done, 0)

    def step(self, label: str) -> None:
        """One unit done: a line ``[done/total] label (elapsed s)``."""
        self.done += 1
        if self.enabled:
            print(f"[{self.done}/{self.total}] {label} ({self.elapsed:.1f} s)", file=self.stream, flush=True)

    def note(self, text: str) -> None:
        if self.enabled:
            print(text, file=self.stream, flush=True)

    def bar(self, done: int, label: str = "") -> None:
        """Set the count to ``done`` and redraw: ``label 40% (400/1000), 3.1 s, about 4.6 s left``."""
        self.done = done
        now = time.perf_counter()
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        final = done >= self.total
        if not self.enabled or (not final and now - self._last < (0.1 if tty else self.every)):
            return
        if now - self.t0 < self.delay and not (final and self._shown):
            return
        self._last = now
        self._shown = True
        eta = self.eta()
        pct = 100.0 * done / self.total if self.total else 100.0
        text = f"{label} {pct:3.0f}% ({done}/{self.total}), {self.elapsed:.1f} s"
        if eta is not None and not final:
            text += f", about {eta:.1f} s left"
        end = "\n" if final or not tty else ""
        print(("\r" if tty else "") + text, end=end, file=self.stream, flush=True)
