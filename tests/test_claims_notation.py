"""The notation layer: neural-network readings that latex2sympy2 gets wrong, relations, echo, round trip."""

import pytest
import sympy as sp

from derive.claims import l2s
from derive.claims.ir import Act, Had, ISum, Mat, Ones, Partial, Tr, index_symbol
from derive.claims.notation import Unparsed, echo, split_relation, understand, understand_equation
from derive.claims.textbook import CATALOG, round_trip
from derive.core.symbols import a, b, delta, w, y, z

l, j, k, i, L = (index_symbol(n) for n in "ljkiL")
C = sp.Symbol("C")


def M(name, *args):
    return Mat(sp.Symbol(name), *args)


@pytest.mark.parametrize(("tex", "expected"), [
    (r"a^{l-1}_k", a[l - 1, k]),  # an indexed name, not a power
    (r"a_k^{l-1}", a[l - 1, k]),
    (r"w^l_{jk}", w[l, j, k]),
    (r"w^{l+1}_{k,j}", w[l + 1, k, j]),
    (r"\delta^L_j", delta[L, j]),
    (r"b^2_1", b[2, 1]),
    (r"z^{l}", M("z", l)),
    (r"W^{[l]}", M("W", l)),
    (r"A^{[l-1]T}", Tr(M("A", l - 1))),  # ^T is a transpose, not dropped
    (r"W^{[l]\top}", Tr(M("W", l))),
    (r"(a^{l-1})^{\mathsf T}", Tr(M("a", l - 1))),
    (r"\left(w^{l+1}\right)^{\mathsf{T}}", Tr(M("w", l + 1))),
    (r"dZ^{[l](i)}", M("dZ", l, i)),  # layer in brackets, sample in parentheses
    (r"dW^{[2]}", M("dW", 2)),
    (r"\sigma'(z^l_j)", Act(z[l, j], 1)),  # ' is a derivative, not a transpose
    (r"\sigma^{\prime}(z^l_j)", Act(z[l, j], 1)),
    (r"g'(Z^{[l]})", Act(M("Z", l), 1)),
    (r"\frac{\partial C}{\partial w^l_{jk}}", Partial(C, w[l, j, k])),
    (r"\partial C / \partial b^l_j", Partial(C, b[l, j])),
    (r"\nabla_a C", Partial(C, M("a", L))),
    (r"\log(y_j)", sp.log(y[j])),  # natural, not base 10
    (r"\ln y_j", sp.log(y[j])),
    (r"\hat{y}_j", a[L, j]),
    (r"\Delta^l \mathbf{1}", M("Delta", l) * Ones()),
    (r"\mathbb{1}^T \Delta^l", Tr(Ones()) * M("Delta", l)),
])
def test_readings(tex, expected):
    assert understand(tex) == expected


def test_hadamard_binds_like_a_product_and_keeps_matrix_order():
    got = understand(r"((w^{l+1})^T \delta^{l+1}) \odot \sigma'(z^l)")
    assert got == Had(Tr(M("w", l + 1)) * M("delta", l + 1), Act(M("z", l), 1))
    assert understand(r"W^{[l]} A^{[l-1]}") != understand(r"A^{[l-1]} W^{[l]}")
    assert understand(r"\delta^L \circ \sigma'(z^L)") == Had(M("delta", L), Act(M("z", L), 1))


def test_sum_binds_the_whole_term_not_just_its_first_factor():
    got = understand(r"\sum_k w^{l+1}_{kj} \delta^{l+1}_k \sigma'(z^l_j) + b^l_j")
    assert got == ISum(w[l + 1, k, j] * delta[l + 1, k] * Act(z[l, j], 1), k) + b[l, j]
    assert understand(r"\frac{1}{m}\sum_{i=1}^{m} dZ^{[l](i)}") == \
        ISum(M("dZ", l, i), i) / sp.Symbol("m", integer=True, positive=True)


def test_bare_names_are_output_elements_in_scalar_claims_and_vectors_in_vector_claims():
    lhs, rhs = understand_equation(split_relation(r"\frac{\partial C}{\partial a} = \frac{a-y}{a(1-a)}"))
    assert lhs == Partial(C, a[L, j]) and rhs == (a[L, j] - y[j]) / (a[L, j] * (1 - a[L, j]))
    lhs, rhs = understand_equation(split_relation(r"\delta^L = a^L - y"))
    assert rhs == M("a", L) - M("y")


@pytest.mark.parametrize(("tex", "kind"), [
    (r"\delta^l_j \equiv \frac{\partial C}{\partial z^l_j}", "definition"),
    (r"x := y", "definition"),
    (r"a \coloneqq b", "definition"),
    (r"x \stackrel{def}{=} y", "definition"),
    (r"\eta \approx 0.1", "not checkable"),
    (r"a \to b", "not checkable"),
    (r"w \rightarrow w' = w - \eta \nabla C", "update rule"),
    (r"w \leftarrow w - \eta \frac{\partial C}{\partial w}", "update rule"),
    (r"a^L_j = \sigma(z^L_j)", "equation"),
    (r"\sigma(z)", "no relation"),
])
def test_relations_are_sorted_before_any_parsing(tex, kind):
    assert split_relation(tex).kind == kind


def test_prose_after_an_equation_is_cut_off_with_its_relations():
    rel = split_relation(r"\delta^l_j = \sum_k w^{l+1}_{kj} \delta^{l+1}_k \sigma'(z^l_j) \quad \text{for } l < L")
    assert rel.kind == "equation" and len(rel.sides) == 2


def test_unicode_from_copy_and_paste_is_read_as_the_commands():
    assert understand("∇_a C ⊙ σ′(z^L)") == Had(Partial(C, M("a", L)), Act(M("z", L), 1))
    assert understand("δ^L_j − y_j") == delta[L, j] - y[j]


def test_relations_inside_groups_do_not_split():
    rel = split_relation(r"f\left(\sum_{k=1}^{n} x\right) = g")
    assert rel.ops == ["="] and len(rel.sides) == 2


@pytest.mark.parametrize(("tex", "reason"), [
    (r"\input{/etc/passwd}", "unsupported command \\input"),
    (r"a^l_j + q", "unknown symbol 'q'"),
    (r"\sigma(z^l_j", "unbalanced"),
    (r"\|a^L - y\|", "a norm that is not squared"),
    (r"2^{1000}", "exponent"),
    (r"a^{l}_{jkq}", "unit index"),
])
def test_what_is_not_understood_says_why(tex, reason):
    with pytest.raises(Unparsed, match=None) as info:
        understand(tex)
    assert reason in info.value.reason


def test_echo_prints_what_was_understood_in_book_notation():
    assert echo(understand(r"\frac{\partial C}{\partial w^l_{jk}}")) == r"\frac{\partial C}{\partial w^{l}_{jk}}"
    assert echo(understand(r"A^{[l-1]T}")) == r"\left(A^{l - 1}\right)^{\mathsf{T}}"
    assert echo(understand(r"\sigma'(z^L_j)")) == r"\sigma'\left(z^{L}_{j}\right)"


@pytest.mark.parametrize("claim", CATALOG, ids=lambda c: c.name)
def test_round_trip_parse_print_parse_is_the_identity_on_the_catalog(claim):
    same, first, second = round_trip(claim.latex)
    assert same, (first, second)


def test_adapter_refuses_assignments_and_restores_latex2sympy2_global_state():
    mod = l2s.latex2sympy_module()
    before = (dict(mod.var), dict(mod.variances))
    for text in (r"x := 3", r"x \equiv 3", r"A \in \mathbb{R}^{2 \times 2}", r"x = y", r"\variable{x}"):
        with pytest.raises(l2s.ParseFailure):
            l2s.parse_side(text)
    # a differential replaces latex2sympy2's global `var` table by a Symbol; the adapter puts it back
    l2s.parse_side("dZ")
    assert (dict(mod.var), dict(mod.variances)) == before
    assert str(l2s.parse_side("x + 1")) == "x + 1"
