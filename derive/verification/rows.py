"""Rows and results: one :class:`Row` per (model, check, parameter block), a :class:`VerificationResult` per model.

A row compares a witness with a reference by the block-relative error (:func:`numeric.metrics.block_relative_error`)
against a bound that depends on the method (:data:`BOUNDS`, docs/conventions.md § Error metric), and carries one
:class:`Verdict`. This module computes nothing: it holds, prints and serialises what the checks found.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from numeric.catalog import all_model_names, get_model, spec_from_dict
from numeric.spec import ModelSpec

__all__ = [
    "BOUNDS",
    "Row",
    "Verdict",
    "VerificationResult",
    "all_elements",
    "compared",
    "format_table",
    "largest_block",
    "model_argument",
    "proven_zero",
    "reproduce_command",
]

#: Bounds on the block-relative error, by method (docs/conventions.md § Error metric).
BOUNDS: dict[str, float] = {"exact": 1e-12, "central": 1e-7, "complex": 1e-12}


class Verdict(str, enum.Enum):
    """A row's verdict; a ``str`` so that JSON and the schema read the value."""

    HOLDS = "holds"
    FAILS = "fails"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def within(cls, err: float, bound: float) -> Verdict:
        return cls.HOLDS if err <= bound else cls.FAILS


@dataclass(frozen=True)
class Row:
    """One comparison: ``witness`` against ``reference`` on one parameter block of one model."""

    model: str
    check: str
    block: str
    witness: str
    reference: str
    error: float | None
    bound: float | None
    verdict: Verdict
    method: str = ""
    detail: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", Verdict(self.verdict))

    @property
    def holds(self) -> bool:
        return self.verdict is not Verdict.FAILS

    def to_dict(self) -> dict:
        d = asdict(self)
        d["verdict"] = self.verdict.value
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Row:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


def compared(model: str, check: str, block: str, witness: str, reference: str, err: float, bound: float,
             method: str = "", detail: str = "") -> Row:
    """A row with its verdict: holds when the block-relative error is within the bound.

    A non-finite error (a crash, NaN, a shape mismatch) fails, is recorded as ``None`` and ``detail`` says why.
    """
    if np.isfinite(err):
        return Row(model, check, block, witness, reference, float(err), bound, Verdict.within(err, bound), method,
                   detail)
    detail = detail or "non-finite values (NaN or inf) or a shape mismatch"
    return Row(model, check, block, witness, reference, None, bound, Verdict.FAILS, method, detail)


def proven_zero(model: str, check: str, block: str, witness: str, reference: str, g: Any, r: Any, scale: float,
                bound: float, method: str = "") -> Row:
    """A row for a block whose true gradient is identically zero (proven by the derivation): max|g - r| (r the
    reference's values, 0 for the exact rule) over ``scale``, the largest gradient block's max, within ``bound``.

    Never the block-relative error: relative to a block of zeros any rounding residue is an error of order 1.
    """
    from numeric.metrics import TINY

    g, r = np.asarray(g), np.asarray(r)
    if g.shape != r.shape:
        return compared(model, check, block, witness, reference, float("inf"), bound, method,
                        f"{witness}'s {block} has shape {g.shape}, expected {r.shape}")
    err = float(np.max(np.abs(g - r), initial=0.0)) / max(scale, TINY)
    how = "proven zero: max|g| / (the largest block's max)" + (f"; {method}" if method else "")
    detail = "" if err <= bound else (f"the true gradient of {block} is identically 0 (the bias before batch "
                                      "norm: the batch mean cancels it), but max|g| is not negligible")
    return compared(model, check, block, witness, reference, err, bound, how, detail)


def largest_block(grads: Any, blocks: Sequence[str]) -> float:
    """The largest max|g| over ``blocks``: the scale a proven-zero block is measured against."""
    return max((float(np.max(np.abs(np.asarray(grads[k])), initial=0.0)) for k in blocks), default=0.0)


def all_elements(n: int) -> str:
    """``all n elements``: the method of a row that compared a whole block."""
    return f"all {n} element{'' if n == 1 else 's'}"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1e}"


@dataclass
class VerificationResult:
    """The rows of one model's verification. ``ok`` when no row fails (skipped rows do not fail)."""

    model: str
    spec: ModelSpec
    seed: int
    rows: list[Row]
    derivation_hash: str = ""
    kernel: str = "generated"
    kernel_sha: str = ""
    sampled: bool = False
    elapsed: float = 0.0
    cached: bool = False
    version: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.holds for r in self.rows)

    def failures(self) -> list[Row]:
        return [r for r in self.rows if not r.holds]

    def counts(self) -> dict[str, int]:
        return {v.value: sum(r.verdict is v for r in self.rows) for v in Verdict}

    def reproduce(self) -> str:
        """The command that reruns exactly this verification."""
        return reproduce_command(self.spec, self.seed)

    def summary(self) -> str:
        c = self.counts()
        head = f"{self.model}: {'verified' if self.ok else 'NOT verified'}"
        text = f"{head} ({len(self.rows)} checks: {c['holds']} hold, {c['fails']} fail, {c['skipped']} skipped; " \
               f"seed {self.seed})"
        for r in self.failures():
            how = ("does not hold" if r.bound is None else "no finite error" if r.error is None
                   else f"error {_fmt(r.error)} > bound {_fmt(r.bound)}")
            text += f"\n  FAILS {r.check} [{r.block}]: {r.witness} vs {r.reference}, {how}" + (
                f"; {r.detail}" if r.detail else "")
        if not self.ok:
            text += f"\n  reproduce: {self.reproduce()}"
        return text

    def table(self) -> str:
        """One line per row, aligned, for the terminal."""
        return format_table(self.rows)

    def to_dict(self) -> dict:
        """The ``result`` object of the verify schema (also what the cache stores)."""
        return {
            "model": self.model,
            "spec": {**self.spec.to_dict(), "layers": self.spec.layers_dict()},
            "cli_args": self.spec.cli_args(),
            "n_params": self.spec.n_params,
            "seed": self.seed,
            "ok": self.ok,
            "bpv_version": self.version,
            "derivation_hash": self.derivation_hash,
            "kernel": self.kernel,
            "kernel_sha256": self.kernel_sha,
            "sampled": self.sampled,
            "counts": self.counts(),
            "elapsed_s": round(self.elapsed, 4),
            "cached": self.cached,
            "reproduce": self.reproduce(),
            "notes": list(self.notes),
            "rows": [r.to_dict() for r in self.rows],
        }

    @classmethod
    def from_dict(cls, d: dict) -> VerificationResult:
        spec_d = d["spec"]
        spec = (get_model(spec_d["name"]) if spec_d.get("name") in all_model_names()
                else spec_from_dict(spec_d))
        return cls(
            model=d["model"], spec=spec, seed=int(d["seed"]), rows=[Row.from_dict(r) for r in d["rows"]],
            derivation_hash=d["derivation_hash"], kernel=d["kernel"], kernel_sha=d["kernel_sha256"],
            sampled=bool(d["sampled"]), elapsed=float(d["elapsed_s"]), cached=bool(d["cached"]),
            version=d["bpv_version"], notes=list(d.get("notes", [])),
        )


def format_table(rows: Sequence[Row]) -> str:
    """The terminal table: the check names both witnesses briefly (``kernel vs complex``); the full witness and
    reference names are in :class:`Row` and the JSON. Failing rows stand out in capitals."""
    head = ("model", "check (witness vs reference)", "block", "error", "bound", "verdict", "method / detail")
    lines = [head]
    for r in rows:
        extra = "; ".join(t for t in (r.method, r.detail) if t)
        lines.append((r.model, r.check, r.block, _fmt(r.error), _fmt(r.bound),
                      r.verdict.value.upper() if r.verdict is Verdict.FAILS else r.verdict.value, extra))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head) - 1)]
    out = []
    for line in lines:
        cells = [c.ljust(w) for c, w in zip(line[:-1], widths, strict=True)]
        out.append("  ".join([*cells, line[-1]]).rstrip())
    return "\n".join(out)


def model_argument(spec: ModelSpec) -> str:
    """How a command line names ``spec``: its catalog name when the catalog's model is this one, else its flags."""
    if spec.name in all_model_names() and get_model(spec.name) == spec:
        return spec.name
    return spec.cli_args()


def reproduce_command(spec: ModelSpec, seed: int) -> str:
    """``bpv verify NAME --seed S`` for catalog models, ``bpv verify --net ... --seed S`` otherwise."""
    return f"bpv verify {model_argument(spec)} --seed {seed}"
