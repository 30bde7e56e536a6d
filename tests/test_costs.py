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


def test_the_bce_log_rule_step_is_proven_symbolically_under_its_domain():
    """Issue 18: ln((1 - a)^(1 - y) a^y) = (1 - y) ln(1 - a) + y ln a is a proof for 0 < a < 1, not evidence."""
    from derive.core.proof import Strength

    check = derive_cost("bce").derivation["bce.expand"].check
    assert check.holds is True and check.strength is Strength.SYMBOLIC and check.proven
    assert "a > 0" in check.method and "1 - a > 0" in check.method and "0 < a < 1" in check.detail
    assert check.method.isascii() and check.detail.isascii()  # it reaches generated kernel headers


def test_the_log_rule_check_refutes_a_wrong_expansion():
    from derive.functions.costs import _log_rule_check

    ak, yk = a[L, sp.Symbol("k")], y[sp.Symbol("k")]
    nll = -sp.log(ak**yk * (1 - ak) ** (1 - yk))
    wrong = -yk * sp.log(1 - ak) - (1 - yk) * sp.log(ak)  # a and 1 - a swapped
    check = _log_rule_check(nll, wrong, ak, yk, {ak: (0.05, 0.95), yk: (0.0, 1.0)})
    assert check.holds is False and check.counterexample
