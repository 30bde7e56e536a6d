"""Fast mode of the gradient checker: signed random directions over all blocks, then per block, then localise.

A probe compares ``<g, v>`` with the directional derivative of the loss along ``v``. ``k`` probes over all blocks,
then ``k`` per block; a block whose probes fail (or cross kinks) gets the element-wise check on a sample of its
elements (:mod:`numeric.elementwise`), so the diagnosis can say which elements and how.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from numeric.check_result import Row, Verdict
from numeric.diagnose import describe_factor, fit_scale
from numeric.elementwise import judge_elements, regions, row_from_elements, sample_indices
from numeric.finite_diff import Differences, differences, directional, machine_eps, random_directions
from numeric.metrics import block_relative_error

__all__ = ["Probes", "check_fast", "explain_probes"]

Array = np.ndarray


@dataclass
class Probes:
    """Directional probes of the analytic blocks ``blocks`` against ``loss`` at ``params``."""

    loss: Callable
    params: Mapping[str, Array]
    blocks: Mapping[str, Array]
    f0: float
    safety: float

    def __post_init__(self) -> None:
        names = list(self.blocks)
        self.eps_g = max(max(machine_eps(self.params[n].dtype), machine_eps(self.blocks[n].dtype)) for n in names)

    def probe(self, direction: Mapping[str, Array]) -> tuple[float, Differences]:
        analytic = sum(float(np.sum(np.asarray(g, dtype=np.float64) * direction[n])) for n, g in self.blocks.items())
        return analytic, directional(self.loss, self.params, direction, f0=self.f0)

    def judge(self, analytic: float, d: Differences, direction: Mapping[str, Array]) -> tuple[bool, bool]:
        """(passes, smooth) for one probe; the floor covers rounding of g.v and of theta + t v.

        A probe whose line crosses a kink (left and right slopes differ) is not smooth: along a direction through
        several kinks a valid subgradient need not lie between the one-sided slopes, so such a probe only sends
        the block to the element-wise check, where kinks are judged one coordinate at a time.
        """
        blocks, params, eps_g = self.blocks, self.params, self.eps_g
        g_dot_abs = sum(float(np.sum(np.abs(g) * np.abs(direction[n]))) for n, g in blocks.items())
        g_theta = sum(float(np.sum(np.abs(g) * np.abs(params[n]))) for n, g in blocks.items() if np.any(direction[n]))
        floor = 1e3 * eps_g * g_dot_abs + 4 * eps_g * g_theta / float(d.h[0]) + 1e-300
        passes = abs(analytic - float(d.richardson[0])) <= self.safety * float(d.error[0]) + floor
        plus, minus = float(d.plus_slope[0]), float(d.minus_slope[0])
        smooth = abs(plus - minus) <= self.safety * float(d.one_sided_error[0]) + floor
        return passes, smooth

    def all_blocks_pass(self, k: int, rng: np.random.Generator) -> bool:
        """``k`` probes over every analytic block at once."""
        names = list(self.blocks)
        ok = True
        for direction in random_directions({n: self.params[n] for n in names}, k, rng, names=names):
            direction = {n: direction.get(n, np.zeros(self.params[n].shape)) for n in self.params}
            analytic, d = self.probe(direction)
            ok = self.judge(analytic, d, direction)[0] and ok
        return ok

    def one_block(self, name: str, k: int, rng: np.random.Generator) -> tuple[Array, Array, int, int]:
        """``k`` probes of block ``name`` alone: analytic and numerical values, smooth failures, rough failures."""
        analytics, numericals, fails, rough = [], [], 0, 0
        for direction in random_directions({name: self.params[name]}, k, rng):
            direction = {n: (direction[name] if n == name else np.zeros(p.shape)) for n, p in self.params.items()}
            analytic, d = self.probe(direction)
            passes, smooth = self.judge(analytic, d, direction)
            analytics.append(analytic)
            numericals.append(float(d.richardson[0]))
            fails += not passes and smooth
            rough += not passes and not smooth
        return np.array(analytics), np.array(numericals), fails, rough


def check_fast(loss: Callable, params: Mapping[str, Array], blocks: Mapping[str, Array], f0: float,
               rng: np.random.Generator, *, k: int, localise_sample: int, safety: float,
               batch_sizes: Sequence[int], notes: list[str], n_regions: int) -> list[Row]:
    """Rows of ``blocks`` from ``k`` probes overall and ``k`` per block; failing blocks are localised."""
    if not blocks:
        return []
    probes = Probes(loss, params, blocks, f0, safety)
    global_pass = probes.all_blocks_pass(k, rng)
    rows = []
    for name, g in blocks.items():
        theta, g = params[name], np.asarray(g, dtype=np.float64)
        a_arr, n_arr, fails, rough = probes.one_block(name, k, rng)
        if not np.all(np.isfinite(g)):
            fails = max(fails, 1)
        if not fails and not rough:
            rows.append(Row(name, theta.shape, block_relative_error(a_arr, n_arr), float(np.max(np.abs(a_arr - n_arr))),
                            None, 0, Verdict.OK, "", 0, 0, f"directional ({k} probes)"))
            continue
        flat = sample_indices(theta.size, localise_sample, rng)
        row = _localise(loss, params, name, g, f0, flat, safety, batch_sizes, regions(loss, params, name, flat, rng,
                                                                                      n_regions))
        rows.append(explain_probes(row, a_arr, n_arr, k, fails, rough, flat.size == theta.size, batch_sizes))
    if not global_pass and all(r.verdict is Verdict.OK for r in rows):
        notes.append("a probe over all blocks failed but every per-block probe passed: rerun with mode='full'")
    return rows


def _localise(loss: Callable, params: Mapping[str, Array], name: str, g: Array, f0: float, flat: Array,
              safety: float, batch_sizes: Sequence[int], region_check: Callable[[Array], Array] | None) -> Row:
    """A block whose probes failed or crossed kinks: the element-wise check of the elements ``flat``."""
    theta = params[name]
    d = differences(loss, params, name, flat, f0=f0)
    g_flat = g.reshape(-1)[flat]
    eps_g = max(machine_eps(theta.dtype), machine_eps(g.dtype))
    e = judge_elements(g_flat, d, None, safety, eps_g, region_check)
    return row_from_elements(name, theta, g_flat, flat, e, batch_sizes, flat.size == theta.size)


def explain_probes(row: Row, a_arr: Array, n_arr: Array, k: int, fails: int, rough: int, complete: bool,
                    batch_sizes: Sequence[int]) -> Row:
    """Combine what the probes saw with the element-wise row of the localised block."""
    n_checked = row.n_checked
    row.method = f"directional ({k} probes) + {n_checked} elements"
    if row.verdict is not Verdict.WRONG and fails and complete:
        # every element passes one at a time: the failing probes crossed kinks whose left and right slopes agree
        row.add_diagnosis(f"{fails} of {k} probes failed along lines through several kinks, but every element "
                          "passes on its own")
        return row
    if row.verdict is not Verdict.WRONG and fails:
        # smooth probes saw the error, the sample did not: say what the probes say
        c = fit_scale(a_arr, n_arr)
        consistent = c is not None and np.allclose(a_arr, c * n_arr, rtol=1e-4, atol=1e-12 * np.max(np.abs(n_arr)))
        row.verdict = Verdict.WRONG
        row.n_bad = max(row.n_bad, 1)
        row.diagnosis = (f"{fails} of {k} random-direction probes fail but none of {n_checked} sampled elements do: "
                         "a few elements are wrong")
        if consistent and c is not None and c != 1:
            row.diagnosis = describe_factor(c, batch_sizes) + " (from the probes)"
    if fails:
        row.diagnosis += f"; {fails} of {k} probes failed"
    elif rough and row.verdict is not Verdict.WRONG:
        row.add_diagnosis(f"{rough} of {k} probes crossed a kink; the element-wise check on "
                          f"{'every element' if complete else f'{n_checked} sampled elements'} decides")
    return row
