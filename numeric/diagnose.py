"""Say *how* a gradient block is wrong: one sentence from the analytic block, the numerical block and the bad mask.

What it is: pure functions on arrays used by the gradient checker (:mod:`numeric.checker`). They recognise, in
this order: NaN/inf, an all-zero gradient, a constant scale factor (named: a sign flip, x2 "a forgotten 1/2",
x1/2, x1/m "averaged twice", xm "the 1/m is missing", when m, the batch size, is known or inferred), a transposed
gradient, errors confined to some rows or columns; and, over the blocks ``W1..WL``/``b1..bL``, the layer where the
error enters the backward pass (BP1-BP4). What it is not: a checker (no finite differences here) or certain: each
sentence is the simplest explanation that fits the numbers, and says what was measured.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from numeric.check_result import Verdict

__all__ = [
    "batch_size_candidates",
    "describe_factor",
    "diagnose_block",
    "fit_scale",
    "localise_layers",
]

Array = np.ndarray


def fit_scale(g: Array, r: Array) -> float | None:
    """Least-squares c in g = c r (None when r is all zero)."""
    rr = float(np.sum(r * r))
    if rr == 0.0:
        return None
    return float(np.sum(g * r)) / rr


def _close(c: float, target: float, rtol: float) -> bool:
    return abs(c - target) <= rtol * abs(target)


def describe_factor(c: float, batch_sizes: Sequence[int] = (), rtol: float = 1e-4) -> str:
    """Name a constant factor c in analytic = c * numerical."""
    sign = "a sign flip" if c < 0 else ""
    a = abs(c)
    for m in batch_sizes:
        if m > 2 and _close(a, 1.0 / m, rtol):
            what = (f"x1/m with m = {m} (the batch size): divided by m twice, e.g. delta scaled by 1/m and then "
                    "averaged instead of summed")
            return f"{what}, and {sign}" if sign else what
        if m > 2 and _close(a, float(m), rtol):
            what = f"xm with m = {m} (the batch size): the 1/m of the mean is missing (summed instead of averaged)"
            return f"{what}, and {sign}" if sign else what
    if _close(a, 1.0, rtol):
        if c > 0:
            # analytic = numerical up to rtol: no constant factor explains the error; callers look elsewhere
            return "no constant factor: analytic and numerical agree in scale"
        return "a sign flip (analytic = -numerical): a gradient step would climb the loss"
    named = {
        2.0: "x2: a forgotten 1/2 (the derivative of 1/2 (a - y)^2 is (a - y), not 2 (a - y)) or a term counted twice",
        0.5: "x1/2: a spurious 1/2 (the cost's 1/2 applied to its derivative, or half of a term lost)",
    }
    for target, text in named.items():
        if _close(a, target, rtol):
            return f"{text}, and {sign}" if sign else text
    inv = 1.0 / a if a else float("inf")
    if a < 1 and abs(inv - round(inv)) <= rtol * inv and round(inv) >= 3:
        k = round(inv)
        what = f"x1/{k}: a constant factor 1/{k} (1/m if the batch has m = {k} samples: averaged twice?)"
        return f"{what}, and {sign}" if sign else what
    if a > 1 and abs(a - round(a)) <= rtol * a and round(a) >= 3:
        k = round(a)
        what = f"x{k}: a constant factor {k} (m if the batch has m = {k} samples: the 1/m of the mean missing?)"
        return f"{what}, and {sign}" if sign else what
    what = f"a constant factor {a:.6g}"
    return f"{what}, and {sign}" if sign else what


def _fmt_list(idx: Iterable[int], limit: int = 8) -> str:
    idx = list(idx)
    text = ", ".join(str(i) for i in idx[:limit])
    return text + (f", ... ({len(idx)} in all)" if len(idx) > limit else "")


def diagnose_block(g: Array, r: Array, bad: Array, tol: Array, *, batch_sizes: Sequence[int] = (),
                   complete: bool = True) -> str:
    """One sentence on why block g (analytic) differs from r (numerical) at the elements marked ``bad``.

    ``g``, ``r``, ``bad`` and ``tol`` have the block's shape (``complete=False``: ``g``/``r``/``bad``/``tol`` are a
    sample, flattened, and only the value-based explanations apply).
    """
    n = int(g.size)
    n_bad = int(np.count_nonzero(bad))
    nonfinite = ~np.isfinite(g)
    if np.any(nonfinite):
        k = int(np.count_nonzero(nonfinite))
        first = np.unravel_index(int(np.flatnonzero(nonfinite)[0]), g.shape)
        kinds = []
        if np.any(np.isnan(g)):
            kinds.append("NaN")
        if np.any(np.isinf(g)):
            kinds.append("inf")
        return (f"{k} of {n} entries are {'/'.join(kinds)} (first at {tuple(int(i) for i in first)}): an overflow "
                "or 0/0 in the backward pass (use a stable form from z: log-sum-exp, the fused a - y)")
    r_max = float(np.max(np.abs(r))) if r.size else 0.0
    if not np.any(g) and r_max > 0:
        return (f"all-zero gradient, but the loss does change with this parameter (max |numerical| = {r_max:.3g}): "
                "the backward pass never reaches it (a dropped layer term, or a loop that stops one layer early)")
    c = fit_scale(g, r)
    if c is not None and c != 1.0 and np.all(np.abs(g - c * r) <= np.abs(c) * tol + 1e-300):
        return describe_factor(c, batch_sizes) + f" (analytic = {c:.6g} x numerical on every element)"
    if complete and g.ndim == 2 and g.shape[0] == g.shape[1] and g.shape[0] > 1:
        if np.all(np.abs(g.T - r) <= tol):
            return "transposed gradient: its transpose matches the numerical gradient (W^T where W was meant)"
    if complete and g.ndim == 2 and n_bad:
        rows = np.flatnonzero(np.any(bad, axis=1))
        cols = np.flatnonzero(np.any(bad, axis=0))
        parts = []
        if 0 < rows.size < g.shape[0]:
            parts.append(f"rows {_fmt_list(rows)} of {g.shape[0]}")
        if 0 < cols.size < g.shape[1]:
            parts.append(f"columns {_fmt_list(cols)} of {g.shape[1]}")
        if parts:
            return (f"{n_bad} of {n} elements wrong, confined to {' and '.join(parts)} (all other entries match): "
                    "look at the units (rows) or inputs (columns) those index")
    where = "" if complete else " (in a sample)"
    return f"{n_bad} of {n} checked elements wrong{where}, with no constant factor, transpose or row/column pattern"


_PARAM = re.compile(r"^([Wb])(\d+)$")


def localise_layers(verdicts: Mapping[str, Verdict | str]) -> str | None:
    """Where the error enters the backward pass, from per-block verdicts of ``W1..WL``/``b1..bL``; None otherwise.

    A verdict is a :class:`~numeric.check_result.Verdict` or its word (``"wrong"``).
    """
    layers: dict[int, dict[str, Verdict]] = {}
    for name, verdict in verdicts.items():
        m = _PARAM.match(name)
        if not m:
            return None
        layers.setdefault(int(m.group(2)), {})[m.group(1)] = Verdict(verdict)
    if not layers or sorted(layers) != list(range(1, max(layers) + 1)):
        return None
    L = max(layers)
    wrong = {l for l, d in layers.items() if any(v is Verdict.WRONG for v in d.values())}
    if not wrong:
        return None
    top = max(wrong)
    whole = {l for l, d in layers.items() if all(v is Verdict.WRONG for v in d.values())}
    upper = f"layer {L} is" if top + 1 == L else f"layers {top + 1}..{L} are"
    if whole == wrong == set(range(1, top + 1)) and (top > 1 or L == 1 or len(layers[1]) == 1):
        if top == L:
            return (f"every block of every layer is wrong: the error is already in delta^{L} (BP1: the cost "
                    f"derivative dC/da, sigma'(z^{L}), or the batch scale) and BP2 carries it down to layer 1")
        return (f"every block of layers 1..{top} is wrong and {upper} right: the error enters at delta^{top} "
                f"(BP2: delta^{top} = ((W^{top + 1})^T delta^{top + 1}) * sigma'(z^{top}); check sigma'(z^{top}), "
                f"evaluated at z, not a, and the (W^{top + 1})^T delta^{top + 1} term) and every lower layer "
                "inherits it")
    singles = []
    for l in sorted(wrong):
        bad = [k for k, v in layers[l].items() if v is Verdict.WRONG]
        if len(bad) == 1 and len(layers[l]) == 2:
            eq = "BP4: delta (a^{l-1})^T" if bad[0] == "W" else "BP3: the batch mean of delta"
            singles.append(f"{bad[0]}{l} ({eq})")
        else:
            singles.append(f"layer {l}")
    return (f"wrong: {', '.join(singles)}, in a pattern BP2 does not propagate (an error in delta^l would reach "
            "every block of layers 1..l): local mistakes in those formulas")


def batch_size_candidates(obj: object, params: Mapping[str, object]) -> list[int]:
    """Batch sizes a loss may use, from a ``batch_size`` attribute or the arrays its closure holds (not params).

    The dimensions of every 2-D array (and the length of 1-D integer label arrays) it captures are candidates, those
    shared by two arrays (x and y share m) first and alone if there are any; a scale factor equal to one of them is
    then named "1/m" or "m".
    """
    explicit = getattr(obj, "batch_size", None)
    if isinstance(explicit, (int, np.integer)) and explicit > 0:
        return [int(explicit)]
    found: list[object] = []
    closure = getattr(obj, "__closure__", None) or ()
    for cell in closure:
        try:
            found.append(cell.cell_contents)
        except ValueError:
            continue
    found.extend(getattr(obj, "args", ()) or ())
    found.extend((getattr(obj, "keywords", None) or {}).values())
    found.extend(getattr(obj, "__defaults__", None) or ())
    owner = getattr(obj, "__self__", None) or (obj if not callable(getattr(obj, "__code__", None)) else None)
    if owner is not None and hasattr(owner, "__dict__"):
        found.extend(vars(owner).values())
    param_ids = {id(v) for v in params.values()}
    per_array: list[set[int]] = []
    for v in found:
        if not isinstance(v, np.ndarray) or id(v) in param_ids:
            continue
        if v.ndim == 2:
            per_array.append({int(d) for d in v.shape})
        elif v.ndim == 1 and np.issubdtype(v.dtype, np.integer):
            per_array.append({int(v.shape[0])})
    counts: dict[int, int] = {}
    for dims in per_array:
        for d in dims:
            if d > 2:
                counts[d] = counts.get(d, 0) + 1
    shared = sorted(d for d, c in counts.items() if c >= 2)  # x and y share m: prefer those
    return shared or sorted(counts)
