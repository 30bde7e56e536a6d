"""``bpv check`` past the dense layer: directives for L2, dropout and normalisation, true values with an L2 term, the
block catalog proven, planted slips refuted with their diagnosis, claims on models that are not composed unproven."""

import pytest
import sympy as sp

from derive.claims import check_equation, check_text
from derive.claims.semantics import context_from_directive
from derive.claims.textbook import BLOCK_CATALOG
from derive.claims.verdicts import batch_size, instance, judge
from derive.core.symbols import b, w
from numeric.errors import BadInput

L2 = "net=2-3-2 act=sigmoid cost=quadratic l2=5 l2_n=50"
L2_BATCH = "net=2-2-1 act=identity cost=quadratic l2=3"  # n = the batch size; exact arithmetic
L2_EXACT = "net=2-2-1 act=identity cost=quadratic l2=5 l2_n=50"
DROPOUT = "net=2-3-1 act=relu,sigmoid cost=bce keep_prob=0.8"
BATCHNORM = "net=2-3-1 act=relu,sigmoid cost=bce norm=batch"
LAYERNORM = "net=2-3-1 act=relu,sigmoid cost=bce norm=layer"
BP4 = r"\frac{\partial C}{\partial w^l_{jk}} = a^{l-1}_k \delta^l_j"
BP3 = r"\frac{\partial C}{\partial b^l_j} = \delta^l_j"
DX = (r"dx = \frac{1}{m} \gamma (\sigma^2 + \epsilon)^{-1/2} \left(m\, dy - \sum_i dy_i - \hat{x} \sum_i dy_i "
      r"\hat{x}_i\right)")


def check(latex: str, directive: str) -> dict:
    return check_equation(latex, context_from_directive(directive))


# ----- directives ------------------------------------------------------------------------------------------------
def test_directive_builds_the_model_with_the_blocks():
    spec = context_from_directive("net=2-3-1 act=relu,sigmoid cost=bce l2=5 l2-n=50 keep_prob=0.8 norm=batch").spec
    assert (spec.l2, spec.l2_n, spec.keep_prob, spec.norm) == (5.0, 50, 0.8, "batch")
    assert spec.layers[0].norm is not None and spec.layers[0].dropout is not None and spec.layers[1].norm is None


def test_a_directive_without_net_keeps_the_blocks_and_one_with_net_declares_a_new_model():
    ctx = context_from_directive(DROPOUT)
    ctx = context_from_directive("l2=2", ctx)
    assert (ctx.spec.keep_prob, ctx.spec.l2) == (0.8, 2.0)
    assert context_from_directive("keep_prob=none l2=none", ctx).spec.plain
    assert context_from_directive("net=2-3-1 act=sigmoid cost=bce", ctx).spec.plain


@pytest.mark.parametrize(("directive", "message"), [
    ("net=2-3-1 l2=abc", "l2='abc' is not a number"),
    ("net=2-3-1 l2=5 l2_n=2.5", "positive integer"),
    ("net=2-3-1 l2=-1", "must be >= 0"),
    ("net=2-3-1 l2_n=50", "without --l2"),
    ("net=2-3-1 keep_prob=1.5", "(0, 1]"),
    ("net=2-3-1 norm=group", "unknown --norm 'group'"),
    ("net=2-1 norm=batch", "has none"),
])
def test_bad_block_values_are_bad_input_with_the_reason(directive, message):
    with pytest.raises(BadInput, match=None) as err:
        context_from_directive(directive)
    assert message in str(err.value) and "bpv directive" in str(err.value)


# ----- true values with an L2 term -----------------------------------------------------------------------------
def test_the_gradient_of_a_weight_gains_lambda_over_n_w_and_biases_do_not():
    ctx = context_from_directive(L2_BATCH)
    m = batch_size(ctx)
    inst, plain = instance(ctx, m), instance(context_from_directive("net=2-2-1 act=identity cost=quadratic"), m)
    assert inst is not plain  # instances of models with different blocks are not shared
    weight, bias = w[2, 1, 2], b[2, 1]
    assert inst.dC(0, weight) == plain.dC(0, weight) + sp.Rational(3, m) * inst.param(0, weight)
    assert inst.dC(0, bias) == plain.dC(0, bias)
    total = sum(inst.param(0, v) ** 2 for v in inst.weights())
    assert inst.cost(0) == plain.cost(0) + sp.Rational(3, 2 * m) * total


def test_bp4_is_refuted_with_an_l2_term_and_bp3_still_holds():
    assert check(BP4, "net=2-2-1 act=identity cost=quadratic")["verdict"] == "proven"
    assert check(BP4, L2_EXACT)["verdict"] == "refuted"
    assert check(BP3, L2_EXACT)["verdict"] == "proven"


# ----- the block catalog ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("claim", BLOCK_CATALOG, ids=lambda c: c.name)
def test_every_block_catalog_claim_is_proven(claim):
    row = check(claim.latex, claim.context)
    assert row["verdict"] == "proven", row
    assert row["strength"] in ("symbolic", "exact", "numeric")


def test_forms_the_layer_modules_prove_for_every_size_are_proven_symbolically():
    for name in ("L2-dw", "L2-update", "dropout-dA", "BN-dx"):
        claim = next(c for c in BLOCK_CATALOG if c.name == name)
        assert check(claim.latex, claim.context)["strength"] == "symbolic", name


# ----- planted slips --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("latex", "directive", "slip"), [
    (r"\frac{\partial C}{\partial w} = \frac{\partial C_0}{\partial w} + \lambda w", L2, "missing factor 1/n"),
    (r"\frac{\partial C}{\partial w} = \frac{\partial C_0}{\partial w} + \lambda w", L2_BATCH, "missing factor 1/n"),
    (r"w \rightarrow (1 - \eta \lambda) w - \eta \frac{\partial C_0}{\partial w}", L2, "missing factor 1/n"),
    (r"w \rightarrow w - \eta \frac{\partial C_0}{\partial w}", L2, "missing L2 term"),
    (r"\frac{\partial C}{\partial w} = \frac{\partial C_0}{\partial w} + \frac{\lambda}{2n} w", L2, "factor 2"),
    (r"\frac{\partial C}{\partial b} = \frac{\partial C_0}{\partial b} + \frac{\lambda}{n} b", L2, "the L2 term does"),
    (r"dA = dOut * M", DROPOUT, "missing factor 1/p"),
    (r"dA = dOut / p", DROPOUT, "missing mask"),
    (r"dx = \frac{1}{m} \gamma (\sigma^2 + \epsilon)^{-1/2} \left(m\, dy - \hat{x} \sum_i dy_i \hat{x}_i\right)",
     BATCHNORM, "missing the mean term"),
    (r"dx = \frac{1}{m} \gamma (\sigma^2)^{-1/2} \left(m\, dy - \sum_i dy_i - \hat{x} \sum_i dy_i \hat{x}_i\right)",
     BATCHNORM, "missing epsilon"),
    (r"d\gamma = dy \hat{x}", BATCHNORM, "missing the sum"),
])
def test_planted_slips_are_refuted_with_their_diagnosis_and_a_repair_that_holds(latex, directive, slip):
    row = check(latex, directive)
    assert row["verdict"] == "refuted", row
    assert row["diagnosis"].startswith(slip), row["diagnosis"]
    assert check(row["repair"], directive)["verdict"] == "proven", row["repair"]  # the repair reads back and holds


def test_cs231n_compact_dx_is_refuted_for_layer_norm_and_its_own_form_proven():
    # gamma varies along the units layer normalisation sums over: it cannot come out of the sums
    row = check(DX.replace(r"\sum_i", r"\sum_j").replace("dy_i", "dy_j").replace(r"\hat{x}_i", r"\hat{x}_j"),
                LAYERNORM)
    assert row["verdict"] == "refuted" and row["diagnosis"].startswith("gamma outside the sums")
    inside = (r"dx = \frac{1}{N} (\sigma^2 + \epsilon)^{-1/2} \left(N \gamma dy - \sum_j \gamma dy_j - \hat{x} "
              r"\sum_j \gamma dy_j \hat{x}_j\right)")
    assert check(inside, LAYERNORM)["verdict"] == "proven"
    assert check(r"d\gamma = \sum_i dy_i \hat{x}_i", LAYERNORM)["verdict"] == "proven"


# ----- what is not evaluated stays unproven ---------------------------------------------------------------------
@pytest.mark.parametrize("directive", [BATCHNORM, DROPOUT])
def test_whole_network_claims_on_a_model_with_normalisation_or_dropout_are_not_checkable(directive):
    for latex in (BP4, r"\delta^L = a^L - y", r"\sigma'(z) = \sigma(z)(1 - \sigma(z))"):
        row = check(latex, directive)
        assert row["verdict"] == "not checkable", row
        assert "does not compose" in row["reason"]


def test_block_names_of_a_block_the_model_lacks_are_unparsed_with_the_directive_to_give():
    row = check(r"dA = dOut * M / p", L2)
    assert row["verdict"] == "unparsed" and "keep_prob=P" in row["reason"]
    row = check(r"\frac{\partial C}{\partial w} = \frac{\partial C_0}{\partial w} + \frac{\lambda}{n} w",
                DROPOUT)
    assert row["verdict"] == "unparsed" and "l2=LAMBDA" in row["reason"]


def test_a_document_with_block_directives_is_checked_row_by_row():
    text = "\n".join([
        "<!-- bpv: " + L2 + " -->", r"$$ \frac{\partial C}{\partial w} = \frac{\partial C_0}{\partial w} + "
        r"\frac{\lambda}{n} w $$", "",
        "<!-- bpv: " + BATCHNORM + " -->", "$$ " + DX + " $$", "", r"$$ \delta^L = a^L - y $$", ""])
    rows = check_text(text, "md", timeout=None).rows
    assert [r.verdict for r in rows] == ["proven", "proven", "not checkable"]


def test_plain_claims_judged_directly_are_not_checkable_on_a_model_with_normalisation():
    from derive.claims.notation import split_relation, understand_equation

    lhs, rhs = understand_equation(split_relation(r"\delta^L = a^L - y"))
    verdict = judge(lhs, rhs, context_from_directive(BATCHNORM))
    assert verdict.verdict == "not checkable"


# ----- L2 in the dense notation, the cost's definition, the forward definitions of the blocks -------------------
COURSE_L2 = "net=2-2-1 act=identity cost=quadratic reduction=mean convention=course l2=0.7"
DW = r"dW^{[l]} = \frac{1}{m} dZ^{[l]} A^{[l-1]T}"


@pytest.mark.parametrize(("latex", "directive", "verdict", "slip"), [
    (DW + r" + \frac{\lambda}{m} W^{[l]}", COURSE_L2, "proven", None),  # n = the batch size: lambda/m
    (DW + r" + \lambda W^{[l]}", COURSE_L2, "refuted", "missing factor 1/n"),
    (DW, COURSE_L2, "refuted", "missing L2 term"),
    (DW + r" + \frac{\lambda}{m} W^{[l]}", COURSE_L2 + " l2_n=50", "refuted", "1/m instead of 1/n"),
    (BP4, L2_EXACT, "refuted", "missing L2 term"),
    (BP4 + r" + \frac{\lambda}{n} w^l_{jk}", L2_EXACT, "proven", None),
])
def test_l2_in_the_dense_notation(latex, directive, verdict, slip):
    row = check(latex, directive)
    assert row["verdict"] == verdict, row
    if slip:
        assert row["diagnosis"].startswith(slip), row["diagnosis"]


@pytest.mark.parametrize(("latex", "verdict", "slip"), [
    (r"C = C_0 + \frac{\lambda}{2n} \sum_w w^2", "definition", None),
    (r"C = C_0 + \frac{\lambda}{2n} \|w\|^2", "definition", None),
    (r"C = C_0 + \frac{\lambda}{n} \sum_w w^2", "refuted", "factor 2 in the L2 term"),
    (r"C = C_0 + \frac{\lambda}{2} \sum_w w^2", "refuted", "missing factor 1/n"),
])
def test_the_regularised_cost_definition_is_checked_against_the_model(latex, verdict, slip):
    row = check(latex, L2)
    assert row["verdict"] == verdict, row
    if slip:
        assert row["diagnosis"].startswith(slip)


@pytest.mark.parametrize(("latex", "directive", "verdict"), [
    (r"\hat{x}_i = \frac{x_i - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}}", BATCHNORM, "proven"),
    (r"\mu = \frac{1}{m} \sum_i x_i", BATCHNORM, "proven"),
    (r"\sigma^2 = \frac{1}{m} \sum_i (x_i - \mu)^2", BATCHNORM, "proven"),
    (r"\sigma^2 = \frac{1}{m-1} \sum_i (x_i - \mu)^2", BATCHNORM, "refuted"),
    (r"y_i = \gamma \hat{x}_i + \beta", BATCHNORM, "proven"),
    (r"\frac{\partial C}{\partial \gamma} = \sum_i \frac{\partial C}{\partial y_i} \hat{x}_i", BATCHNORM, "proven"),
    (r"\tilde{a} = a * M / p", DROPOUT, "proven"),
    (r"b \rightarrow b - \eta \frac{\partial C_0}{\partial b}", L2, "proven"),
])
def test_the_blocks_forward_definitions_and_the_bias_update(latex, directive, verdict):
    assert check(latex, directive)["verdict"] == verdict
