"""Exp-folded forward forms: sigmoid through u = exp(-|z|), proven, stable, exact under complex step; forms that
would overflow or cancel are refused."""

import numpy as np
import pytest
import sympy as sp

from derive.codegen.folded import fold_activation, fold_expression, folded_source
from derive.codegen.kernel import generate_kernel_source
from derive.functions.stable import z
from numeric.catalog import CATALOG
from numeric.spec import ActSpec


def _sigmoid():
    form = fold_activation(ActSpec.parse("sigmoid"))
    namespace = {"np": np}
    exec(folded_source(form), namespace)  # our own generated code, not user text
    return form, namespace["sigmoid"]


def test_sigmoid_folds_and_the_fold_is_proven_symbolically():
    form, _ = _sigmoid()
    assert form.step.holds and "numeric" not in form.step.method and "z = 0: exact" in form.step.method
    assert form.denominator == sp.Symbol("u", positive=True) + 1


@pytest.mark.parametrize("name", ["tanh", "softplus", "swish", "relu", "elu", "gelu", "identity"])
def test_other_activations_keep_their_stable_forms(name):
    # tanh folds to (1 - u^2)/(1 + u^2): its numerator vanishes at z = 0 (cancellation), so it is refused
    assert fold_activation(ActSpec.parse(name)) is None


def test_a_fold_that_would_divide_by_an_underflowed_u_is_refused():
    assert fold_expression(sp.exp(z), "e") is None  # e^z = 1/u for z > 0: D(0) = 0
    assert fold_expression(1 / (1 + sp.exp(-z)) + z, "s") is None  # z left over besides u


def test_the_folded_sigmoid_matches_the_definition_to_rounding_and_keeps_the_dtype():
    _, sigmoid = _sigmoid()
    zz = np.linspace(-30, 30, 601)
    exact = 1 / (1 + np.exp(-zz))
    assert np.abs(sigmoid(zz) - exact).max() <= 2.3e-16
    assert np.all(np.abs(sigmoid(zz) - exact) <= 4e-16 * exact)  # relative, also in the tail where s -> 0
    assert sigmoid(zz.astype(np.float32)).dtype == np.float32
    out, scratch, mask = np.empty_like(zz), np.empty_like(zz), np.full_like(zz, np.nan)  # buffers are only written
    assert sigmoid(zz, out=out, scratch=scratch, mask=mask) is out and np.array_equal(out, sigmoid(zz))
    assert np.array_equal(mask, zz > 0)  # the mask in the caller's buffer, as 0.0 and 1.0 of the array's type


def test_the_folded_sigmoid_is_stable_and_exact_under_complex_step():
    _, sigmoid = _sigmoid()
    extreme = np.array([-1000.0, -800.0, 0.0, 800.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is the right answer
        assert np.array_equal(sigmoid(extreme), [0.0, 0.0, 0.5, 1.0, 1.0])
        zz = np.linspace(-40, 40, 161)
        s = 1 / (1 + np.exp(-zz))
        derivative = sigmoid(zz + 1e-20j).imag / 1e-20
    assert np.abs(derivative - s * (1 - s)).max() <= 1e-15  # the bound of complex step is 1e-12


@pytest.mark.parametrize("name", ["mnist_nielsen", "tanh_net", "binary_classifier", "regression"])
def test_kernels_with_a_sigmoid_print_it_folded_and_record_the_step(name):
    src = generate_kernel_source(CATALOG[name])
    assert "def sigmoid(z, out=None, scratch=None, mask=None):" in src and "np.tanh(out, out=out)" not in src.split(
        "def sigmoid(")[1].split("\ndef ")[0]
    assert "sigmoid.folded: holds" in src.split('"""')[1]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_the_folded_sigmoid_may_overwrite_its_input(dtype):
    # hidden layers write A^l into Z^l's own array: every read of z comes before the first write to out
    _, sigmoid = _sigmoid()
    zz = (np.linspace(-40, 40, 161) + (1e-20j if dtype is np.complex128 else 0)).astype(dtype)
    expected = sigmoid(zz.copy())
    buffer = zz.copy()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = sigmoid(buffer, out=buffer, scratch=np.empty_like(zz), mask=np.empty_like(zz))
    assert got is buffer and got.dtype == dtype and np.array_equal(got, expected)


@pytest.mark.parametrize("name", ["regression", "binary_classifier"])
@pytest.mark.parametrize("vector_tanh", [frozenset(), frozenset("fdD")], ids=["fold", "stable-tanh"])
def test_either_sigmoid_branch_gives_the_reference_gradients_and_an_exact_complex_step(monkeypatch, name, vector_tanh):
    """The kernel takes the stable tanh form for the dtypes whose tanh NumPy vectorises (VECTOR_TANH, read off the
    CPU at import) and the fold for the others: forced both ways here, whatever this machine is."""
    from derive.verification.witnesses import instance
    from numeric import backprop
    from numeric.kernels import KERNELS
    from numeric.metrics import block_relative_error

    k, spec = KERNELS[name], CATALOG[name]
    calls = []
    tanh_form = k._sigmoid_tanh
    monkeypatch.setattr(k, "VECTOR_TANH", vector_tanh)
    monkeypatch.setattr(k, "_sigmoid_tanh", lambda z, out=None: calls.append(z.dtype) or tanh_form(z, out))
    params, x, y = instance(spec, 0, 7)
    ref = backprop.gradients(spec, params, x, y)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        g = k.gradients(params, x, y)
        g32 = k.gradients({key: v.astype(np.float32) for key, v in params.items()}, x.astype(np.float32), y)
        key = "W1"
        probe = {q: v.astype(np.complex128) for q, v in params.items()}
        probe[key][0, 0] += 1e-20j
        step = k.loss(probe, x, y).imag / 1e-20
    assert (np.dtype(np.float64) in calls) == bool(vector_tanh)
    assert all(block_relative_error(g[q], ref[q]) <= 1e-12 for q in ref)
    assert all(g32[q].dtype == np.float32 and block_relative_error(g32[q], ref[q]) <= 1e-4 for q in ref)
    assert abs(step - ref[key][0, 0]) <= 1e-12 * np.abs(ref[key]).max()


def test_vector_tanh_names_only_numpy_type_characters():
    from numeric.kernels import regression

    assert regression.VECTOR_TANH <= set(np.typecodes["All"])
    assert isinstance(regression.VECTOR_TANH, frozenset)
