"""Verdicts against the derivation: correct equations proven, planted mistakes refuted with the right diagnosis,
garbled ones unparsed (never refuted), dZ ambiguous without a convention."""

from pathlib import Path

import pytest
import sympy as sp

from derive.claims import check_equation, check_text
from derive.claims.extract import read_document
from derive.claims.ir import Act, ISum, Partial, index_symbol
from derive.claims.semantics import Context, context_from_directive, instance_spec
from derive.claims.verdicts import batch_size, free_indices, judge
from derive.core.symbols import a, delta, w, z
from numeric.spec import ModelSpec

DATA = Path(__file__).parent / "data" / "claims"


@pytest.fixture(scope="module")
def homework():
    text, kind = read_document(DATA / "homework.tex")
    return {r.tag: r for r in check_text(text, kind, timeout=None).rows}


@pytest.mark.parametrize(("tag", "slip"), [
    ("1b", "sign"),
    ("2a", "missing sigma'"),
    ("2b", "swapped index"),
    ("2c", "swapped index"),
    ("3a", "transpose"),
    ("3c", "missing 1/m"),
    ("3d", "stray 1/m"),
    ("3e", "factor 2"),
])
def test_each_planted_mistake_is_refuted_with_its_diagnosis(homework, tag, slip):
    row = homework[tag]
    assert row.verdict == "refuted", row.reason
    assert row.diagnosis.startswith(slip), row.diagnosis


@pytest.mark.parametrize("tag", ["1a", "1c", "3b"])
def test_correct_homework_equations_are_proven(homework, tag):
    assert homework[tag].verdict == "proven", homework[tag].reason


@pytest.mark.parametrize("tag", ["4a", "4b", "4c"])
def test_garbled_equations_are_unparsed_never_refuted(homework, tag):
    assert homework[tag].verdict == "unparsed"
    assert homework[tag].understood is None


def test_dz_without_a_convention_is_ambiguous_and_says_both_readings(homework):
    row = homework["3f"]
    assert row.verdict == "ambiguous"
    assert "per-sample" in row.reason and "1/m" in row.reason


def test_course_convention_makes_the_course_notes_forms_hold():
    ctx = context_from_directive("net=2-3-1 act=sigmoid cost=bce convention=course")
    for tex in (r"dW^{[l]} = \frac{1}{m} dZ^{[l]} A^{[l-1]T}", r"dA^{[l-1]} = W^{[l]T} dZ^{[l]}",
                r"dZ^{[l]} = W^{[l+1]T} dZ^{[l+1]} * g'^{[l]}(Z^{[l]})",  # * is element-wise in course notes
                r"Z^{[l]} = W^{[l]} A^{[l-1]} + b^{[l]}"):  # the bias is broadcast over the batch
        assert check_equation(tex, ctx)["verdict"] == "proven"


def test_rows_layout_transposes_the_batch_forms():
    rows = context_from_directive("net=2-3-1 act=sigmoid cost=bce layout=rows convention=course")
    cols = context_from_directive("net=2-3-1 act=sigmoid cost=bce layout=columns convention=course")
    tex = r"dW^{[l]} = \frac{1}{m} A^{[l-1]T} dZ^{[l]}"
    assert check_equation(tex, rows)["verdict"] == "proven"
    got = check_equation(tex, cols)
    assert got["verdict"] == "refuted" and got["diagnosis"].startswith("order")


def test_the_design_notes_bias_gradient_with_the_ones_vector_in_both_layouts():
    cols = context_from_directive("net=2-3-1 act=sigmoid cost=bce")
    rows = context_from_directive("net=2-3-1 act=sigmoid cost=bce layout=rows")
    got = check_equation(r"\frac{\partial C}{\partial b^{[l]}} = \frac{1}{m} \Delta^{l} \mathbf{1}", cols)
    assert got["verdict"] == "proven"
    got = check_equation(r"\frac{\partial C}{\partial b^{[l]}} = \frac{1}{m} \mathbf{1}^{\mathsf T} \Delta^{l}", rows)
    assert got["verdict"] == "proven" and got["understood"].endswith(r"\mathbf{1}^{\mathsf{T}} \Delta^{l}}{m}")


def test_blog_post_bp1_to_bp4_are_proven_and_the_definition_is_a_definition():
    text, kind = read_document(DATA / "blog_post.md")
    rows = check_text(text, kind, timeout=None).rows
    by_tag = {r.tag: r for r in rows if r.tag}
    assert {t: r.verdict for t, r in by_tag.items()} == {t: "proven" for t in ("BP1", "BP2", "BP3", "BP4")}
    assert rows[0].verdict == "definition" and r"\equiv" in rows[0].understood
    assert [r.verdict for r in rows if "eta" in r.latex] == ["not checkable"]
    assert all(r.verdict != "refuted" for r in rows)


def test_lecture_notes_all_hold_and_align_continuations_use_the_row_above():
    text, kind = read_document(DATA / "lecture_notes.tex")
    rows = check_text(text, kind, timeout=None).rows
    assert {r.verdict for r in rows} == {"proven", "definition", "not checkable"}
    chain = next(r for r in rows if r.tag == "chain")
    assert r"\frac{\partial C}{\partial a^{L}_{j}}" in chain.understood and "a^{L}_{j} - y_{j}" in chain.understood


def test_a_claim_without_a_value_on_the_model_is_not_checkable_not_refuted():
    ctx = Context(ModelSpec.build("2-3-3", "relu,softmax", "cce"))
    got = check_equation(r"\delta^L_j = \frac{\partial C}{\partial a^L_j} \sigma'(z^L_j)", ctx)
    assert got["verdict"] == "not checkable" and "softmax" in got["reason"]


def test_free_indices_range_over_every_valid_value_and_bp2_stops_before_the_output_layer():
    l, j, k = (index_symbol(n) for n in "ljk")
    rhs = a[l - 1, k] * delta[l, j]
    assert free_indices(rhs) == {l, j, k}
    assert free_indices(ISum(w[l + 1, k, j] * delta[l + 1, k], k)) == {l, j}
    v = judge(Partial(sp.Symbol("C"), w[l, j, k]), rhs, Context())
    # the default 2-3-4 instance: layer 1 has 3 x 2 weights, layer 2 has 4 x 3: 18 index values
    assert v.verdict == "proven" and "18 index value(s) of j, k, l" in v.method
    bp2 = judge(delta[l, j], ISum(w[l + 1, k, j] * delta[l + 1, k] * Act(z[l, j], 1), k), Context())
    assert bp2.verdict == "proven" and "3 index value(s) of j, l" in bp2.method  # l = 1 only, j = 1..3


def test_rational_models_are_checked_in_exact_arithmetic():
    ctx = context_from_directive("net=2-3 act=identity cost=quadratic")
    got = check_equation(r"\frac{\partial C}{\partial w^l_{jk}} = a^{l-1}_k \delta^l_j", ctx)
    assert got["verdict"] == "proven" and got["method"].startswith("exact")


def test_a_cost_definition_is_a_definition_compared_with_the_models_cost():
    bce = context_from_directive("net=2-3-1 act=sigmoid cost=bce")
    same = check_equation(r"C = -\left[y \ln a + (1-y)\ln(1-a)\right]", bce)
    assert same["verdict"] == "definition" and "the model's bce cost" in same["reason"]
    other = check_equation(r"C = \frac{1}{2}\sum_j (y_j - a^L_j)^2", bce)
    # the document's own cost wins: the quadratic cost is adopted for the rows after it
    assert other["verdict"] == "definition" and "the quadratic cost" in other["reason"]
    assert other["adopt"]["cost"] == "quadratic"


def test_a_value_that_is_not_real_makes_the_claim_not_checkable():
    got = check_equation(r"\ln(a^L_j - 5) = \ln(a^L_j - 5)", Context())
    assert got["verdict"] == "not checkable" and "not a real number" in got["reason"]


def test_instance_widths_and_the_batch_size_all_differ_so_no_product_fits_by_accident():
    assert instance_spec(ModelSpec.build("784-30-10", "sigmoid", "quadratic")).sizes == (2, 3, 4)
    assert instance_spec(ModelSpec.build("784-100-10", "relu,softmax", "cce")).sizes == (2, 3, 4)
    assert instance_spec(ModelSpec.build("784-100-50-10", "relu,relu,sigmoid", "bce")).sizes == (2, 3, 4, 5)
    context = context_from_directive("net=784-30-10 act=sigmoid cost=quadratic")
    assert batch_size(context) == 5 and batch_size(context_from_directive("net=8-8-1 cost=bce")) == 4
