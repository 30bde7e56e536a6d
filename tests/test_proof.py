"""prove_equal: symbolic proofs, exact and high-precision evidence, counterexamples, undecided cases."""

import sympy as sp

from derive.core.proof import Check, Strength, prove_equal

z, x = sp.symbols("z x", real=True)
s = 1 / (1 + sp.exp(-z))


def test_true_identity_is_proven_symbolically_and_cross_checked():
    check = prove_equal(sp.diff(s, z), s * (1 - s))
    assert check.holds is True and check.proven
    assert check.method.startswith("symbolic") and "cross-checked" in check.detail


def test_false_identity_gives_a_counterexample_with_both_sides():
    check = prove_equal(sp.diff(s, z), s * (1 + s))
    assert check.holds is False
    ce = check.counterexample
    assert set(ce) == {"z", "lhs", "rhs"} and float(ce["lhs"]) != float(ce["rhs"])


def test_tiny_difference_is_not_swallowed_by_tolerance():
    check = prove_equal((x**2 - 1) / (x - 1) + sp.Rational(1, 10**12), x + 1)
    assert check.holds is False


def test_piecewise_identity_is_numerical_evidence_not_a_proof():
    check = prove_equal(sp.Heaviside(z, 0), sp.Piecewise((1, z > 0), (0, True)))
    assert check.holds is True and not check.proven and check.method.startswith("numeric")


def test_rational_identity_without_simplification_counts_as_exact():
    # Random rational points decide polynomial identities (Schwartz-Zippel).
    check = prove_equal(sp.expand((x + 1) ** 6), (x + 1) ** 6)
    assert check.holds is True and check.proven


def test_undefined_functions_are_undecided_unless_symbolic():
    f = sp.Function("f")
    assert prove_equal(sp.diff(f(2 * z), z), 2 * sp.Subs(sp.Derivative(f(x), x), x, 2 * z)).holds is True
    assert prove_equal(f(z), f(z) + sp.sin(z) ** 2 + sp.cos(z) ** 2 - 1).holds in (True, None)
    assert prove_equal(f(z), 2 * f(z)).holds is None


def test_domain_keeps_logs_real():
    a = sp.Symbol("a")
    check = prove_equal(sp.log(a) + sp.log(1 - a), sp.log(a * (1 - a)), domain={a: (0.01, 0.99)})
    assert check.holds is True


def test_prove_equal_sets_a_typed_strength_and_proven_reads_it():
    s = 1 / (1 + sp.exp(-z))
    assert prove_equal(sp.diff(s, z), s * (1 - s)).strength is Strength.SYMBOLIC
    assert prove_equal(sp.expand((x + 1) ** 6), (x + 1) ** 6).strength in (Strength.SYMBOLIC, Strength.EXACT)
    numeric = prove_equal(sp.Heaviside(z, 0), sp.Piecewise((1, z > 0), (0, True)))
    assert numeric.strength is Strength.NUMERIC and not numeric.proven
    # the method text does not decide once the strength is set
    assert not Check(True, "symbolic: looks like it", strength=Strength.NUMERIC).proven


def test_a_hand_built_check_infers_its_strength_once_from_the_method():
    assert Check(True, "symbolic: by hand").strength is Strength.SYMBOLIC and Check(True, "symbolic: x").proven
    assert Check(True, "exact central difference").strength is Strength.EXACT
    assert Check(True, "every j = 1..3").strength is Strength.NUMERIC and not Check(True, "every j").proven
    assert not Check(None, "symbolic only (undefined functions)").proven
