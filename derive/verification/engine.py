"""``bpv verify`` as a library: every witness of a model's gradient, compared, with one verdict.

For one model, :func:`verify_model` runs

1. **the derivation** (:func:`derive.backprop.model.derive_model`): one row per part, holds or not;
2. **generated kernel vs hand-written backprop**: the loss value and every element of every gradient block, bound
   1e-12 (two exact methods, DESIGN.md § Error metric); for a catalog model, also whether the shipped
   ``numeric/kernels/<name>.py`` is byte-identical to the kernel generated now;
3. **each of them vs central differences with Richardson extrapolation** (bound 1e-7) **and vs complex step**
   (bound 1e-12; the central bound is raised, and the row says so, only where the differences' own rounding floor
   exceeds it), element by element for models of up to :data:`EXHAUSTIVE_MAX` parameters; above that on a
   stratified sample of every block (the sample size is in the row) plus signed random probes per block
   (directional derivatives along Gaussian directions, compared with the analytic ``g . v``);
4. **torch.autograd** as an outside oracle against the hand-written backprop when PyTorch is importable; otherwise
   one row ``skipped: torch not installed``.

Every comparison is one :class:`Row` per (model, check, parameter block): the two witnesses, the block-relative
error ``max|g - r| / max|r|``, the bound and the verdict. A :class:`VerificationResult` holds the rows of one model
and is cached on disk (``$BPV_CACHE_DIR`` or ``~/.cache/bpv``, under ``verify/``) by the derivation hash and the
seed, plus the bpv version, the code of the modules involved and the SymPy/NumPy versions (an injected kernel by
its source), so ``bpv report`` and a second ``bpv verify`` reuse it without generating the kernel again.

:func:`verify` is the public entry point for a user's own test suite::

    from derive.verification.engine import verify

    def test_my_model_backprop_is_verified():
        result = verify("binary_classifier", seed=0)
        assert result.ok, result.summary()

What this module is not: it computes no derivative itself. The witnesses are the other modules' (SymPy derivation,
generated kernel, :mod:`numeric.backprop`, :mod:`numeric.finite_diff`, PyTorch); this module only feeds them the
same random instance and compares what they return. The one model it writes itself is the forward pass and cost in
torch operations for the outside oracle (torch.autograd differentiates it; no derivative is written by hand).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import importlib.util
import itertools
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from numeric.catalog import CATALOG, get_model
from numeric.errors import BadInput
from numeric.instances import init_params, random_batch
from numeric.metrics import TINY, block_relative_error
from numeric.spec import ModelSpec

__all__ = [
    "BATCH_SIZE",
    "BOUNDS",
    "CHECKS",
    "EXHAUSTIVE_MAX",
    "N_PROBES",
    "SAMPLE_PER_BLOCK",
    "Row",
    "VerificationResult",
    "block_relative_error",
    "cache_dir",
    "format_table",
    "load_kernel",
    "load_schema",
    "report_dict",
    "reproduce_command",
    "schema_errors",
    "verify",
    "verify_model",
    "verify_models",
]

#: Bounds on the block-relative error, by method (DESIGN.md § Error metric).
BOUNDS: dict[str, float] = {"exact": 1e-12, "central": 1e-7, "complex": 1e-12}
#: Models with at most this many parameters are checked element by element against the numerical witnesses.
EXHAUSTIVE_MAX = 5000
#: Above EXHAUSTIVE_MAX: elements sampled per parameter block (stratified over the block) ...
SAMPLE_PER_BLOCK = 128
#: ... and signed random (Gaussian) probe directions per parameter block.
N_PROBES = 8
#: Samples in the random batch: not 1, so a missing or doubled 1/m shows.
BATCH_SIZE = 3
#: The checks a caller may select (``checks=``); all by default.
CHECKS = ("derivation", "kernel", "central", "complex", "torch")

_SCHEMA_PATH = Path(__file__).with_name("schemas") / "verify.schema.json"
_VERDICTS = ("holds", "fails", "skipped")


# ----- rows and results ---------------------------------------------------------------------------------------
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
    verdict: str
    method: str = ""
    detail: str = ""

    @property
    def holds(self) -> bool:
        return self.verdict != "fails"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Row:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


def _compared(model: str, check: str, block: str, witness: str, reference: str, err: float, bound: float,
              method: str = "", detail: str = "") -> Row:
    """A row with its verdict: holds when the block-relative error is within the bound.

    A non-finite error (a crash, NaN, a shape mismatch) fails, is recorded as ``None`` and ``detail`` says why.
    """
    if np.isfinite(err):
        return Row(model, check, block, witness, reference, float(err), bound, "holds" if err <= bound else "fails",
                   method, detail)
    detail = detail or "non-finite values (NaN or inf) or a shape mismatch"
    return Row(model, check, block, witness, reference, None, bound, "fails", method, detail)


def _all(n: int) -> str:
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
        return {v: sum(r.verdict == v for r in self.rows) for v in _VERDICTS}

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
        return {
            "model": self.model,
            "spec": self.spec.to_dict(),
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
        spec = get_model(spec_d["name"]) if spec_d.get("name") in CATALOG else ModelSpec.from_dict(spec_d)
        return cls(
            model=d["model"], spec=spec, seed=int(d["seed"]), rows=[Row.from_dict(r) for r in d["rows"]],
            derivation_hash=d["derivation_hash"], kernel=d["kernel"], kernel_sha=d["kernel_sha256"],
            sampled=bool(d["sampled"]), elapsed=float(d["elapsed_s"]), cached=bool(d["cached"]),
            version=d["bpv_version"], notes=list(d.get("notes", [])),
        )


def format_table(rows: Sequence[Row]) -> str:
    """The terminal table: the check names both witnesses briefly (``kernel vs complex``); the full witness and
    reference names are in :class:`Row` and the JSON."""
    head = ("model", "check (witness vs reference)", "block", "error", "bound", "verdict", "method / detail")
    lines = [head]
    for r in rows:
        extra = "; ".join(t for t in (r.method, r.detail) if t)
        lines.append((r.model, r.check, r.block, _fmt(r.error), _fmt(r.bound),
                      r.verdict.upper() if r.verdict == "fails" else r.verdict, extra))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head) - 1)]
    out = []
    for line in lines:
        cells = [c.ljust(w) for c, w in zip(line[:-1], widths, strict=True)]
        out.append("  ".join([*cells, line[-1]]).rstrip())
    return "\n".join(out)


def reproduce_command(spec: ModelSpec, seed: int) -> str:
    """``bpv verify NAME --seed S`` for catalog models, ``bpv verify --net ... --seed S`` otherwise."""
    if spec.name in CATALOG and CATALOG[spec.name] == spec:
        return f"bpv verify {spec.name} --seed {seed}"
    return f"bpv verify {spec.cli_args()} --seed {seed}"


def _diagnosis(g: np.ndarray, r: np.ndarray, bound: float, *, complete: bool = True) -> str:
    """How a failing block is wrong (:func:`numeric.diagnose.diagnose_block`): a factor, a transpose, rows..."""
    from numeric.diagnose import diagnose_block

    g, r = np.asarray(g), np.asarray(r)
    if g.shape != r.shape or g.size == 0:
        return ""
    tol = np.full(r.shape, bound * max(float(np.max(np.abs(r))), TINY))
    bad = ~(np.abs(g - r) <= tol)
    try:
        text = diagnose_block(g, r, bad, tol, batch_sizes=(BATCH_SIZE,), complete=complete)
    except Exception:  # a diagnosis is a courtesy: never let it hide the verdict
        return ""
    if text.startswith("a sign flip") and float(np.sum(g * r)) > 0:  # a factor of +1 is no sign flip: no pattern
        return ""
    return text


# ----- the witnesses ------------------------------------------------------------------------------------------
def _instance(spec: ModelSpec, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = init_params(spec, rng)
    x, y = random_batch(spec, BATCH_SIZE, rng)
    return params, x, y


_KERNEL_DIR: tempfile.TemporaryDirectory | None = None


def load_kernel(source: str, name: str) -> Any:
    """Import kernel ``source`` as a module (via a file in a per-process temporary folder, removed at exit, and
    importlib, so tracebacks show the kernel's code). The module is not added to ``sys.modules``."""
    global _KERNEL_DIR
    if _KERNEL_DIR is None:
        _KERNEL_DIR = tempfile.TemporaryDirectory(prefix="bpv-kernels-")
    safe = "".join(ch if ch.isalnum() else "_" for ch in name)
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    path = Path(_KERNEL_DIR.name) / f"bpv_kernel_{safe}_{digest}.py"
    if not path.exists():
        path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:  # pragma: no cover - importlib always finds a .py file
        raise BadInput(f"cannot import the kernel for {name} from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _kernel_source(spec: ModelSpec) -> str:
    from derive.codegen.kernel import generate_kernel_source

    return generate_kernel_source(spec)


@dataclass
class _Witness:
    """One implementation under test: its name, its loss and its gradients on a fixed batch."""

    name: str
    loss: Callable[[dict[str, np.ndarray]], Any]
    grad: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


def _witnesses(spec: ModelSpec, kernel: Any, x: np.ndarray, y: np.ndarray) -> list[_Witness]:
    from numeric import backprop

    # SpecLoss: the same loss, plus many one-element perturbations per call (vectorised finite differences)
    out = [_Witness("hand-written backprop", backprop.SpecLoss(spec, x, y),
                    lambda p: backprop.gradients(spec, p, x, y))]
    if kernel is not None:
        out.insert(0, _Witness("generated kernel", lambda p: kernel.loss(p, x, y), lambda p: kernel.gradients(p, x, y)))
    return out


# ----- numerical witnesses (numeric.finite_diff) --------------------------------------------------------------
def _element_plan(spec: ModelSpec, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], bool]:
    """Flat indices to check per block: all of them up to EXHAUSTIVE_MAX parameters, else a stratified sample.

    The sample splits each block's flat index range into SAMPLE_PER_BLOCK equal strata (output units in the
    columns layout, input units in the rows layout) and takes one element uniformly from each.
    """
    shapes = spec.param_shapes()
    if spec.n_params <= EXHAUSTIVE_MAX:
        return {k: np.arange(int(np.prod(s))) for k, s in shapes.items()}, False
    plan = {}
    for k, s in shapes.items():
        size = int(np.prod(s))
        if size <= SAMPLE_PER_BLOCK:
            plan[k] = np.arange(size)
            continue
        edges = np.linspace(0, size, SAMPLE_PER_BLOCK + 1).astype(int)
        plan[k] = np.array([rng.integers(lo, hi) for lo, hi in itertools.pairwise(edges)])
    return plan, True


def _central_bound(numerical: np.ndarray, rounding_floor: float) -> tuple[float, str]:
    """The bound for central differences: 1e-7, raised to the differences' own rounding floor when that is larger.

    Central differences cannot resolve a derivative below about 3 eps |C| / h (the rounding term of
    :attr:`numeric.finite_diff.Differences.error`): on a block whose gradient is tiny next to the loss (deep
    sigmoid chains) that floor, relative to the block's largest element, exceeds 1e-7. The row then shows the
    raised bound and says why; the complex step, which has no such floor, still checks the block at 1e-12.
    """
    base = BOUNDS["central"]
    scale = max(float(np.max(np.abs(numerical), initial=0.0)), TINY)
    floor = rounding_floor / scale
    if floor <= base:
        return base, ""
    return floor, (f"bound raised from {base:.0e} to the rounding floor of central differences "
                   f"(3 eps |C| / h = {rounding_floor:.1e}, over max |dC| = {scale:.1e})")


def _numerical_elements(method: str, loss, params, name: str, indices: np.ndarray, analytic: np.ndarray
                        ) -> tuple[float, float, str]:
    """``(error, bound, detail)`` of ``analytic`` (d loss / d params[name].flat[indices]) against ``method``.

    ``central``: :func:`numeric.finite_diff.differences`, Richardson-extrapolated, bound :func:`_central_bound`.
    An element whose analytic value lies between its left and right one-sided derivatives where those differ (a
    ReLU kink inside the step) is a valid subgradient: it is left out of the error and counted in the detail.
    ``complex``: :func:`numeric.finite_diff.complex_step`; a loss that is not analytic fails and says so.
    """
    from numeric import finite_diff

    if method == "complex":
        bound = BOUNDS["complex"]
        cs = finite_diff.complex_step(loss, params, name, indices)
        if cs is None:
            return float("inf"), bound, "the loss is not analytic: it rejects complex input or drops the imaginary part"
        err = block_relative_error(analytic, cs)
        return err, bound, (_diagnosis(analytic, cs, bound, complete=False) if err > bound else "")
    d = finite_diff.differences(loss, params, name, indices)
    numerical = d.richardson
    bound, why = _central_bound(numerical, 3 * float(np.max(d.rounding, initial=0.0)))
    scale = max(float(np.max(np.abs(numerical), initial=0.0)), TINY)
    off = np.abs(analytic - numerical) > bound * scale
    lo = np.minimum(d.plus_slope, d.minus_slope) - d.one_sided_error
    hi = np.maximum(d.plus_slope, d.minus_slope) + d.one_sided_error
    gap = np.abs(d.plus_slope - d.minus_slope) > 10 * d.one_sided_error
    kink = off & gap & (analytic >= lo) & (analytic <= hi)
    notes = [why] if why else []
    if kink.any():
        keep = ~kink
        analytic, numerical = analytic[keep], numerical[keep]
        notes.append(f"{int(kink.sum())} element(s) at a kink: analytic value between the one-sided derivatives, "
                     "left out")
    err = block_relative_error(analytic, numerical) if analytic.size else 0.0
    if err > bound:
        notes.append(_diagnosis(analytic, numerical, bound, complete=False))
    return err, bound, "; ".join(n for n in notes if n)


def _numerical_directional(method: str, loss, params, direction: dict[str, np.ndarray]) -> tuple[float, float]:
    """``(d/dt loss(params + t v) at 0, its rounding floor)`` by ``method``, on the line t -> loss(params + t v).

    The same :func:`numeric.finite_diff.differences` (Richardson) and :func:`numeric.finite_diff.complex_step` as
    the element checks, applied to that line; the complex step has no rounding floor (0).
    """
    from numeric import finite_diff

    def along(p: dict[str, np.ndarray]):
        t = p["t"][0]
        return loss({k: params[k] + t * direction[k] for k in params})

    line = {"t": np.zeros(1)}
    if method == "complex":
        cs = finite_diff.complex_step(along, line, "t")
        if cs is None:
            raise ValueError("the loss is not analytic: it rejects complex input or drops the imaginary part")
        return float(cs[0]), 0.0
    d = finite_diff.differences(along, line, "t")
    return float(d.richardson[0]), 3 * float(d.rounding[0])


_METHOD_NAME = {"central": "central differences (Richardson)", "complex": "complex step"}


def _numeric_rows(model: str, spec: ModelSpec, witness: _Witness, params, grads, method: str,
                  plan: dict[str, np.ndarray], sampled: bool, rng: np.random.Generator) -> list[Row]:
    rows = []
    check = f"{'kernel' if witness.name.startswith('generated') else 'backprop'} vs {method}"
    for name, idx in plan.items():
        analytic = np.asarray(grads[name]).reshape(-1)[idx]
        try:
            err, bound, detail = _numerical_elements(method, witness.loss, params, name, idx, analytic)
        except Exception as exc:  # a witness that crashes fails its row, with the reason
            err, bound, detail = float("inf"), BOUNDS[method], f"{type(exc).__name__}: {exc}"
        size = int(np.prod(spec.param_shapes()[name]))
        how = (f"stratified sample of {idx.size} of {size} elements" if sampled and idx.size < size
               else _all(size))
        rows.append(_compared(model, check, name, witness.name, _METHOD_NAME[method], err, bound, how, detail))
    if not sampled:
        return rows
    for name, shape in spec.param_shapes().items():
        dots, nums, floors = [], [], []
        bound, detail = BOUNDS[method], ""
        try:
            for _ in range(N_PROBES):
                v = {k: np.zeros_like(p) for k, p in params.items()}
                v[name] = rng.standard_normal(shape)
                dots.append(float(np.sum(np.asarray(grads[name]) * v[name])))
                value, floor = _numerical_directional(method, witness.loss, params, v)
                nums.append(value)
                floors.append(floor)
            if method == "central":
                bound, detail = _central_bound(np.array(nums), max(floors))
            err = block_relative_error(np.array(dots), np.array(nums))
        except Exception as exc:
            err, detail = float("inf"), f"{type(exc).__name__}: {exc}"
        rows.append(_compared(model, f"{check} (probes)", name, f"{witness.name} g.v", _METHOD_NAME[method], err,
                              bound, f"{N_PROBES} signed Gaussian directions", detail))
    return rows


# ----- exact witnesses ----------------------------------------------------------------------------------------
def _exact_rows(model: str, spec: ModelSpec, kernel_w: _Witness, backprop_w: _Witness, params) -> list[Row]:
    bound = BOUNDS["exact"]
    check = "kernel vs backprop"
    rows = []
    try:
        err = block_relative_error(np.asarray(kernel_w.loss(params)), np.asarray(backprop_w.loss(params)))
        detail = ""
    except Exception as exc:
        err, detail = float("inf"), f"{type(exc).__name__}: {exc}"
    rows.append(_compared(model, check, "loss", kernel_w.name, backprop_w.name, err, bound, "loss value", detail))
    try:
        gk, gb = kernel_w.grad(params), backprop_w.grad(params)
    except Exception as exc:
        return [*rows, _compared(model, check, "all", kernel_w.name, backprop_w.name, float("inf"), bound, "",
                                 f"{type(exc).__name__}: {exc}")]
    for name, shape in spec.param_shapes().items():
        detail = ""
        if name not in gk:
            err, detail = float("inf"), f"the kernel returns no {name}"
        else:
            err = block_relative_error(gk[name], gb[name])
            if np.shape(gk[name]) != tuple(shape):
                detail = f"kernel's {name} has shape {np.shape(gk[name])}, expected {tuple(shape)}"
            elif not err <= bound:
                detail = _diagnosis(gk[name], gb[name], bound)
        rows.append(_compared(model, check, name, kernel_w.name, backprop_w.name, err, bound,
                              _all(int(np.prod(shape))), detail))
    return rows


# ----- the shipped kernel -------------------------------------------------------------------------------------
def _shipped_kernel_row(model: str, spec: ModelSpec, generated: str) -> Row | None:
    """For a catalog model: is ``numeric/kernels/<name>.py`` the kernel just generated and verified, byte for byte?

    Bytes are only comparable when the shipped kernel was printed by the installed SymPy (its header says which);
    otherwise the row is skipped and says so.
    """
    import re

    import numeric

    if spec.name not in CATALOG or CATALOG[spec.name] != spec:
        return None
    path = Path(numeric.__file__).parent / "kernels" / f"{spec.name}.py"
    where = f"numeric/kernels/{spec.name}.py"
    check = "shipped kernel vs generated kernel"
    if not path.is_file():
        return Row(model, check, "source", where, "generated kernel", None, None, "skipped", "",
                   f"no shipped kernel {where}")
    shipped = path.read_text(encoding="utf-8")
    if shipped == generated:
        return Row(model, check, "source", where, "generated kernel", None, None, "holds", "byte-identical source",
                   "the kernel verified here is the one users import")
    import sympy

    found = re.search(r"with SymPy (\S+) from", shipped)
    made_with = found.group(1) if found else "an unknown SymPy"
    if made_with != sympy.__version__:
        return Row(model, check, "source", where, "generated kernel", None, None, "skipped", "",
                   f"{where} was printed with SymPy {made_with}, installed is {sympy.__version__}: bytes not "
                   "comparable (the generated kernel is verified below)")
    return Row(model, check, "source", where, "generated kernel", None, None, "fails", "byte comparison",
               f"{where} differs from the kernel generated now (stale): regenerate it with "
               f"`bpv kernels {spec.name} -o numeric/kernels`")


# ----- torch.autograd, an outside oracle ----------------------------------------------------------------------
def _torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def _torch_gradients(spec: ModelSpec, params, x, y) -> dict[str, np.ndarray]:
    """The same net written with torch operations; gradients by torch.autograd (no hand-written derivative)."""
    import torch
    import torch.nn.functional as F

    cols = spec.layout == "columns"
    axis = 0 if cols else 1  # the output-unit axis
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    a = torch.tensor(x, dtype=torch.float64)
    target = torch.tensor(y, dtype=torch.float64)
    z = a
    for l, act in enumerate(spec.activations, start=1):
        W = t[f"W{l}"]
        z = W @ a if cols else a @ W
        if spec.bias:
            z = z + t[f"b{l}"]
        if act.name == "identity":
            a = z
        elif act.name == "sigmoid":
            a = torch.sigmoid(z)
        elif act.name == "tanh":
            a = torch.tanh(z)
        elif act.name == "relu":
            a = torch.relu(z)
        elif act.name == "leaky_relu":
            a = F.leaky_relu(z, act.param)
        elif act.name == "softplus":
            a = F.softplus(z)
        elif act.name == "elu":
            a = F.elu(z, act.param)
        elif act.name == "softmax":
            a = torch.softmax(z, dim=axis)
        else:  # pragma: no cover - ModelSpec validates the names
            raise BadInput(f"no torch form for activation {act.name}")
    out = spec.activations[-1].name
    n_out = spec.sizes[-1]
    if spec.cost == "quadratic":
        per_unit = 0.5 * (a - target) ** 2
    elif spec.cost == "squared":
        per_unit = (a - target) ** 2
    elif spec.cost == "mse":
        per_unit = (a - target) ** 2 / n_out
    elif spec.cost == "bce" and out == "sigmoid":
        per_unit = F.softplus(z) - target * z
    elif spec.cost == "bce":
        per_unit = -(target * torch.log(a) + (1 - target) * torch.log(1 - a))
    else:  # cce; softmax output (validated by ModelSpec)
        per_unit = -target * torch.log_softmax(z, dim=axis)
    total = per_unit.sum()
    if spec.reduction == "mean":
        m = x.shape[1] if cols else x.shape[0]
        total = total / m
    total.backward()
    return {k: v.grad.detach().numpy().copy() for k, v in t.items()}


def _torch_rows(model: str, spec: ModelSpec, backprop_w: _Witness, params, x, y) -> list[Row]:
    check = "torch.autograd vs backprop"
    if not _torch_available():
        return [Row(model, check, "all", "torch.autograd", backprop_w.name, None, None, "skipped", "",
                    "skipped: torch not installed")]
    bound = BOUNDS["exact"]
    try:
        gt = _torch_gradients(spec, params, x, y)
        gb = backprop_w.grad(params)
    except Exception as exc:
        return [_compared(model, check, "all", "torch.autograd", backprop_w.name, float("inf"), bound, "",
                          f"{type(exc).__name__}: {exc}")]
    import torch

    rows = []
    for name, shape in spec.param_shapes().items():
        err = block_relative_error(gt[name], gb[name])
        rows.append(_compared(model, check, name, "torch.autograd", backprop_w.name, err, bound,
                              f"{_all(int(np.prod(shape)))}, torch {torch.__version__}"))
    return rows


# ----- the derivation -----------------------------------------------------------------------------------------
def _derivation(spec: ModelSpec, progress: Callable[[str], None] | None = None):
    from derive.backprop.model import derive_model

    return derive_model(spec, progress=progress)


def _short_title(title: str) -> str:
    """A part's title up to its first `` (`` or ``:``: the table's block column stays readable."""
    for mark in (" (", ": "):
        if mark in title:
            title = title.split(mark, 1)[0]
    return title.strip()


def _derivation_rows(model: str, derivation) -> list[Row]:
    """One row per part of the model's derivation: holds when every step holds; the methods used, in brief."""
    rows = []
    for part in derivation.parts:
        bad = part.failures()
        kinds = []
        for s in part.steps:
            if s.kind in ("definition", "axiom"):
                continue
            kind = s.method.split(":", 1)[0].strip()
            if kind not in kinds:
                kinds.append(kind)
        how = f"{len(part)} steps" + (f": {', '.join(kinds)}" if kinds else "")
        detail = ""
        if bad:
            shown = ", ".join(f"{s.label} ({s.verdict()}: {s.method})" for s in bad[:4])
            detail = f"not holding: {shown}" + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
        rows.append(Row(model, "derivation", _short_title(part.title), "SymPy derivation", "its own checks", None,
                        None, "holds" if part.holds else "fails", how, detail))
    return rows


# ----- cache --------------------------------------------------------------------------------------------------
def cache_dir() -> Path:
    """``$BPV_CACHE_DIR/verify`` or ``~/.cache/bpv/verify`` (the root is derive.core.cache's)."""
    from derive.core.cache import cache_dir as root

    return root() / "verify"


def _version() -> str:
    from derive import __version__

    return __version__


def _package_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "none"


def _cache_key(spec: ModelSpec, seed: int, derivation_hash: str, kernel: str, checks: Sequence[str]) -> str:
    """The derivation hash and the seed, plus what else changes the rows: the bpv version and code, SymPy and
    NumPy versions, an injected kernel's source, the checks, and whether torch is there."""
    from derive.core.cache import source_digest

    key = json.dumps({"spec": spec.hash(), "name": spec.name, "seed": seed, "derivation": derivation_hash,
                      "kernel": kernel, "bpv": _version(), "code": source_digest(),
                      "sympy": _package_version("sympy"), "numpy": np.__version__, "checks": sorted(checks),
                      "torch": _package_version("torch") if _torch_available() else "none"}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def _cache_load(path: Path) -> VerificationResult | None:
    """The cached result at ``path``; None when absent, unreadable or not valid against the schema."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if schema_errors(data, load_schema()["$defs"]["result"]):
            return None
        return VerificationResult.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _cache_store(path: Path, result: VerificationResult) -> None:
    from derive.core.files import atomic_write_text

    try:
        atomic_write_text(path, json.dumps(result.to_dict(), indent=1) + "\n")
    except OSError as exc:  # a read-only cache must not fail a verification
        print(f"warning: could not write the verify cache {path}: {exc}", file=sys.stderr)


# ----- orchestration ------------------------------------------------------------------------------------------
def _resolve(model: str | ModelSpec) -> ModelSpec:
    if isinstance(model, ModelSpec):
        return model
    if not isinstance(model, str):
        raise BadInput(f"verify wants a catalog model name or a ModelSpec, got {type(model).__name__}")
    return get_model(model)


def verify_model(
    spec: ModelSpec,
    *,
    seed: int = 0,
    use_cache: bool = True,
    progress: Callable[[str], None] | None = None,
    kernel_source: str | None = None,
    checks: Sequence[str] = CHECKS,
    cache_root: str | os.PathLike | None = None,
) -> VerificationResult:
    """Verify one model with every witness in ``checks``; see the module docstring for what is compared.

    ``checks`` selects the witnesses: ``derivation``; ``kernel`` (the generated kernel against the backprop, and
    against each numerical witness selected); ``central`` and ``complex`` (the numerical witnesses, applied to the
    backprop and, with ``kernel``, to the kernel); ``torch``. ``kernel_source`` replaces the generated kernel
    (tests inject deliberately broken kernels this way).
    ``cache_root`` overrides :func:`cache_dir` for this call. Results are read from and written to the cache when
    ``use_cache``; the key covers the derivation hash and the seed, the checks, the bpv version and the code of the
    modules involved, the SymPy and NumPy versions, and an injected kernel's source. A corrupt entry is recomputed.
    """
    unknown = [c for c in checks if c not in CHECKS]
    if unknown:
        raise BadInput(f"unknown check(s) {', '.join(unknown)}; choose from {', '.join(CHECKS)}")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise BadInput(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    say = progress or (lambda _text: None)
    model = spec.name or spec.title
    t0 = time.perf_counter()

    derivation = None
    derivation_hash = ""
    derivation_error = ""
    if "derivation" in checks:
        say(f"{model}: derivation")
        try:
            derivation = _derivation(spec, progress)
            derivation_hash = derivation.hash()
        except Exception as exc:  # a derivation that cannot run fails its row; it does not crash verify
            derivation_error = f"the derivation could not run: {type(exc).__name__}: {exc}"
    kernel_key = "" if "kernel" not in checks else (
        "generated" if kernel_source is None else "injected:" + hashlib.sha256(kernel_source.encode()).hexdigest())
    path = Path(cache_root) / "verify" if cache_root is not None else cache_dir()
    path = path / f"{_cache_key(spec, seed, derivation_hash, kernel_key, checks)}.json"
    if use_cache and not derivation_error:
        hit = _cache_load(path)
        if hit is not None and hit.model == model:
            hit.cached = True
            say(f"{model}: cached result")
            return hit

    source = None
    kernel_error = ""
    if "kernel" in checks:
        say(f"{model}: kernel")
        try:
            source = kernel_source if kernel_source is not None else _kernel_source(spec)
        except Exception as exc:  # a kernel that cannot be generated fails its row; it does not crash verify
            kernel_error = f"the kernel could not be generated: {type(exc).__name__}: {exc}"
    kernel_sha = hashlib.sha256(source.encode()).hexdigest() if source is not None else ""
    kernel_origin = "injected" if kernel_source is not None else ("generated" if source is not None else "none")

    params, x, y = _instance(spec, seed)
    rows: list[Row] = []
    if derivation is not None:
        rows += _derivation_rows(model, derivation)
    elif derivation_error:
        rows.append(Row(model, "derivation", "all", "SymPy derivation", "its own checks", None, None, "fails", "",
                        derivation_error))
    kernel = None
    if kernel_error:
        rows.append(Row(model, "kernel vs backprop", "all", "generated kernel", "hand-written backprop", None,
                        BOUNDS["exact"], "fails", "generation", kernel_error))
    if source is not None:
        try:
            kernel = load_kernel(source, spec.slug)
        except Exception as exc:  # a kernel that does not import fails, it does not crash verify
            kernel_error = f"the kernel does not import: {type(exc).__name__}: {exc}"
            rows.append(_compared(model, "kernel vs backprop", "all", "generated kernel", "hand-written backprop",
                                  float("inf"), BOUNDS["exact"], "import", kernel_error))
    witnesses = _witnesses(spec, kernel, x, y)
    backprop_w = witnesses[-1]
    if source is not None and kernel_source is None:
        shipped = _shipped_kernel_row(model, spec, source)
        if shipped is not None:
            rows.append(shipped)
    if kernel is not None and "kernel" in checks:
        say(f"{model}: kernel vs backprop")
        rows += _exact_rows(model, spec, witnesses[0], backprop_w, params)
    rng = np.random.default_rng([seed, 1])
    plan, sampled = _element_plan(spec, rng)
    for method in ("central", "complex"):
        if method not in checks:
            continue
        for w in witnesses:
            say(f"{model}: {w.name} vs {_METHOD_NAME[method]}")
            try:
                grads = w.grad(params)
            except Exception as exc:
                check = f"{'kernel' if w.name.startswith('generated') else 'backprop'} vs {method}"
                rows.append(_compared(model, check, "all", w.name, _METHOD_NAME[method], float("inf"),
                                      BOUNDS[method], "", f"{type(exc).__name__}: {exc}"))
                continue
            rows += _numeric_rows(model, spec, w, params, grads, method, plan, sampled, rng)
    if "torch" in checks:
        say(f"{model}: torch.autograd")
        rows += _torch_rows(model, spec, backprop_w, params, x, y)

    notes = []
    if sampled:
        notes.append(f"{spec.n_params} parameters > {EXHAUSTIVE_MAX}: numerical witnesses on a stratified sample of "
                     f"up to {SAMPLE_PER_BLOCK} elements per block plus {N_PROBES} signed probes per block")
    if kernel_error:
        notes.append(kernel_error)
    result = VerificationResult(
        model=model, spec=spec, seed=seed, rows=rows, derivation_hash=derivation_hash, kernel=kernel_origin,
        kernel_sha=kernel_sha, sampled=sampled, elapsed=time.perf_counter() - t0, version=_version(), notes=notes,
    )
    if use_cache and not derivation_error and not kernel_error:  # a crash is not a result to keep
        _cache_store(path, result)
    return result


def verify(model: str | ModelSpec, **kwargs: Any) -> VerificationResult:
    """Verify a catalog model (by name) or any :class:`~numeric.spec.ModelSpec`; for a user's own pytest suite.

    Keyword arguments are those of :func:`verify_model` (``seed``, ``use_cache``, ``progress``, ``kernel_source``,
    ``checks``, ``cache_root``). ``result.ok`` is the verdict, ``result.summary()`` says what failed and how to
    reproduce it, ``result.rows`` has every comparison::

        >>> from derive.verification.engine import verify
        >>> result = verify("binary_classifier", use_cache=False)  # doctest: +SKIP
        >>> result.ok                                                # doctest: +SKIP
        True
    """
    return verify_model(_resolve(model), **kwargs)


def _worker_init() -> None:
    """Every worker process: BLAS on one thread (DESIGN.md § Measuring)."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        pass


def _worker(spec: ModelSpec, kwargs: dict) -> VerificationResult:
    return verify_model(spec, **kwargs)


def verify_models(
    specs: Sequence[ModelSpec],
    *,
    jobs: int = 1,
    progress: Callable[[str], None] | None = None,
    **kwargs: Any,
) -> list[VerificationResult]:
    """Verify several models, ``jobs`` at a time in separate processes; results in the order of ``specs``.

    ``progress`` receives fine-grained steps with ``jobs=1`` and one line per finished model otherwise.
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise BadInput(f"--jobs must be a positive integer, got {jobs!r}")
    say = progress or (lambda _text: None)
    total = len(specs)
    t0 = time.perf_counter()
    results: list[VerificationResult | None] = [None] * total

    def done(i: int, r: VerificationResult) -> None:
        results[i] = r
        finished = sum(x is not None for x in results)
        state = "verified" if r.ok else "NOT verified"
        say(f"[{finished}/{total}] {r.model}: {state}{' (cached)' if r.cached else ''} "
            f"({time.perf_counter() - t0:.1f} s)")

    if jobs == 1 or total <= 1:
        for i, spec in enumerate(specs):
            done(i, verify_model(spec, progress=progress, **kwargs))
        return results  # type: ignore[return-value]
    # fork where there is one (Linux): workers start with NumPy, SymPy and bpv already imported; spawn elsewhere
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    workers = min(jobs, total)
    say(f"verifying {total} models in {workers} processes")
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                                initializer=_worker_init) as pool:
        futures = {pool.submit(_worker, spec, kwargs): i for i, spec in enumerate(specs)}
        for fut in concurrent.futures.as_completed(futures):
            i = futures[fut]
            try:
                result = fut.result()
            except Exception as exc:  # a worker that died (killed, out of memory) fails its model, with the reason
                spec = specs[i]
                name = spec.name or spec.title
                row = Row(name, "worker", "all", "verify process", "-", None, None, "fails", "",
                          f"the worker process failed: {type(exc).__name__}: {exc}")
                result = VerificationResult(name, spec, int(kwargs.get("seed", 0)), [row], version=_version())
            done(i, result)
    return results  # type: ignore[return-value]


# ----- the JSON schema ----------------------------------------------------------------------------------------
def load_schema() -> dict:
    """The documented JSON schema of ``bpv verify --json`` (``derive/verification/schemas/verify.schema.json``)."""
    return json.loads(_SCHEMA_PATH.read_text(encoding="utf-8"))


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def schema_errors(value: Any, schema: dict | None = None, *, root: dict | None = None, where: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema`` (default: the verify schema); empty when valid.

    A small validator for the JSON-Schema subset the verify schema uses: ``type`` (one or a list), ``enum``,
    ``const``, ``properties``, ``required``, ``additionalProperties`` (false or a schema), ``items``, ``minimum``,
    ``minItems``, ``pattern``, ``$ref`` to ``#/$defs/...``. It exists so bpv needs no ``jsonschema`` dependency.
    """
    import re

    if schema is None:
        schema = load_schema()
    root = root if root is not None else (schema if "$defs" in schema else load_schema())
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/$defs/"):
            return [f"{where}: unsupported $ref {ref}"]
        return schema_errors(value, root["$defs"][ref.rsplit("/", 1)[1]], root=root, where=where)
    errors: list[str] = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            return [f"{where}: expected {' or '.join(types)}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: expected {schema['const']!r}, got {value!r}")
    if "minimum" in schema and _TYPES["number"](value) and value < schema["minimum"]:
        errors.append(f"{where}: {value} < minimum {schema['minimum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{where}: missing required key {key!r}")
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                errors += schema_errors(item, props[key], root=root, where=f"{where}.{key}")
            elif extra is False:
                errors.append(f"{where}: unexpected key {key!r}")
            elif isinstance(extra, dict):
                errors += schema_errors(item, extra, root=root, where=f"{where}.{key}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += schema_errors(item, schema["items"], root=root, where=f"{where}[{i}]")
    return errors


def report_dict(results: Sequence[VerificationResult], *, seed: int, elapsed: float, jobs: int) -> dict:
    """The document ``bpv verify --json`` writes (validated by the schema)."""
    counts = {v: sum(r.counts()[v] for r in results) for v in _VERDICTS}
    return {
        "bpv": "verify",
        "version": _version(),
        "seed": seed,
        "jobs": jobs,
        "ok": all(r.ok for r in results),
        "counts": counts,
        "elapsed_s": round(elapsed, 4),
        "bounds": dict(BOUNDS),
        "exhaustive_max": EXHAUSTIVE_MAX,
        "models": [r.to_dict() for r in results],
    }
