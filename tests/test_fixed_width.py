"""SymPy's own chain rule at fixed widths yields BP1-BP4 for every unit; wrong forms get a concrete counterexample."""

import sympy as sp

from derive.backprop.fixed_width import canonical, compose_layer, derive_fixed_width, fragments, l_sym, sigma_prime
from derive.core.symbols import w
from numeric.spec import ModelSpec

SPEC = ModelSpec.build("2-3-2", "sigmoid", "quadratic")


def test_bp1_to_bp4_hold_exhaustively_at_2_3_2():
    d = derive_fixed_width(SPEC)
    assert d.holds, [s.label for s in d.failures()]
    assert [s.label for s in d if s.kind == "claim"] == ["fixed.BP1", "fixed.BP2", "fixed.BP3", "fixed.BP4"]
    assert "all 12 cases" in d["fixed.BP4"].check.method  # 3*2 + 2*3 weights
    assert not any(s.kind == "axiom" for s in d)


def test_no_bias_net_has_no_bp3_and_still_holds():
    d = derive_fixed_width(ModelSpec.build("3-2-2", "relu,identity", "squared", "sum", "rows", bias=False))
    assert d.holds and "fixed.BP3" not in [s.label for s in d]


def test_widths_are_capped():
    d = derive_fixed_width(ModelSpec.build("5-4-2", "sigmoid", "quadratic"), cap=2)
    assert "widths 2-2-2" in d.title and d.holds


def test_canonical_renames_sympys_subs_form_of_dC_da():
    x = sp.Symbol("x")
    delta_1 = sp.diff(sp.Function("C")(sp.Function("sigma")(2 * x)), x)  # SymPy's own undefined C and sigma
    assert delta_1.has(sp.Subs)
    renamed = canonical(delta_1)
    assert not renamed.has(sp.Subs) and renamed.has(sp.Function("C_1"))


def test_one_fragment_per_width_pattern_and_linear_in_depth():
    patterns = fragments((2,) * 16 + (1,))
    assert patterns == {(2, 2, 2): list(range(1, 15)), (2, 2, 1): [15], (2, 1, None): [16]}
    d = derive_fixed_width(ModelSpec.build("-".join(["2"] * 16 + ["1"]), "sigmoid", "quadratic"), cap=2)
    assert d.holds and "all 62 cases" in d["fixed.BP4"].check.method  # 15 layers of 2x2 weights, the output 2


def test_the_fragment_is_the_chain_rule_through_the_next_layer():
    frag = compose_layer((1, 1, 1))
    # delta^l_1 = G_1(z^(l+1)) w^(l+1)_11 sigma'(z^l_1): SymPy's chain rule, G the rest of the network
    assert frag.d_eps[(l_sym, 1)] == frag.d_eps[(l_sym + 1, 1)] * w[l_sym + 1, 1, 1] * sigma_prime(frag.z[l_sym][0])


def test_bp4_without_the_activation_is_refuted():
    d = derive_fixed_width(SPEC, claims={"BP4": lambda net, l, j, k: net.d_eps[(l, j)]})
    step = d["fixed.BP4"]
    assert step.holds is False and "sigma(t)" in step.check.counterexample


def test_bp2_without_the_transpose_is_refuted_on_non_square_w():
    def no_transpose(net, l, j, k):
        total = sp.Add(*[w[l + 1, j, kk] * net.d_eps[(l + 1, kk)] for kk in range(1, net.sizes[l + 1] + 1)])
        return total * sigma_prime(net.z[l][j - 1])

    step = derive_fixed_width(SPEC, claims={"BP2": no_transpose})["fixed.BP2"]
    assert step.holds is False and step.check.counterexample["l"] == "1"


def test_bp1_without_sigma_prime_is_refuted():
    step = derive_fixed_width(SPEC, claims={"BP1": lambda net, l, j, k: net.dC_da[j - 1]})["fixed.BP1"]
    assert step.holds is False and "lhs" in step.check.counterexample
