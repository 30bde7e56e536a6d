"""What a gradient check reports: one :class:`Row` per parameter block, the :class:`Verdict` words, and the table.

Rows and results are plain data with a text table (``str(result)``) and a JSON form (``to_dict``); computing them is
:mod:`numeric.checker`'s job.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["GradcheckResult", "Row", "Verdict"]


class Verdict(str, enum.Enum):
    """The verdict of one block; the values are the words the table, the JSON and ``bpv gradcheck`` show."""

    OK = "ok"
    KINK = "kink"  # a valid subgradient at a kink (ReLU'(0) = 0), not a bug
    WRONG = "wrong"

    def __str__(self) -> str:
        return self.value

    @property
    def rank(self) -> int:
        """Worst first: wrong, then kink, then ok."""
        return _RANK[self]


_RANK = {Verdict.WRONG: 0, Verdict.KINK: 1, Verdict.OK: 2}


def _finite_or_none(v: float | None) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


@dataclass
class Row:
    """The check of one parameter block."""

    name: str
    shape: tuple[int, ...]
    rel_error: float
    max_abs_error: float
    worst_index: tuple[int, ...] | None
    n_bad: int
    verdict: Verdict
    diagnosis: str
    n_checked: int = 0
    n_kink: int = 0
    method: str = "richardson"
    analytic: float | None = None  # at the worst index
    numerical: float | None = None

    def to_dict(self) -> dict[str, Any]:
        num = _finite_or_none
        return {
            "name": self.name, "shape": list(self.shape), "verdict": str(self.verdict),
            "rel_error": num(self.rel_error), "max_abs_error": num(self.max_abs_error),
            "worst_index": None if self.worst_index is None else list(self.worst_index),
            "n_bad": self.n_bad, "n_kink": self.n_kink, "n_checked": self.n_checked, "method": self.method,
            "analytic": num(self.analytic), "numerical": num(self.numerical), "diagnosis": self.diagnosis,
        }

    def add_diagnosis(self, text: str) -> None:
        """Append a clause to the diagnosis (``; `` between clauses)."""
        self.diagnosis = f"{self.diagnosis}; {text}" if self.diagnosis else text

    def cells(self) -> list[str]:
        """The row of the text table."""
        shape = "x".join(str(s) for s in self.shape) or "()"
        worst = "-" if self.worst_index is None else ",".join(str(i) for i in self.worst_index)
        rel = "-" if not np.isfinite(self.rel_error) else f"{self.rel_error:.1e}"
        mx = "-" if not np.isfinite(self.max_abs_error) else f"{self.max_abs_error:.1e}"
        bad = f"{self.n_bad}/{self.n_checked}" if self.n_checked else str(self.n_bad)
        return [self.name, shape, str(self.verdict), rel, mx, worst, bad, self.diagnosis]


def wrong_row(name: str, shape: tuple[int, ...], diagnosis: str) -> Row:
    """A block that could not be compared at all (missing, extra, wrong type): ``wrong``, with the reason."""
    return Row(name, shape, float("nan"), float("nan"), None, 0, Verdict.WRONG, diagnosis, method="none")


HEADER = ("param", "shape", "verdict", "rel.err", "max abs", "worst at", "bad", "diagnosis")


@dataclass
class GradcheckResult:
    """Rows (one per parameter, plus one per unexpected key), notes, and where the error enters the backward pass."""

    rows: list[Row]
    mode: str
    seed: int
    notes: list[str] = field(default_factory=list)
    localisation: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no row is ``wrong`` (kinks are fine)."""
        return all(r.verdict is not Verdict.WRONG for r in self.rows)

    def row(self, name: str) -> Row:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def count(self, verdict: Verdict) -> int:
        return sum(r.verdict is verdict for r in self.rows)

    def sorted_rows(self) -> list[Row]:
        """Worst first: wrong, then kink, then ok; within a verdict by decreasing error."""

        def err(r: Row) -> float:
            return r.rel_error if np.isfinite(r.rel_error) else np.inf

        return sorted(self.rows, key=lambda r: (r.verdict.rank, -err(r), r.name))

    def status(self) -> str:
        n_kink = self.count(Verdict.KINK)
        status = "OK" if self.ok else f"WRONG: {self.count(Verdict.WRONG)} of {len(self.rows)} parameters"
        if n_kink:
            status += f" ({n_kink} with kinks: analytic value between the one-sided derivatives)"
        return status

    def __str__(self) -> str:
        lines = [r.cells() for r in self.sorted_rows()]
        widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(HEADER)]
        fmt = "  ".join(f"{{:{w}s}}" for w in widths[:-1]) + "  {}"
        out = [fmt.format(*HEADER), fmt.format(*("-" * w for w in widths[:-1]), "-" * 9)]
        out += [fmt.format(*line) for line in lines]
        out.append(f"gradcheck ({self.mode} mode, seed {self.seed}, {self.seconds:.2f} s): {self.status()}")
        if self.localisation:
            out.append(f"where: {self.localisation}")
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "mode": self.mode, "seed": self.seed, "seconds": self.seconds,
            "localisation": self.localisation, "notes": list(self.notes),
            "rows": [r.to_dict() for r in self.sorted_rows()],
        }
