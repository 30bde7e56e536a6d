"""The batch matrix forms: derived element-wise for both reductions and layouts, and planted wrong claims refuted."""

import pytest
import sympy as sp

from derive.backprop.batch import (
    Fn,
    MatrixName,
    Names,
    check_claim,
    derive_batch_forms,
    derive_error_form,
    derive_gradient_form,
    m,
)
from derive.core.book import book_latex
from derive.core.steps import Role
from numeric.catalog import CATALOG
from numeric.spec import ModelSpec

ISSUE_MODELS = [
    ModelSpec.build("2-3-2", "sigmoid", "quadratic"),
    ModelSpec.build("3-30-10-3-1", "sigmoid,sigmoid,relu,identity", "mse"),
    ModelSpec.build("4-5-3", "relu,softmax", "cce"),
    ModelSpec.build("4-3-1", "sigmoid", "bce"),
    ModelSpec.build("4-5-3", "relu,identity", "squared", reduction="sum", layout="rows", bias=False),
    ModelSpec.build("3-4-2", "tanh,sigmoid", "bce", reduction="sum", layout="columns"),
    ModelSpec.build("3-4-3", "elu,softmax", "cce", reduction="mean", layout="rows"),
    ModelSpec.build("3-4-3", "tanh,softmax", "quadratic", reduction="sum"),
]


@pytest.mark.parametrize("spec", ISSUE_MODELS + list(CATALOG.values()), ids=lambda s: s.slug)
def test_every_batch_form_holds_element_wise(spec):
    forms = derive_batch_forms(spec)
    assert forms.holds, [(s.label, s.check) for s in forms.derivation.failures()]
    derived = [s for s in forms.derivation if s.kind == "derived"]
    assert all(s.check.method.startswith("element-wise") for s in derived)
    assert len(forms.layers) == spec.L


def test_the_gradient_forms_are_derived_in_index_form_with_the_one_over_m_kept():
    # SymPy's array-to-matrix converter drops scalar factors: the 1/m must survive the reading
    N = Names("columns")
    index_form, form = derive_gradient_form(N, 2, "W", True, 1 / m)
    assert index_form.has(sp.Sum) and form == (1 / m) * N.Delta(2) * N.A(1).T
    assert derive_gradient_form(N, 2, "b", True, 1 / m)[1] == (1 / m) * N.Delta(2) * sp.OneMatrix(m, 1)
    rows = Names("rows")
    assert derive_gradient_form(rows, 1, "W", False, 1)[1] == rows.A(0).T * rows.Delta(1)
    assert derive_gradient_form(rows, 1, "b", True, 1)[1] == sp.OneMatrix(1, m) * rows.Delta(1)


def test_the_error_recursion_is_derived_as_a_hadamard_product_in_both_layouts():
    cols, rows = Names("columns"), Names("rows")
    assert derive_error_form(cols, 1, True, cols.Delta(2))[1] == sp.HadamardProduct(
        cols.W(2).T * cols.Delta(2), derive_batch_forms(ISSUE_MODELS[0]).layers[1].Delta.args[1])
    form = derive_error_form(rows, 1, False, rows.Delta(2))[1]
    assert isinstance(form, sp.HadamardProduct) and form.args[0] == rows.Delta(2) * rows.W(2).T


def test_every_textbook_form_is_a_claim_that_matches_the_derived_one():
    forms = derive_batch_forms(ModelSpec.build("4-5-3", "relu,softmax", "cce", layout="rows"))
    claims = [s for s in forms.derivation if s.kind == "claim"]
    assert claims and all(s.holds for s in claims)
    assert {s.label for s in claims} >= {"batch.nabla_W1.textbook", "batch.Delta1.textbook"}


def test_the_columns_mean_forms_are_the_textbook_ones():
    spec = ModelSpec.build("2-3-2", "sigmoid", "quadratic")
    forms = derive_batch_forms(spec)
    N = Names("columns")
    assert forms.layers[2].nabla_W == (1 / m) * N.Delta(2) * N.A(1).T
    assert forms.layers[2].nabla_b == (1 / m) * N.Delta(2) * sp.OneMatrix(m, 1)
    tex = book_latex(forms.derivation["batch.Delta1"].rhs)
    assert "\\odot" in tex and "\\mathsf{T}" in tex and "\\Delta^{2}" in tex


def test_the_rows_forms_put_the_activations_first():
    spec = ModelSpec.build("3-4-2", "relu,identity", "squared", reduction="sum", layout="rows", bias=False)
    forms = derive_batch_forms(spec)
    N = Names("rows")
    assert forms.layers[1].nabla_W == N.A(0).T * N.Delta(1)
    assert forms.layers[1].Z == N.A(0) * N.W(1)


def test_a_second_mean_on_the_bias_gradient_is_refuted_with_a_counterexample():
    spec = ModelSpec.build("2-3-2", "sigmoid", "quadratic")
    N = Names("columns")
    wrong = (1 / m**2) * N.Delta(2) * sp.OneMatrix(m, 1)
    check = check_claim(spec, 2, "b", wrong)
    assert check.holds is False
    assert check.counterexample


def test_averaging_after_pre_scaling_is_refuted():
    spec = ModelSpec.build("4-3-1", "sigmoid", "bce")
    N = Names("columns")
    check = check_claim(spec, 1, "W", (1 / m) * N.E(1) * N.A(0).T)
    assert check.holds is False and check.counterexample
    assert check_claim(spec, 1, "W", N.E(1) * N.A(0).T).holds is True


def test_the_columns_form_in_the_rows_layout_is_refuted():
    # square layers, so the transposed product has the right shape and only the values are wrong
    spec = ModelSpec.build("2-2-2", "sigmoid", "quadratic", layout="rows")
    N = Names("rows")
    check = check_claim(spec, 1, "W", (1 / m) * N.Delta(1).T * N.A(0))
    assert check.holds is False and check.counterexample


def test_the_sum_reduction_has_no_one_over_m():
    spec = ModelSpec.build("2-3-2", "sigmoid", "quadratic", reduction="sum")
    N = Names("columns")
    assert check_claim(spec, 1, "W", N.Delta(1) * N.A(0).T).holds is True
    assert check_claim(spec, 1, "W", (1 / m) * N.Delta(1) * N.A(0).T).holds is False


def test_every_node_of_the_batch_forms_carries_its_layer():
    forms = derive_batch_forms(ModelSpec.build("3-4-2", "relu,softmax", "cce", layout="rows"))
    N = forms.names
    assert forms.index[N.W(2)] == MatrixName("W", 2) and forms.index[N.W(2)].code == "W2"
    for l, lf in forms.layers.items():
        assert lf.layer.index == l and forms.layer_of(lf.A) == l
        assert {forms.layer_of(s) for s in lf.code_W.atoms(sp.MatrixSymbol)} == {l - 1, l}
        assert forms.layer_of(N.nabla_W(l)) == l
    assert forms.layers[1].A.kind is Fn.FORWARD and forms.layers[2].A.kind is Fn.FORWARD_VECTOR
    assert forms.derivation.role is Role.BATCH
