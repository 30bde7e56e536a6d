"""Which elements of each parameter block the numerical witnesses check: all of them, or a stratified sample.

The sizes are module constants, read at call time, so a test may lower them (``monkeypatch.setattr``).
"""

from __future__ import annotations

import itertools

import numpy as np

from numeric.spec import ModelSpec

__all__ = ["EXHAUSTIVE_MAX", "N_PROBES", "SAMPLE_PER_BLOCK", "element_plan", "sampling_note"]

#: Models with at most this many parameters are checked element by element against the numerical witnesses.
EXHAUSTIVE_MAX = 5000
#: Above EXHAUSTIVE_MAX: elements sampled per parameter block (stratified over the block) ...
SAMPLE_PER_BLOCK = 128
#: ... and signed random (Gaussian) probe directions per parameter block.
N_PROBES = 8


def element_plan(spec: ModelSpec, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], bool]:
    """Flat indices to check per block: all of them up to EXHAUSTIVE_MAX parameters, else a stratified sample.

    The sample splits each block's flat index range into SAMPLE_PER_BLOCK equal strata (output units in the
    columns layout, input units in the rows layout) and takes one element uniformly from each. The flag says
    whether the plan is a sample.
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


def sampling_note(spec: ModelSpec) -> str:
    """The result's note for a sampled model."""
    return (f"{spec.n_params} parameters > {EXHAUSTIVE_MAX}: numerical witnesses on a stratified sample of "
            f"up to {SAMPLE_PER_BLOCK} elements per block plus {N_PROBES} signed probes per block")
