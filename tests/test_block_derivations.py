"""The blocks past the dense layer: batch/layer normalisation, dropout, L2 and the SGD update, derived and proven.

Every derivation holds; every claim fails when planted wrong (the same proof machinery that proves the right form
refutes the near-miss); the array forms agree numerically with the hand-written NumPy halves (numeric.normalisation,
numeric.dropout, numeric.penalty) on random small instances.
"""

import numpy as np
import pytest
import sympy as sp

from derive.core.proof import Strength
from derive.layers import LAYERS, norm_layers, symbolic_layer
from derive.layers import dropout as D
from derive.layers import normalisation as NS
from derive.layers import penalty as P
from derive.layers.arrays import StatSum, count, evaluate
from numeric.dropout import Dropout, random_mask
from numeric.errors import BadInput
from numeric.normalisation import BatchNorm, LayerNorm
from numeric.penalty import L2

KINDS = ["batchnorm", "layernorm"]
NUMERIC = {"batchnorm": BatchNorm, "layernorm": LayerNorm}


# ----- normalisation -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_normalisation_derivation_holds_and_proves_the_compact_form(kind):
    d = NS.derive_normalisation(kind)
    assert d.holds, [(s.label, s.method) for s in d.failures()]
    compact = d[f"{kind}.dz.compact"]
    assert compact.kind == "claim" and compact.rhs == dict(NS.backward_forms(kind))[NS.dz]
    assert compact.check.proven  # a proof (symbolic or exact), not numerical evidence
    for label in ("mu", "var", "x_hat", "y", "dbeta", "dgamma", "dx_hat", "dvar", "dmu", "dmu.mean", "dz"):
        assert f"{kind}.{label}" in [s.label for s in d]
    # the local derivatives are derived (sympy.diff), never stated
    assert all(s.kind in ("definition", "derived", "claim") for s in d)


def test_compact_form_without_the_mean_term_is_refuted():
    # the right form is proven by the same check_dz_form inside the derivation (the test above)
    wrong = NS.gamma * NS.inv_std / count * (count * NS.dy - NS.x_hat * StatSum(NS.dy * NS.x_hat))
    check = NS.check_dz_form("batchnorm", wrong)
    assert check.holds is False and check.counterexample
    assert check.strength is Strength.EXACT  # rational after eps <-> s: an exact counterexample


def test_compact_form_without_the_variance_term_is_refuted():
    wrong = NS.gamma * NS.inv_std / count * (count * NS.dy - StatSum(NS.dy))
    assert NS.check_dz_form("batchnorm", wrong).holds is False


def test_cs231n_form_with_gamma_outside_the_sums_is_refuted_for_layernorm():
    # gamma is per unit and layer normalisation sums over the units: it cannot leave the sums there
    bn_form = dict(NS.backward_forms("batchnorm"))[NS.dz]
    assert NS.check_dz_form("layernorm", bn_form).holds is False
    assert NS.derive_normalisation("layernorm")["layernorm.dz.compact"].holds  # gamma inside the sums


def _written_out(kind, units, width, samples):
    """C = sum G y of the normalised z = W a + b, every entry a symbol (independent of the derivation's helpers)."""
    W = sp.Matrix(units, width, lambda i, j: sp.Symbol(f"w{i}{j}"))
    A = sp.Matrix(width, samples, lambda i, j: sp.Symbol(f"a{i}{j}"))
    b = sp.Matrix(units, 1, lambda i, j: sp.Symbol(f"b{i}"))
    arrays = {NS.z: W * A + b * sp.ones(1, samples), NS.gamma: sp.Matrix(units, 1, lambda i, j: sp.Symbol(f"c{i}")),
              NS.beta: sp.Matrix(units, 1, lambda i, j: sp.Symbol(f"e{i}")),
              NS.dy: sp.Matrix(units, samples, lambda i, j: sp.Symbol(f"g{i}{j}"))}
    for name, form in NS.forward_forms(kind):
        arrays[name] = evaluate(form, arrays, (units, samples), stat_axis=NS.STAT_AXIS[kind])
    cost = sum(arrays[NS.dy][i, j] * arrays[NS.y][i, j] for i in range(units) for j in range(samples))
    return cost, b, W, A


def test_bias_before_batchnorm_gets_exactly_zero_gradient():
    d = NS.derive_bias_before_norm()
    assert d.holds
    assert d["bias_bn.db"].rhs == 0 and d["bias_bn.dz_sum"].rhs == 0
    cost, b, _, _ = _written_out("batchnorm", 2, 3, 4)
    assert all(sp.diff(cost, b[u, 0]) == 0 for u in range(2))  # structurally 0, not merely small


def test_bias_before_layernorm_does_get_a_gradient():
    cost, b, _, _ = _written_out("layernorm", 3, 2, 4)
    rng = np.random.default_rng(0)
    # every entry but b_1 fixed at a rational point first (a partial derivative holds them fixed): cheap to diff
    point = {s: sp.Rational(int(rng.integers(-9, 10)), 7) for s in cost.free_symbols if s not in (NS.eps, b[0, 0])}
    along_b = cost.xreplace({**point, NS.eps: sp.Rational(1, 10)})
    value = sp.diff(along_b, b[0, 0]).xreplace({b[0, 0]: sp.Rational(1, 3)})
    assert abs(float(value)) > 1e-6


def _numbers(M):
    return sp.Matrix(M.shape[0], M.shape[1], lambda i, j: sp.Float(M[i, j], 30))


def _array(M):
    return np.array(M.evalf(20).tolist(), dtype=float)


@pytest.mark.parametrize("kind", KINDS)
def test_array_forms_agree_with_numpy_forward_and_backward(kind, rng):
    units, samples = 3, 5
    layer = NUMERIC[kind](1, units)
    z = rng.normal(size=(units, samples))
    p = {layer.gamma: rng.normal(size=(units, 1)), layer.beta: rng.normal(size=(units, 1))}
    dy = rng.normal(size=(units, samples))
    out, cache = layer.forward(p, z)
    dz, grads = layer.backward(p, dy, cache)

    values = {NS.z: _numbers(sp.Matrix(z)), NS.gamma: _numbers(sp.Matrix(p[layer.gamma])),
              NS.beta: _numbers(sp.Matrix(p[layer.beta])), NS.dy: _numbers(sp.Matrix(dy))}
    at_eps = {NS.eps: sp.Float(layer.eps, 30)}
    for forms in (NS.forward_forms(kind), NS.backward_forms(kind)):
        for name, form in forms:
            values[name] = evaluate(form.xreplace(at_eps), values, (units, samples), stat_axis=NS.STAT_AXIS[kind])
    np.testing.assert_allclose(_array(values[NS.y]), out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_array(values[NS.dz]), dz, rtol=1e-10, atol=1e-12)
    # parameter gradients are per unit: a BatchSum's result is repeated along the samples, read column 0
    np.testing.assert_allclose(_array(values[NS.dgamma])[:, :1], grads[layer.gamma], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_array(values[NS.dbeta])[:, :1], grads[layer.beta], rtol=1e-12, atol=1e-12)


def test_unknown_normalisation_kind_is_bad_input():
    with pytest.raises(BadInput, match="batchnorm"):
        NS.forward_forms("groupnorm")


# ----- dropout ---------------------------------------------------------------------------------------------------
def test_dropout_derivation_holds():
    d = D.derive_dropout()
    assert d.holds, [(s.label, s.method) for s in d.failures()]
    assert d["dropout.da"].kind == "claim" and d["dropout.da"].check.proven


def test_dropout_backward_without_the_keep_probability_is_refuted():
    check = D.check_backward_form(D.dout * D.mask)
    assert check.holds is False and check.counterexample
    assert D.check_backward_form(D.dout * D.mask * D.keep).holds is False


def test_dropout_forms_agree_with_numpy(rng):
    layer = Dropout(1, 3, 0.75)
    a, dout = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    mask = random_mask(rng, (3, 4), layer.keep)
    arrays = {D.a: _numbers(sp.Matrix(a)), D.mask: sp.Matrix(mask), D.dout: _numbers(sp.Matrix(dout))}
    keep = {D.keep: sp.Rational(3, 4)}
    (_, fwd), = D.forward_forms()
    (_, bwd), = D.backward_forms()
    np.testing.assert_allclose(_array(evaluate(fwd.xreplace(keep), arrays, (3, 4), stat_axis=0)),
                               layer.forward(mask, a), rtol=1e-14)
    np.testing.assert_allclose(_array(evaluate(bwd.xreplace(keep), arrays, (3, 4), stat_axis=0)),
                               layer.backward(mask, dout), rtol=1e-14)


# ----- L2 and the update -----------------------------------------------------------------------------------------
def test_l2_derivation_holds():
    d = P.derive_l2()
    assert d.holds, [(s.label, s.method) for s in d.failures()]
    assert d["l2.gradient"].check.proven
    # the biases are not regularised: dC/db is dC_0/db, nothing more
    assert not d["l2.db"].rhs.has(P.lam)


def test_l2_gradient_without_one_over_n_is_refuted():
    check = P.check_gradient_form(P.nabla0_W + P.lam * P.W)
    assert check.holds is False and check.counterexample
    assert P.check_gradient_form(P.nabla0_W + P.lam / (2 * P.n_train) * P.W).holds is False


@pytest.mark.parametrize("l2", [True, False])
def test_sgd_update_derivation_holds(l2):
    d = P.derive_sgd_update(l2)
    assert d.holds
    if l2:
        assert d["sgd.weight_decay"].rhs == P.update_forms(True)[0][1]
        assert d["sgd.weight_decay"].check.holds is True


def test_weight_decay_form_agrees_with_numpy(rng):
    penalty = L2(0.3, 50)
    W, g0 = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    eta = 0.1
    by_numpy = W - eta * (g0 + penalty.gradient(W, m=8))
    rule = dict(P.update_forms(True))[P.W]
    arrays = {P.W: _numbers(sp.Matrix(W)), P.nabla0_W: _numbers(sp.Matrix(g0))}
    scalars = {P.eta: sp.Float(eta, 30), P.lam: sp.Float(penalty.lam, 30), P.n_train: penalty.n}
    np.testing.assert_allclose(_array(evaluate(rule.xreplace(scalars), arrays, (3, 2), stat_axis=0)), by_numpy,
                               rtol=1e-13)


# ----- the registry ----------------------------------------------------------------------------------------------
def test_every_block_kind_has_a_sympy_half():
    for kind in ("batchnorm", "layernorm", "dropout", "l2"):
        assert LAYERS[kind].kind == kind
    bn = symbolic_layer(BatchNorm(2, 4))
    assert [p.key for p in bn.params] == BatchNorm(2, 4).param_names()
    assert symbolic_layer(LayerNorm(1, 3)).stat_axis == 0
    assert symbolic_layer(Dropout(1, 3, 0.5)).p == sp.Rational(1, 2)
    assert symbolic_layer(L2(0.5, 10)).lam == sp.Rational(1, 2)
    with pytest.raises(BadInput):
        norm_layers.BatchNormSym.of(LayerNorm(1, 3))
