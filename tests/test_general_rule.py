"""The all-widths derivation: one axiom, everything else computed; planted wrong claims fail with a counterexample."""

import sympy as sp

from derive.backprop.general_rule import L, dC, derive_general_rule, j, k, l, n_next, sigma_prime
from derive.core.symbols import a, delta, w, z


def test_bp1_to_bp4_hold_for_every_width():
    d = derive_general_rule()
    assert d.holds, [s.label for s in d.failures()]
    for label in ("BP1", "BP1a", "BP2", "BP3", "BP4"):
        assert d[label].kind == "claim" and d[label].holds
    for label in ("BP1", "BP2", "BP3", "BP4"):
        assert d[label].check.method.startswith("symbolic: equal for all widths")


def test_the_chain_rule_is_the_only_axiom():
    d = derive_general_rule()
    assert [s.label for s in d if s.kind == "axiom"] == ["chain"]


def test_local_derivatives_are_computed_not_typed():
    d = derive_general_rule()
    assert d["dz_next_dz"].rhs == w[l + 1, k, j] * sigma_prime(z[l, j])
    assert d["dz_dw"].rhs.has(sp.KroneckerDelta) and d["dz_dw"].holds
    assert d["BP4.collapse"].rhs == a[l - 1, k] * delta[l, j]


def test_bp4_without_the_activation_is_refuted():
    d = derive_general_rule({"BP4": delta[l, j]})
    step = d["BP4"]
    assert step.holds is False and step.check.counterexample
    assert d["BP2"].holds and not d.holds


def test_bp2_without_the_transpose_is_refuted_at_non_square_widths():
    wrong = sp.Sum(w[l + 1, j, k] * delta[l + 1, k], (k, 1, n_next)) * sigma_prime(z[l, j])
    step = derive_general_rule({"BP2": wrong})["BP2"]
    assert step.holds is False
    ce = step.check.counterexample
    assert ce["n_l"] != ce["n_(l+1)"]


def test_bp1_without_sigma_prime_is_refuted():
    step = derive_general_rule({"BP1": dC(a[L, j])})["BP1"]
    assert step.holds is False and "lhs" in step.check.counterexample
