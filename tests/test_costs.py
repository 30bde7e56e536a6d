"""Every cost's derivative dC/da is derived in index form and equals the textbook form; bce from Bernoulli."""

import pytest
import sympy as sp

from derive.core.steps import Derivation
from derive.core.symbols import a, y
from derive.functions.costs import L, derive_cost, unit_j
from derive.functions.registry import COSTS as SYM_COSTS
from numeric.spec import COSTS


@pytest.mark.parametrize("name", list(COSTS))
def test_every_step_holds(name):
    result = derive_cost(name)
    assert result.derivation.holds, [s.label for s in result.derivation.failures()]


def test_bce_is_derived_from_the_bernoulli_likelihood():
    d = derive_cost("bce").derivation
    labels = [s.label for s in d]
    assert labels[:4] == ["bce.likelihood", "bce.nll", "bce.expand", "bce.textbook"]
    assert d["bce.expand"].kind == "derived" and d["bce.expand"].holds


def test_a_wrong_derivative_claim_is_refuted():
    result = derive_cost("bce")
    aj, yj = a[L, unit_j], y[unit_j]
    d = Derivation("planted")
    step = d.claim("wrong", sp.Symbol("dC"), (aj - yj) / aj, result.dC_da, "missing (1 - a)",
                   domain=result.domain())
    assert step.holds is False and step.check.counterexample


def test_claims_cover_every_cost():
    assert set(SYM_COSTS) == set(COSTS)
    assert all(entry.derivative_claim is not None for entry in SYM_COSTS.values())
