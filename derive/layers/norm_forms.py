"""Batch and layer normalisation as array forms: the names, the forward, the chain-rule backward, the compact one.

What :mod:`derive.layers.normalisation` derives and proves, and :mod:`derive.codegen.blocks` prints. The statistics
run along :data:`STAT_AXIS` of a columns-layout block (units x samples): the samples for batch normalisation, the
units for layer normalisation.
"""

from __future__ import annotations

import sympy as sp

from derive.layers.arrays import ArraySymbol, BatchSum, StatSum, count
from numeric.errors import BadInput

__all__ = [
    "HALF", "STAT_AXIS", "backward_forms", "beta", "centred", "chain_forms", "dbeta", "dgamma", "dmu", "dvar",
    "dx_hat", "dy", "dz", "eps", "forward_forms", "gamma", "inv_std", "mu", "statistics_axis", "var", "x_hat", "y",
    "z",
]

HALF = sp.Rational(1, 2)

# ----- the names of the block (each a whole array; per-unit and per-group ones broadcast) ---------------------------
z = ArraySymbol("z")
mu = ArraySymbol("mu")
centred = ArraySymbol("centred")
var = ArraySymbol("var")
inv_std = ArraySymbol("inv_std")
x_hat = ArraySymbol("x_hat")
y = ArraySymbol("y")
gamma = ArraySymbol("gamma")
beta = ArraySymbol("beta")
dy = ArraySymbol("dy")
dz = ArraySymbol("dz")
dgamma = ArraySymbol("dgamma")
dbeta = ArraySymbol("dbeta")
#: the staged quantities of the chain rule (dC/dx_hat, dC/dsigma^2, dC/dmu)
dx_hat = ArraySymbol("dx_hat")
dvar = ArraySymbol("dvar")
dmu = ArraySymbol("dmu")

eps = sp.Symbol("epsilon", positive=True)

#: the axis of a columns-layout block (units x samples) the statistics run over, as numeric.normalisation has it
STAT_AXIS = {"batchnorm": 1, "layernorm": 0}


def statistics_axis(kind: str) -> int:
    try:
        return STAT_AXIS[kind]
    except KeyError:
        raise BadInput(f"unknown normalisation kind {kind!r}; use one of {', '.join(STAT_AXIS)}") from None


def forward_forms(kind: str) -> list[tuple[ArraySymbol, sp.Expr]]:
    """The forward as named array forms, in order (the same for both kinds: only the StatSum axis differs)."""
    statistics_axis(kind)
    return [
        (mu, StatSum(z) / count),
        (centred, z - mu),
        (var, StatSum(centred**2) / count),
        (inv_std, (var + eps) ** -HALF),
        (x_hat, centred * inv_std),
        (y, gamma * x_hat + beta),
    ]


def chain_forms(kind: str) -> list[tuple[ArraySymbol, sp.Expr]]:
    """The backward the long way, by the chain rule through x_hat, sigma^2 and mu (what the derivation derives).

    dmu keeps its share through sigma^2 (-2 StatSum(centred) / N, which is 0 once mu is the mean): this is the
    result of the chain rule before that simplification.
    """
    statistics_axis(kind)
    return [
        (dx_hat, gamma * dy),
        (dvar, -HALF * StatSum(dx_hat * centred) * inv_std**3),
        (dmu, -StatSum(dx_hat) * inv_std + dvar * (-2 * StatSum(centred) / count)),
        (dz, dx_hat * inv_std + dvar * 2 * centred / count + dmu / count),
    ]


def backward_forms(kind: str) -> list[tuple[ArraySymbol, sp.Expr]]:
    """The compact backward in forward quantities only (gamma, inv_std, x_hat, dy, N): what kernels print.

    Batch normalisation: CS231n's form, gamma outside the sums (gamma is per unit, constant along the samples the
    sums run over). Layer normalisation: gamma varies along the units its sums run over, so it stays *inside* them
    (dx_hat = gamma dy is what is summed); CS231n's form with gamma outside is refuted for it (the derivation finds
    the counterexample). Proven equal to the chain-rule result by :func:`derive_normalisation` (``<kind>.dz.compact``).
    """
    if statistics_axis(kind) == 1:
        dz_form = gamma * inv_std / count * (count * dy - StatSum(dy) - x_hat * StatSum(dy * x_hat))
    else:
        dz_form = inv_std / count * (count * gamma * dy - StatSum(gamma * dy) - x_hat * StatSum(gamma * dy * x_hat))
    return [
        (dgamma, BatchSum(dy * x_hat)),
        (dbeta, BatchSum(dy)),
        (dz, dz_form),
    ]
