"""The full backprop derivation of one model: every part, each established by its own method.

``derive_model(spec)`` returns a :class:`ModelDerivation` whose ``parts`` are, in order:

1. **this model's functions** (:func:`derive.backprop.model_functions.model_function_derivations`): σ' of each
activation,
   ∂C/∂a of the cost, δ^L;
2. **the general rule, all widths** (:func:`derive.backprop.general_rule.derive_general_rule`): BP1-BP4 in index form,
the
   chain rule the one axiom;
3. **the rule at fixed widths, no axiom** (:func:`derive.backprop.fixed_width.derive_fixed_width`): SymPy's own chain
rule at
   the model's widths capped at 3 (at 2 for nets of 4 or more layers: see :func:`fixed_width_cap`);
4. **the batch forms** (:func:`derive.backprop.batch.derive_batch_forms`): the matrix forms vectorised code uses;
5. **this model end to end** (:func:`derive.backprop.end_to_end.derive_end_to_end`): ``sympy.diff`` of the composed C(θ)
   against the BP value, ≥ 30 digits.

A model past the dense layer (normalisation, dropout, L2) has, instead of part 3 (a theorem about the plain dense
net), the derivation of each block it has (:func:`block_parts`): the normalisation step by step and, for batch norm,
the zero gradient of the bias before it; dropout; the L2 term; the update rule. Parts 1, 2 and 4 are those of its
plain family (the dense skeleton the kernel is printed from); its end-to-end part
(:mod:`derive.backprop.blocks_end_to_end`) compares ``sympy.diff`` of the composed batch cost with those rules
chained in kernel order.

A part that raises is recorded as a failing part (its error shown), never a crash. Results are cached on disk
(:mod:`derive.core.cache`); ``use_cache=False`` recomputes and refreshes the entry; only derivations without errors are
cached.
"""

from __future__ import annotations

import hashlib
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

import sympy as sp

from derive.backprop import parallel
from derive.core import cache
from derive.core.proof import Check
from derive.core.steps import Derivation, Role, Step, canonical_srepr
from numeric.spec import ModelSpec

__all__ = ["ModelDerivation", "batch_forms_part", "block_derivations", "block_parts", "derive_model", "fixed_width_cap"]



@dataclass
class ModelDerivation:
    """A model's derivation: ordered parts (each a :class:`~derive.core.steps.Derivation`)."""

    spec: ModelSpec
    parts: list[Derivation]
    timings: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    from_cache: bool = False

    @property
    def holds(self) -> bool:
        return all(p.holds for p in self.parts)

    def failures(self) -> list[tuple[str, Step]]:
        """(part title, step) for every step that does not hold or is undecided."""
        return [(p.title, s) for p in self.parts for s in p.failures()]

    def hash(self) -> str:
        """Digest of the mathematics (spec, every step's label, kind, expressions, verdict): stable across runs."""
        h = hashlib.sha256(self.spec.hash().encode())
        for p in self.parts:
            h.update(p.title.encode())
            for s in p.steps:
                h.update(f"{s.label}|{s.kind}|{canonical_srepr(s.lhs)}|{canonical_srepr(s.rhs)}|{s.holds}".encode())
        return h.hexdigest()[:16]

    def to_dict(self) -> dict:
        return {
            "model": self.spec.to_dict(),
            "holds": self.holds,
            "hash": self.hash(),
            "parts": [p.to_dict() for p in self.parts],
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
            "errors": list(self.errors),
        }


def fixed_width_cap(spec: ModelSpec) -> int:
    """3 for nets of up to three layers, 2 for deeper ones.

    The fixed-width check works layer by layer (one fragment per width pattern, so linear in depth), but a
    3-3-3 fragment costs ~10x a 2-2-2 one: measured here, 3-30-10-3-1 took 1.05 s at cap 3 and 0.37 s at cap 2,
    2-8-8-1 0.86 s at cap 3. The all-widths proof and the end-to-end twin (widths capped at 3) cover the rest.
    """
    return 3 if spec.L <= 3 else 2


#: the role of each part, so that a part that failed is still found by what it stands for
_ROLES = {"model functions": Role.MODEL, "general rule": Role.GENERAL_RULE, "fixed width": Role.FIXED_WIDTH,
          "batch forms": Role.BATCH, "end to end": Role.END_TO_END, "blocks": Role.MODEL,
          "layers": Role.MODEL}


def _error_part(title: str, exc: BaseException, spec: ModelSpec | None = None) -> Derivation:
    d = Derivation(f"{title} (failed)", role=_ROLES.get(title, Role.MODEL),
                   subject=None if spec is None else spec.title)
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    d.add(Step(f"{title}.error", sp.Symbol(title.replace(" ", "_")), sp.Symbol("error"), "claim",
               "the part raised an error instead of deriving", Check(False, f"error: {last}")))
    return d


def batch_forms_part(spec: ModelSpec) -> Derivation:
    """The batch-forms part of a model's derivation (a public hook: tests plant a failing part here)."""
    from derive.backprop.batch import derive_batch_forms

    return derive_batch_forms(spec).derivation


def block_derivations(spec: ModelSpec) -> list[Derivation]:
    """The derivations of the blocks past the dense layer that ``spec``'s kernel prints, and its update rules."""
    from derive.layers import dropout, normalisation, penalty

    parts = []
    kinds = sorted({layer.norm.kind for layer in spec.layers if layer.norm is not None})
    parts += [normalisation.derive_normalisation(kind) for kind in kinds]
    if spec.dropout_layers():
        parts.append(dropout.derive_dropout())
    if spec.penalty is not None:
        parts.append(penalty.derive_l2())
    parts.append(penalty.derive_sgd_update(spec.penalty is not None))
    return parts


def block_parts(spec: ModelSpec) -> list[Derivation]:
    """The derivations of the blocks past the dense layer in ``spec`` (empty for a plain net): those its kernel is
    printed from, and for batch norm the zero gradient of the bias before it."""
    if spec.plain:
        return []
    from derive.layers import normalisation

    parts = block_derivations(spec)
    if any(layer.norm is not None and layer.norm.cancels_bias and layer.bias for layer in spec.layers):
        parts.insert(1, normalisation.derive_bias_before_norm())
    return parts


class _EndToEnd:
    """The end-to-end part in two halves: ``start`` submits its direct side to the pool (after the model's functions
    are derived, so that the forked workers inherit them), ``finish`` waits for it and adds the BP side. An error
    while starting is raised by ``finish``, so the part fails in its own place."""

    def __init__(self, spec: ModelSpec, executor: Executor, full_limit: int | None):
        self.spec, self.executor, self.full_limit = spec, executor, full_limit
        self.finisher: Callable[..., Derivation] | None = None
        self.error: Exception | None = None

    def start(self) -> list[Derivation]:
        from derive.backprop.end_to_end import start_end_to_end

        try:
            limit = {} if self.full_limit is None else {"full_limit": self.full_limit}
            self.finisher = start_end_to_end(self.spec, self.executor, **limit)
        except Exception as exc:  # reported where the part stands, by finish
            self.error = exc
        return []

    def finish(self, progress: Callable[[str], None] | None) -> Derivation:
        if self.error is not None or self.finisher is None:
            raise self.error or RuntimeError("the end-to-end part was not started")
        return self.finisher(progress)


def _plan(spec: ModelSpec, progress: Callable[[str], None] | None, full_limit: int | None, executor: Executor
          ) -> list[tuple[str, Callable[[], list[Derivation]]]]:
    """The parts of ``spec``'s derivation, in order, each a name and how to make it (module doc).

    A name can come twice (the end-to-end part's start and finish): its result stands at its last entry.
    """
    from derive.backprop.fixed_width import derive_fixed_width
    from derive.backprop.general_rule import derive_general_rule
    from derive.backprop.model_functions import model_function_derivations

    if getattr(spec, "kind", "dense") != "dense":  # convolution, recurrence: their own parts
        from derive.backprop.shared_parts import shared_plan

        return shared_plan(spec)
    if spec.plain:
        end_to_end = _EndToEnd(spec, executor, full_limit)
        steps = [
            ("model functions", lambda: model_function_derivations(spec)),
            ("end to end", end_to_end.start),  # its direct side runs on the pool while the parts below run here
            ("general rule", lambda: [derive_general_rule()]),
            ("fixed width", lambda: [derive_fixed_width(spec, cap=fixed_width_cap(spec))]),
            ("batch forms", lambda: [batch_forms_part(spec)]),
            ("end to end", lambda: [end_to_end.finish(progress)]),
        ]
    else:
        from derive.backprop.blocks_end_to_end import derive_blocks_end_to_end

        plain = spec.plain_family()
        steps = [
            ("model functions", lambda: model_function_derivations(plain)),
            ("general rule", lambda: [derive_general_rule()]),
            ("batch forms", lambda: [batch_forms_part(plain)]),
            ("blocks", lambda: block_parts(spec)),
            ("end to end", lambda: [derive_blocks_end_to_end(spec)]),
        ]
    return steps


def _run(spec: ModelSpec, steps: list, progress: Callable[[str], None] | None
         ) -> tuple[list[Derivation], dict[str, float], list[str]]:
    """Make every part in order; a part that raises becomes a failing part. The time of a name is the sum of its
    entries (the end-to-end part's start and finish: its work on the pool overlaps the parts between them)."""
    parts: list[Derivation] = []
    timings: dict[str, float] = {}
    errors: list[str] = []
    for name, make in steps:
        t0 = time.perf_counter()
        try:
            parts.extend(make())
        except Exception as exc:  # a failing part is reported as not holding, never a crash
            parts.append(_error_part(name, exc, spec))
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
        if progress:
            progress(f"{spec.title}: {name} ({timings[name]:.1f} s)")
    return parts, timings, errors


def derive_model(spec: ModelSpec, *, use_cache: bool = True, progress: Callable[[str], None] | None = None,
                 full_limit: int | None = None) -> ModelDerivation:
    """Derive every part for ``spec`` (module doc); from the on-disk cache when possible.

    ``use_cache=False`` recomputes (and refreshes the cache entry). ``full_limit`` overrides
    :data:`derive.backprop.end_to_end.FULL_LIMIT` (the widest first layer whose model is sampled end to end);
    derivations with
    a non-default limit are neither read from nor written to the cache.
    """
    default = full_limit is None
    if use_cache and default:
        hit = cache.load(spec.hash(), ModelDerivation)
        if hit is not None and hit.spec == spec:
            hit.from_cache = True
            if progress:
                progress(f"{spec.title}: derivation from the cache ({cache.cache_dir()})")
            return hit
    with parallel.pool() as executor:
        parts, timings, errors = _run(spec, _plan(spec, progress, full_limit, executor), progress)
    md = ModelDerivation(spec, parts, timings, errors)
    if default and not errors:  # use_cache=False recomputes and refreshes the entry
        cache.store(spec.hash(), md)
    return md
