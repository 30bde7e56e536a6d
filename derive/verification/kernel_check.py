"""The one kernel verifier, used by ``bpv verify`` and ``bpv kernels``: import a generated kernel, compare it with
the hand-written backprop (two exact methods, bound 1e-12), with the complex step and with central differences
(:mod:`derive.verification.numerical`), and check that a catalog model's shipped kernel is the one generated now.

``bpv verify`` reads the rows one by one (:func:`exact_rows`, :func:`shipped_kernel_row`);
``bpv kernels`` asks :func:`verify_kernel` for a few summary lines on a small instance of the family.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from derive.verification.numerical import numeric_rows
from derive.verification.rows import BOUNDS, Row, Verdict, all_elements, compared, largest_block, proven_zero
from derive.verification.witnesses import Witness, diagnosis, instance, instance_masks, shared_weights, witnesses
from numeric.catalog import CATALOG, SHARED_CATALOG
from numeric.errors import BadInput
from numeric.metrics import block_relative_error
from numeric.spec import ModelSpec

__all__ = ["CHECK_BATCH", "CHECK_WIDTH", "KernelCheck", "exact_rows", "generated_source", "kernel_instance",
           "load_kernel", "shipped_kernel_row", "verify_kernel"]

#: ``bpv kernels`` checks a family on an instance with every width capped at CHECK_WIDTH and CHECK_BATCH samples
CHECK_WIDTH = 6
CHECK_BATCH = 5

_KERNEL_DIR: tempfile.TemporaryDirectory | None = None


def load_kernel(source: str, name: str) -> ModuleType:
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


def generated_source(spec: ModelSpec) -> str:
    """The kernel generated now (looked up at call time, so a test may replace the generator)."""
    from derive.codegen import kernel

    return kernel.generate_kernel_source(spec)


def kernel_instance(spec: ModelSpec, seed: int, width: int = CHECK_WIDTH, m: int = CHECK_BATCH,
                    labels: str = "onehot") -> tuple[ModelSpec, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """A small random instance of the family: widths capped at ``width`` (softmax keeps 2), batch ``m``."""
    # a net with shared weights is checked at its own sizes: they are the structure (strides, pools) of the family
    small = spec if shared_weights(spec) else spec.with_sizes([min(n, width) for n in spec.sizes])
    params, x, y = instance(small, seed, m, labels)
    return small, params, x, y


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def exact_rows(model: str, spec: ModelSpec, kernel_w: Witness, backprop_w: Witness,
               params: Mapping[str, np.ndarray]) -> list[Row]:
    """``kernel vs backprop``: the loss value and every gradient block, bound 1e-12 (two exact methods)."""
    bound = BOUNDS["exact"]
    check = "kernel vs backprop"
    try:
        err = block_relative_error(np.asarray(kernel_w.loss(params)), np.asarray(backprop_w.loss(params)))
        detail = ""
    except Exception as exc:
        err, detail = float("inf"), _error(exc)
    rows = [compared(model, check, "loss", kernel_w.name, backprop_w.name, err, bound, "loss value", detail)]
    try:
        gk, gb = kernel_w.grad(params), backprop_w.grad(params)
    except Exception as exc:
        return [*rows, compared(model, check, "all", kernel_w.name, backprop_w.name, float("inf"), bound, "",
                                _error(exc))]
    zero = spec.zero_gradient_blocks()
    scale = largest_block(gb, [k for k in spec.param_names() if k not in zero])
    for name, shape in spec.param_shapes().items():
        detail = ""
        if name in zero and name in gk:
            rows.append(proven_zero(model, check, name, kernel_w.name, backprop_w.name, gk[name],
                                    np.zeros(shape), scale, bound))
            continue
        if name not in gk:
            err, detail = float("inf"), f"the kernel returns no {name}"
        else:
            err = block_relative_error(gk[name], gb[name])
            if np.shape(gk[name]) != tuple(shape):
                detail = f"kernel's {name} has shape {np.shape(gk[name])}, expected {tuple(shape)}"
            elif not err <= bound:
                detail = diagnosis(gk[name], gb[name], bound)
        rows.append(compared(model, check, name, kernel_w.name, backprop_w.name, err, bound,
                             all_elements(int(np.prod(shape))), detail))
    extra = sorted(set(gk) - set(gb))
    if extra:
        rows.append(compared(model, check, "all", kernel_w.name, backprop_w.name, float("inf"), bound, "",
                             f"the kernel returns blocks the model does not have: {', '.join(extra)}"))
    return rows


def shipped_kernel_row(model: str, spec: ModelSpec, generated: str) -> Row | None:
    """For a catalog model: is ``numeric/kernels/<name>.py`` the kernel just generated and verified, byte for byte?

    Bytes are only comparable when the shipped kernel was printed by the installed SymPy (its header says which);
    otherwise the row is skipped and says so. None for a model outside the catalog (nothing is shipped).
    """
    import numeric

    catalog = {**CATALOG, **SHARED_CATALOG}
    if spec.name not in catalog or catalog[spec.name] != spec:
        return None
    path = Path(numeric.__file__).parent / "kernels" / f"{spec.name}.py"
    where = f"numeric/kernels/{spec.name}.py"

    def row(verdict: Verdict, method: str, detail: str) -> Row:
        return Row(model, "shipped kernel vs generated kernel", "source", where, "generated kernel", None, None,
                   verdict, method, detail)

    if not path.is_file():
        return row(Verdict.SKIPPED, "", f"no shipped kernel {where}")
    shipped = path.read_text(encoding="utf-8")
    if shipped == generated:
        return row(Verdict.HOLDS, "byte-identical source", "the kernel verified here is the one users import")
    import sympy

    found = re.search(r"with SymPy (\S+) from", shipped)
    made_with = found.group(1) if found else "an unknown SymPy"
    if made_with != sympy.__version__:
        return row(Verdict.SKIPPED, "", f"{where} was printed with SymPy {made_with}, installed is "
                   f"{sympy.__version__}: bytes not comparable (the generated kernel is verified below)")
    return row(Verdict.FAILS, "byte comparison", f"{where} differs from the kernel generated now (stale): "
               f"regenerate it with `bpv kernels {spec.name} -o numeric/kernels`")


# ----- bpv kernels: a few summary lines ------------------------------------------------------------------------
@dataclass(frozen=True)
class KernelCheck:
    """One line of ``bpv kernels``: what was compared, the worst block-relative error, and whether it holds."""

    check: str
    error: float
    bound: float | None
    holds: bool
    detail: str = ""


def _summary(check: str, rows: Sequence[Row]) -> KernelCheck:
    """The rows of one comparison as one line: the worst error and bound, holds when every row holds."""
    error = max((float("inf") if r.error is None else r.error for r in rows), default=0.0)
    bound = max((r.bound for r in rows if r.bound is not None), default=None)
    bad = "\n".join(f"{r.block}: {r.detail or 'error above the bound'}" for r in rows if not r.holds)
    return KernelCheck(check, error, bound, all(r.holds for r in rows), bad)


def _reference(spec: ModelSpec) -> ModuleType:
    """The hand-written reference of ``spec``: :mod:`numeric.backprop`, or :mod:`numeric.conv_net` for a net with
    shared weights (both have ``forward``, ``loss`` and ``gradients`` taking the spec first)."""
    from numeric import backprop, conv_net

    return conv_net if shared_weights(spec) else backprop


def _forward_row(model: str, small: ModelSpec, kernel: ModuleType, params: Mapping[str, np.ndarray],
                 x: np.ndarray, masks: Mapping[str, np.ndarray] | None = None) -> Row:
    extra = {} if masks is None else {"masks": masks}
    try:
        reference = _reference(small).forward(small, params, x, **extra)
        err = block_relative_error(kernel.forward(params, x, **extra), reference)
        detail = ""
    except Exception as exc:
        err, detail = float("inf"), _error(exc)
    return compared(model, "kernel vs backprop", "forward", "generated kernel", "hand-written backprop", err,
                    BOUNDS["exact"], "a^L", detail)


#: the learning rate of the sgd_step check (any eta works: the step is linear in it)
CHECK_ETA = 0.1


def _sgd_row(model: str, small: ModelSpec, kernel: ModuleType, params: Mapping[str, np.ndarray], x: np.ndarray,
             y: np.ndarray, masks: Mapping[str, np.ndarray] | None) -> Row:
    """``sgd_step`` against theta - eta * (the hand-written backprop's gradient): the update rule, block by block."""
    extra = {} if masks is None else {"masks": masks}
    try:
        new = kernel.sgd_step(params, x, y, CHECK_ETA, **extra)
        grads = _reference(small).gradients(small, params, x, y, **extra)
        err = max(block_relative_error(new[k], params[k] - CHECK_ETA * grads[k]) for k in params)
        detail = ""
    except Exception as exc:
        err, detail = float("inf"), _error(exc)
    return compared(model, "kernel vs backprop", "sgd_step", "generated kernel", "hand-written backprop", err,
                    BOUNDS["exact"], f"theta - {CHECK_ETA} * gradient, every block", detail)


def verify_kernel(spec: ModelSpec, kernel: ModuleType, seed: int = 0, width: int = CHECK_WIDTH
                  ) -> list[KernelCheck]:
    """Compare a kernel with the hand-written backprop (gradients, loss, forward), the complex step and central
    differences, on :func:`kernel_instance`; the same rows ``bpv verify`` reports, summarised per comparison."""
    small, params, x, y = kernel_instance(spec, seed, width)
    model = small.title
    masks = instance_masks(small, seed, x.shape[small.layout.sample_axis])
    kernel_w, backprop_w = witnesses(small, kernel, x, y, masks)
    exact = exact_rows(model, small, kernel_w, backprop_w, params)
    plan = {k: np.arange(int(np.prod(s))) for k, s in small.param_shapes().items()}
    rng = np.random.default_rng([seed, 1])
    numerical = {m: numeric_rows(model, small, kernel_w, params, m, plan, False, rng) for m in ("complex", "central")}
    ref = _reference(small).__name__
    return [
        _summary(f"gradients vs {ref}.gradients", [r for r in exact if r.block != "loss"]),
        _summary(f"loss vs {ref}.loss", [r for r in exact if r.block == "loss"]),
        _summary(f"forward vs {ref}.forward", [_forward_row(model, small, kernel, params, x, masks)]),
        _summary(f"sgd_step vs theta - eta * {ref}.gradients",
                 [_sgd_row(model, small, kernel, params, x, y, masks)]),
        _summary("gradients vs complex step", numerical["complex"]),
        _summary("gradients vs central differences (Richardson)", numerical["central"]),
    ]
