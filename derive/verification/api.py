"""``bpv verify`` as a library: :func:`verify`, :func:`verify_model`, :func:`verify_models`.

For one model, :func:`verify_model` runs

1. **the derivation** (:func:`derive.backprop.model.derive_model`): one row per part, holds or not;
2. **generated kernel vs hand-written backprop** (:mod:`derive.verification.kernel_check`): the loss value and
   every element of every gradient block, bound 1e-12 (two exact methods, docs/conventions.md § Error metric); for a
   catalog model, also whether the shipped ``numeric/kernels/<name>.py`` is byte-identical to the kernel generated
   now;
3. **each of them vs central differences with Richardson extrapolation** (bound 1e-7) **and vs complex step**
   (bound 1e-12) (:mod:`derive.verification.numerical`), element by element up to
   :data:`~derive.verification.sampling.EXHAUSTIVE_MAX` parameters, above that on a stratified sample of every
   block plus signed random probes per block;
4. **torch.autograd** as an outside oracle (:mod:`derive.verification.torch_oracle`) when PyTorch is importable;
   otherwise one row ``skipped: torch not installed``.

Every comparison is one :class:`~derive.verification.rows.Row`; a
:class:`~derive.verification.rows.VerificationResult` holds the rows of one model and is cached on disk
(:mod:`derive.verification.cache`). This module computes no derivative itself: it feeds every witness the same
random instance and collects the rows.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from derive.verification import sampling
from derive.verification.cache import bpv_version, cache_key, cache_load, cache_path, cache_store, kernel_key
from derive.verification.derivation import derivation, derivation_failed_row, derivation_rows
from derive.verification.kernel_check import exact_rows, generated_source, load_kernel, shipped_kernel_row
from derive.verification.numerical import METHOD_NAME, numeric_rows
from derive.verification.pool import in_processes
from derive.verification.rows import BOUNDS, Row, Verdict, VerificationResult, compared
from derive.verification.schedule import longest_first
from derive.verification.torch_oracle import torch_rows
from derive.verification.witnesses import instance, instance_masks, witnesses
from numeric.budget import VERIFY_COPIES, check_memory
from numeric.catalog import get_model
from numeric.errors import BadInput
from numeric.spec import ModelSpec

__all__ = ["CHECKS", "verify", "verify_model", "verify_models"]

#: The checks a caller may select (``checks=``); all by default.
CHECKS = ("derivation", "kernel", "central", "complex", "torch")

Say = Callable[[str], None]


def _quiet(_text: str) -> None:
    pass


def _validated_seed(checks: Sequence[str], seed: Any) -> int:
    unknown = [c for c in checks if c not in CHECKS]
    if unknown:
        raise BadInput(f"unknown check(s) {', '.join(unknown)}; choose from {', '.join(CHECKS)}")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise BadInput(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _smaller_hint(spec: ModelSpec) -> str:
    """What to verify instead of a model too large for memory: its family at smaller widths (the kernel serves any)."""
    if not isinstance(spec, ModelSpec):
        return "verify a smaller net of the same structure"
    twin = spec.with_sizes([min(n, 1000) for n in spec.sizes])
    return f"verify the same family at smaller widths (one kernel serves every width): bpv verify {twin.cli_args()}"


def _derivation_stage(spec: ModelSpec, model: str, checks: Sequence[str], say: Say,
                      progress: Say | None) -> tuple[list[Row], str, str]:
    """``(rows, derivation hash, why it could not run)``; nothing when the derivation is not selected."""
    if "derivation" not in checks:
        return [], "", ""
    say(f"{model}: derivation")
    try:
        derived = derivation(spec, progress)
        return derivation_rows(model, derived), derived.hash(), ""
    except Exception as exc:  # a derivation that cannot run fails its row; it does not crash verify
        why = f"the derivation could not run: {type(exc).__name__}: {exc}"
        return [derivation_failed_row(model, why)], "", why


@dataclass
class _Kernel:
    """The kernel under test: its source and module (None when absent or broken), its rows so far, what broke."""

    source: str | None = None
    module: Any = None
    error: str = ""
    rows: list[Row] = field(default_factory=list)

    @property
    def sha(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest() if self.source is not None else ""


def _kernel_stage(spec: ModelSpec, model: str, checks: Sequence[str], kernel_source: str | None, say: Say) -> _Kernel:
    """Generate (or take the injected) kernel, import it, and compare a catalog model's shipped kernel with it."""
    if "kernel" not in checks:
        return _Kernel()
    say(f"{model}: kernel")
    try:
        source = kernel_source if kernel_source is not None else generated_source(spec)
    except Exception as exc:  # a kernel that cannot be generated fails its row; it does not crash verify
        why = f"the kernel could not be generated: {type(exc).__name__}: {exc}"
        return _Kernel(error=why, rows=[Row(model, "kernel vs backprop", "all", "generated kernel",
                                            "hand-written backprop", None, BOUNDS["exact"], Verdict.FAILS,
                                            "generation", why)])
    k = _Kernel(source=source)
    try:
        k.module = load_kernel(source, spec.slug)
    except Exception as exc:  # a kernel that does not import fails, it does not crash verify
        k.error = f"the kernel does not import: {type(exc).__name__}: {exc}"
        k.rows.append(compared(model, "kernel vs backprop", "all", "generated kernel", "hand-written backprop",
                               float("inf"), BOUNDS["exact"], "import", k.error))
    shipped = shipped_kernel_row(model, spec, source) if kernel_source is None else None
    if shipped is not None:
        k.rows.append(shipped)
    return k


def _comparison_rows(spec: ModelSpec, model: str, checks: Sequence[str], kernel: _Kernel, seed: int, say: Say
                     ) -> tuple[list[Row], bool]:
    """Kernel vs backprop, every witness vs the numerical methods, torch: ``(rows, sampled)``."""
    params, x, y = instance(spec, seed)
    masks = instance_masks(spec, seed, x.shape[spec.layout.sample_axis])
    ws = witnesses(spec, kernel.module, x, y, masks)
    backprop_w = ws[-1]
    rows: list[Row] = []
    if kernel.module is not None:
        say(f"{model}: kernel vs backprop")
        rows += exact_rows(model, spec, ws[0], backprop_w, params)
    rng = np.random.default_rng([seed, 1])
    plan, sampled = sampling.element_plan(spec, rng)
    for method in ("central", "complex"):
        if method not in checks:
            continue
        for w in ws:
            say(f"{model}: {w.name} vs {METHOD_NAME[method]}")
            rows += numeric_rows(model, spec, w, params, method, plan, sampled, rng)
    if "torch" in checks:
        say(f"{model}: torch.autograd")
        rows += torch_rows(model, spec, backprop_w, params, x, y, **({} if masks is None else {"masks": masks}))
    return rows, sampled


def verify_model(
    spec: ModelSpec,
    *,
    seed: int = 0,
    use_cache: bool = True,
    progress: Say | None = None,
    kernel_source: str | None = None,
    checks: Sequence[str] = CHECKS,
    cache_root: str | os.PathLike | None = None,
) -> VerificationResult:
    """Verify one model with every witness in ``checks``; see the module docstring for what is compared.

    ``checks`` selects the witnesses: ``derivation``; ``kernel`` (the generated kernel against the backprop, and
    against each numerical witness selected); ``central`` and ``complex`` (the numerical witnesses, applied to the
    backprop and, with ``kernel``, to the kernel); ``torch``. ``kernel_source`` replaces the generated kernel
    (tests inject deliberately broken kernels this way). ``cache_root`` overrides the cache folder for this call.
    Results are read from and written to the cache when ``use_cache``; a corrupt entry is recomputed.
    """
    seed = _validated_seed(checks, seed)
    say = progress or _quiet
    model = spec.name or spec.title
    check_memory(f"{model}", spec.n_params, VERIFY_COPIES, _smaller_hint(spec))
    t0 = time.perf_counter()
    rows, derivation_hash, derivation_error = _derivation_stage(spec, model, checks, say, progress)
    path = cache_path(cache_key(spec, seed, derivation_hash, kernel_key(checks, kernel_source), checks), cache_root)
    if use_cache and not derivation_error:
        hit = cache_load(path)
        if hit is not None and hit.model == model:
            hit.cached = True
            say(f"{model}: cached result")
            return hit
    kernel = _kernel_stage(spec, model, checks, kernel_source, say)
    compared_rows, sampled = _comparison_rows(spec, model, checks, kernel, seed, say)
    notes = [sampling.sampling_note(spec)] if sampled else []
    if kernel.error:
        notes.append(kernel.error)
    origin = "injected" if kernel_source is not None else ("generated" if kernel.source is not None else "none")
    result = VerificationResult(
        model=model, spec=spec, seed=seed, rows=[*rows, *kernel.rows, *compared_rows],
        derivation_hash=derivation_hash, kernel=origin, kernel_sha=kernel.sha, sampled=sampled,
        elapsed=time.perf_counter() - t0, version=bpv_version(), notes=notes,
    )
    if use_cache and not derivation_error and not kernel.error:  # a crash is not a result to keep
        cache_store(path, result)
    return result


def _resolve(model: str | ModelSpec) -> ModelSpec:
    if isinstance(model, ModelSpec):
        return model
    if not isinstance(model, str):
        raise BadInput(f"verify wants a catalog model name or a ModelSpec, got {type(model).__name__}")
    return get_model(model)


def verify(model: str | ModelSpec, **kwargs: Any) -> VerificationResult:
    """Verify a catalog model (by name) or any :class:`~numeric.spec.ModelSpec`; for a user's own pytest suite.

    Keyword arguments are those of :func:`verify_model` (``seed``, ``use_cache``, ``progress``, ``kernel_source``,
    ``checks``, ``cache_root``). ``result.ok`` is the verdict, ``result.summary()`` says what failed and how to
    reproduce it, ``result.rows`` has every comparison::

        >>> from derive import verify
        >>> result = verify("binary_classifier", use_cache=False)  # doctest: +SKIP
        >>> result.ok                                                # doctest: +SKIP
        True
    """
    return verify_model(_resolve(model), **kwargs)


def _worker(spec: ModelSpec, kwargs: dict) -> VerificationResult:
    return verify_model(spec, **kwargs)  # looked up at call time: forked workers see what the parent sees


def _dead_worker(spec: ModelSpec, kwargs: dict, exc: Exception) -> VerificationResult:
    """The result of a model whose worker process died (killed, out of memory): one failing row with the reason."""
    name = spec.name or spec.title
    row = Row(name, "worker", "all", "verify process", "-", None, None, Verdict.FAILS, "",
              f"the worker process failed: {type(exc).__name__}: {exc}")
    return VerificationResult(name, spec, int(kwargs.get("seed", 0)), [row], version=bpv_version())


def verify_models(
    specs: Sequence[ModelSpec],
    *,
    jobs: int = 1,
    progress: Say | None = None,
    **kwargs: Any,
) -> list[VerificationResult]:
    """Verify several models, ``jobs`` at a time in separate processes; results in the order of ``specs``.

    ``progress`` receives fine-grained steps with ``jobs=1`` and one line per finished model otherwise. With
    several processes the models start longest expected first (:func:`~derive.verification.schedule.longest_first`).
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise BadInput(f"--jobs must be a positive integer, got {jobs!r}")
    for spec in specs:  # before any work: a model too large for memory is bad input, not a crash halfway
        check_memory(spec.name or spec.title, spec.n_params, VERIFY_COPIES, _smaller_hint(spec))
    say = progress or _quiet
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
    else:
        say(f"verifying {total} models in {min(jobs, total)} processes")
        in_processes(functools.partial(_worker, kwargs=kwargs), specs, jobs=jobs, done=done,
                     failed=lambda i, exc: _dead_worker(specs[i], kwargs, exc), order=longest_first(specs))
    return results  # type: ignore[return-value]
