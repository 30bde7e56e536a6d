"""The two registries (numeric.functions, derive.functions.registry) and the layer pairs agree, entry by entry.

A new activation or cost is one entry on each side: these tests fail when a side lacks it, when an entry lacks a
field, or when the NumPy and SymPy halves of an entry compute different functions.
"""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest
import sympy as sp

from derive.functions import registry as sym
from derive.functions.activations import derive_activation, zs
from derive.functions.costs import derive_cost
from numeric import functions as num
from numeric.spec import ActSpec

ELEMENTWISE = [name for name, entry in num.ACTIVATIONS.items() if entry.elementwise]
REQUIRED_SYM_ACT = ("name", "symbol", "tex", "from_forward", "closed_form", "definition")


def test_both_registries_name_the_same_activations_and_costs():
    assert list(num.ACTIVATIONS) == list(sym.ACTIVATIONS)
    assert list(num.COSTS) == list(sym.COSTS)


@pytest.mark.parametrize("name", list(num.ACTIVATIONS))
def test_every_activation_entry_is_complete(name):
    n, s = num.ACTIVATIONS[name], sym.ACTIVATIONS[name]
    assert n.name == s.name == name
    for f in ("summary", "value", "output_range", "torch"):
        assert getattr(n, f), f"numeric entry {name} lacks {f}"
    # element-wise: a derivative; otherwise a Jacobian-vector product (and then the SymPy side derives it apart)
    assert (n.derivative is not None) != (n.vjp is not None), f"{name}: exactly one of derivative and vjp"
    assert s.symbol and s.tex
    for f in REQUIRED_SYM_ACT:
        present = getattr(s, f) is not None
        assert present == n.elementwise or f in ("name", "symbol", "tex"), f"SymPy entry {name}: {f}"


@pytest.mark.parametrize("name", list(num.COSTS))
def test_every_cost_entry_is_complete(name):
    n, s = num.COSTS[name], sym.COSTS[name]
    assert n.name == s.name == name
    for f in ("summary", "term", "torch", "target"):
        assert getattr(n, f) is not None, f"numeric cost {name} lacks {f}"
    assert n.derivative is not None or n.requires_output is not None, f"{name}: no derivative and no fused output"
    for out, fused in n.fused.items():
        assert out in num.ACTIVATIONS, f"{name} is fused with an unknown activation {out}"
        assert fused.term is not None
    assert s.long_name and s.tex and s.term and s.derivative_claim


def _points(name: str) -> np.ndarray:
    z = np.linspace(-3.1, 2.9, 13)
    kinks = num.ACTIVATIONS[name].kinks
    return z[[all(abs(v - k) > 1e-3 for k in kinks) for v in z]]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_numpy_value_and_derivative_equal_the_sympy_definition_and_its_derivative(name):
    act = ActSpec.parse(name)
    res = derive_activation(act)
    f = sp.lambdify(zs, res.f_numeric(), "mpmath")
    fp = sp.lambdify(zs, res.fprime_numeric(), "mpmath")
    entry = num.ACTIVATIONS[name]
    z = _points(name)
    a = entry.value(z, act.param)
    np.testing.assert_allclose(a, [float(f(v)) for v in z], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(entry.derivative(z, a, act.param), [float(fp(v)) for v in z], rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_numpy_forms_are_stable_and_analytic(name):
    entry, p = num.ACTIVATIONS[name], num.ACTIVATIONS[name].param
    z = np.array([-1e3, -30.0, -1.0, 1.0, 30.0, 1e3])
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):  # underflow to 0 is exact enough
        a = entry.value(z, p)
        d = entry.derivative(z, a, p)
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(d))
    # complex step through the value gives the derivative (away from kinks)
    zc = np.array([-0.7, 0.4, 1.3]) + 1e-20j
    np.testing.assert_allclose(entry.value(zc, p).imag / 1e-20, entry.derivative(zc.real, entry.value(zc.real, p), p),
                               rtol=1e-12)


@pytest.mark.parametrize("name", list(num.COSTS))
def test_numpy_cost_derivative_equals_the_derived_one(name):
    n = num.COSTS[name]
    if n.derivative is None:
        pytest.skip(f"{name} is defined only after {n.requires_output}")
    res = derive_cost(name)
    from derive.core.symbols import a as a_idx
    from derive.core.symbols import y as y_idx
    from derive.functions.costs import L, n_out, unit_j

    d = sp.lambdify((a_idx[L, unit_j], y_idx[unit_j], n_out), res.dC_da, "mpmath")
    a = np.array([[0.2], [0.7], [0.4]])
    y = np.array([[0.0], [1.0], [1.0]])
    derived = [[float(d(ai, yi, 3))] for ai, yi in zip(a[:, 0], y[:, 0], strict=True)]
    np.testing.assert_allclose(n.derivative(a, y, 3), derived, rtol=1e-13)


def test_each_layer_kind_has_both_halves():
    from derive.layers import LAYERS as SYM_LAYERS
    from derive.layers import symbolic_layer
    from numeric.dropout import Dropout
    from numeric.layers import Dense
    from numeric.normalisation import NORMS
    from numeric.penalty import L2

    kinds = [Dense.kind, Dropout.kind, L2.kind, *(cls.kind for cls in NORMS.values())]
    assert set(kinds) == set(SYM_LAYERS)
    for cls in SYM_LAYERS.values():
        assert cls.kind in kinds
    # every numeric block of a spec finds its SymPy half, with the same parameter keys
    from numeric.spec import ModelSpec

    spec = ModelSpec.build("4-5-3", "relu,softmax", "cce", norm="batch", keep_prob=0.5, l2=0.1)
    for layer in spec.layers:
        for block in (layer, layer.norm, layer.dropout):
            if block is not None:
                sym = symbolic_layer(block)
                assert sym.kind == block.kind
    assert symbolic_layer(spec.penalty).kind == "l2"


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
@pytest.mark.parametrize("name", list(num.ACTIVATIONS))
def test_the_torch_op_of_every_activation_computes_the_same_function(name):
    import torch
    import torch.nn.functional as F

    entry = num.ACTIVATIONS[name]
    z = np.random.default_rng(0).standard_normal((4, 3))
    got = entry.torch(F, torch.tensor(z), entry.param, 0).numpy()
    np.testing.assert_allclose(got, entry.value(z, entry.param), rtol=1e-12, atol=1e-15)


def test_entries_are_frozen_dataclasses():
    for entry in [*num.ACTIVATIONS.values(), *num.COSTS.values(), *sym.ACTIVATIONS.values(), *sym.COSTS.values()]:
        assert dataclasses.is_dataclass(entry)
        with pytest.raises(dataclasses.FrozenInstanceError):
            entry.name = "x"  # type: ignore[misc]
