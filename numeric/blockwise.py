"""Modes ``full`` and ``auto`` of the gradient checker: element by element, block by block, with progress.

``full`` checks every element of every block. ``auto`` (the default) checks every element of blocks up to
:data:`AUTO_MAX` elements, and a larger block on a stratified sample of :data:`AUTO_SAMPLE` elements plus
:data:`AUTO_PROBES` signed random probes of the whole block (as ``bpv verify`` samples big models): the sample says
*how* elements are wrong, the probes see an error in any element, sampled or not. Work is done in chunks so a
progress bar with an ETA can run on stderr; it stays silent for checks that end within two seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from numeric.check_result import Row
from numeric.elementwise import judge_elements, regions, row_from_elements, sample_indices, stratified_sample
from numeric.finite_diff import Differences, complex_step, differences, machine_eps
from numeric.probes import Probes, explain_probes
from numeric.progress import Progress
from numeric.ties import TIE_DIAGNOSIS, overclaimed_ties

__all__ = ["AUTO_MAX", "AUTO_PROBES", "AUTO_SAMPLE", "CHUNK", "BlockOptions", "check_blocks"]

Array = np.ndarray
#: blocks with more elements than this are sampled in mode auto (the issue's 5,000)
AUTO_MAX = 5000
#: elements of a sampled block checked one at a time (one from each of this many equal strata)
AUTO_SAMPLE = 256
#: signed random probes of a sampled block (see every element at once)
AUTO_PROBES = 8
#: elements per chunk of finite differences (one progress update each)
CHUNK = 128


@dataclass
class BlockOptions:
    """The knobs of the element-wise check (see :func:`numeric.gradcheck`)."""

    mode: str
    safety: float
    complex_step_check: bool
    batch_sizes: Sequence[int]
    n_regions: int
    max_elements: int | None = None
    progress: bool = True


def _plan(params: Mapping[str, Array], blocks: Mapping[str, Array], opts: BlockOptions,
          rng: np.random.Generator) -> dict[str, Array]:
    """The flat indices each block is checked at."""
    plan = {}
    for name in blocks:
        size = params[name].size
        if opts.mode == "auto" and size > AUTO_MAX:
            plan[name] = stratified_sample(size, AUTO_SAMPLE, rng)
        else:
            plan[name] = sample_indices(size, opts.max_elements, rng)
    return plan


def _chunked(loss: Callable, params: Mapping[str, Array], name: str, flat: Array, f0: float, opts: BlockOptions,
             bar: Callable[[int], None]) -> tuple[Differences, Array | None]:
    """Central differences (and the complex step) of the elements ``flat``, a chunk at a time."""
    parts, cs_parts = [], []
    cs_ok = opts.complex_step_check
    for start in range(0, max(flat.size, 1), CHUNK):
        chunk = flat[start:start + CHUNK]
        parts.append(differences(loss, params, name, chunk, f0=f0))
        if cs_ok:
            cs = complex_step(loss, params, name, chunk) if chunk.size else np.zeros(0)
            cs_ok = cs is not None  # a loss that is not analytic once is not analytic: stop asking
            cs_parts.append(cs)
        bar(chunk.size)
    cs_all = np.concatenate(cs_parts) if cs_ok and cs_parts else None
    return Differences.concat(parts), cs_all


def check_blocks(loss: Callable, params: Mapping[str, Array], blocks: Mapping[str, Array], f0: float,
                 rng: np.random.Generator, opts: BlockOptions, notes: list[str]) -> list[Row]:
    """Rows of ``blocks``: every element (full, or auto below AUTO_MAX), or a stratified sample plus probes."""
    plan = _plan(params, blocks, opts, rng)
    total = sum(int(f.size) for f in plan.values())
    progress = Progress(max(total, 1), enabled=opts.progress, delay=2.0)
    done = [0]

    def bar(n: int) -> None:
        done[0] += n
        progress.bar(done[0], "gradcheck: elements")

    rows, rejected, judged = [], False, {}
    for name, g in blocks.items():
        theta, flat = params[name], plan[name]
        d, cs = _chunked(loss, params, name, flat, f0, opts, bar)
        g_flat = np.asarray(g, dtype=np.float64).reshape(-1)[flat]
        eps_g = max(machine_eps(theta.dtype), machine_eps(np.asarray(g).dtype))
        e = judge_elements(g_flat, d, cs, opts.safety, eps_g, regions(loss, params, name, flat, rng, opts.n_regions))
        rejected = rejected or "rejected" in e.method
        judged[name] = (e, g_flat)
    ties = overclaimed_ties(loss, params, blocks, {n: plan[n][e.kink] for n, (e, _) in judged.items()}, f0,
                            opts.safety, max(opts.n_regions, 4))
    for name, (e, g_flat) in judged.items():
        theta, flat = params[name], plan[name]
        tied = np.isin(flat, list(ties.get(name, ())))
        e.bad, e.kink = e.bad | tied, e.kink & ~tied
        complete = flat.size == theta.size
        row = row_from_elements(name, theta, g_flat, flat, e, opts.batch_sizes, complete)
        if np.any(tied):
            row.diagnosis = TIE_DIAGNOSIS.format(n=int(np.count_nonzero(tied)))
        if opts.mode == "auto" and not complete:
            row = _with_probes(loss, params, name, np.asarray(blocks[name], dtype=np.float64), f0, opts, rng, row)
        elif not complete:
            row.add_diagnosis(f"a random sample of {flat.size} of {theta.size} elements checked")
        rows.append(row)
    if rejected:
        notes.append("the complex step disagrees with central differences: the loss is not analytic (np.abs, "
                     "np.maximum, np.clip or a comparison on complex data); central differences were used")
    sampled = [n for n in blocks if plan[n].size < params[n].size and opts.mode == "auto"]
    if sampled:
        notes.append(f"mode auto: {', '.join(sampled)} (over {AUTO_MAX} elements each) checked on a stratified sample "
                     f"of {AUTO_SAMPLE} elements plus {AUTO_PROBES} signed probes; mode full checks every element")
    return rows


def _with_probes(loss: Callable, params: Mapping[str, Array], name: str, g: Array, f0: float, opts: BlockOptions,
                 rng: np.random.Generator, row: Row) -> Row:
    """A sampled block: its probes see every element; a failure the sample missed turns the row wrong."""
    probes = Probes(loss, params, {name: g}, f0, opts.safety)
    a_arr, n_arr, fails, rough = probes.one_block(name, AUTO_PROBES, rng)
    n_checked = row.n_checked
    row = explain_probes(row, a_arr, n_arr, AUTO_PROBES, fails, rough, False, opts.batch_sizes)
    row.n_checked = n_checked
    row.add_diagnosis(f"stratified sample of {n_checked} of {params[name].size} elements plus {AUTO_PROBES} probes")
    return row
