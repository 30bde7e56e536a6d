"""Staged backprop through gates: the course-notes numbers, += at branches, the checks, and the matrix gate."""

import json
import math

import numpy as np
import pytest
import sympy as sp

import derive.graph.gates as gates
import derive.graph.matmul as matmul
import derive.graph.staged as graph_mod
from derive.graph.exprparse import parse_at
from derive.graph.gates import float_value
from derive.graph.matmul import derive_matmul_gate
from derive.graph.staged import build_graph
from numeric.errors import BadInput

NEURON = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
NEURON_AT = "w0=2,x0=-1,w1=-3,x1=-2,w2=-3"
STAGED = "(x + sigma(y)) / (sigma(x) + (x+y)^2)"


def test_first_circuit_of_the_course_notes():
    g = build_graph("(x+y)*z", "x=-2,y=5,z=-4")
    assert [gate.kind for gate in g.gates] == ["add", "multiply"]
    assert g.output_value == -12
    assert (g.gradient("x"), g.gradient("y"), g.gradient("z")) == (-4, -4, 3)
    add, mul = g.gates
    assert mul.local_values == (-4, 3)  # the multiply gate swaps its inputs
    assert add.upstream == -4 and add.downstream == (-4, -4)  # the add gate distributes its upstream gradient
    assert g.holds


def test_sigmoid_neuron_gate_by_gate():
    g = build_graph(NEURON, NEURON_AT)
    assert [gate.kind for gate in g.gates] == [
        "multiply", "multiply", "add", "add", "multiply-by-constant", "exp", "add-constant", "1/x"]
    assert g.output_value == pytest.approx(0.73, abs=0.005)
    assert (g.gradient("x0"), g.gradient("x1")) == pytest.approx((0.39, -0.59), abs=0.005)
    assert (g.gradient("w0"), g.gradient("w1"), g.gradient("w2")) == pytest.approx((-0.20, -0.39, 0.20), abs=0.005)
    assert g.gates[-1].local_values[0] == pytest.approx(-1 / 1.37**2, rel=1e-2)  # 1/x gate: -1/x^2 at 1.37
    assert g.holds


@pytest.mark.parametrize("text", [NEURON, "sigmoid(w0*x0+w1*x1+w2)", "1/(exp(-(w0*x0+w1*x1+w2))+1)"])
def test_fused_sigmoid_gate_gives_the_same_gradients(text):
    plain = build_graph(NEURON, NEURON_AT)
    fused = build_graph(text, NEURON_AT, fuse=["sigmoid"])
    assert [gate.kind for gate in fused.gates] == ["multiply", "multiply", "add", "add", "sigmoid"]
    for a, b in zip(plain.gradients, fused.gradients, strict=True):
        assert a.name == b.name and b.value == pytest.approx(a.value, rel=1e-12, abs=1e-15)
    sig = fused.gates[-1]
    out = sp.Symbol(sig.name, real=True)
    assert sig.local_exprs == (out * (1 - out),)  # sigma (1 - sigma), from the forward value
    assert fused.closed_form_checks["sigmoid"].holds and fused.holds


def test_staged_example_adds_gradients_where_variables_branch():
    g = build_graph(STAGED, "x=3,y=-4")
    gx = next(gr for gr in g.gradients if gr.name == "x")
    gy = next(gr for gr in g.gradients if gr.name == "y")
    assert len(gx.contributions) == 3 and len(gy.contributions) == 2  # x is used three times, y twice
    assert gx.value == pytest.approx(sum(a for _, a in gx.contributions), rel=1e-15)
    # independent oracle: SymPy on the same function typed here, and finite differences in this test
    xs, ys = sp.symbols("x y", real=True)
    sig = lambda t: 1 / (1 + sp.exp(-t))  # noqa: E731
    f = (xs + sig(ys)) / (sig(xs) + (xs + ys) ** 2)
    point = {xs: 3, ys: -4}
    for gr, s in ((gx, xs), (gy, ys)):
        exact = float(sp.diff(f, s).subs(point).evalf(30))
        assert gr.value == pytest.approx(exact, rel=1e-12)
        # any one contribution alone is wrong: the += matters
        assert all(abs(a - exact) > 1e-3 for _, a in gr.contributions)
    fnum = sp.lambdify((xs, ys), f, "math")
    h = 1e-6
    assert gx.value == pytest.approx((fnum(3 + h, -4) - fnum(3 - h, -4)) / (2 * h), rel=1e-7)
    assert gy.value == pytest.approx((fnum(3, -4 + h) - fnum(3, -4 - h)) / (2 * h), rel=1e-7)
    assert g.sympy_error < 1e-13 and g.fd_error < 1e-8 and g.holds


def test_staged_example_fused_agrees_with_unfused():
    plain, fused = build_graph(STAGED, "x=0.5,y=1.25"), build_graph(STAGED, "x=0.5,y=1.25", ["sigmoid"])
    assert len(fused.gates) < len(plain.gates)
    assert [gr.value for gr in fused.gradients] == pytest.approx([gr.value for gr in plain.gradients], rel=1e-12)
    assert fused.holds and plain.holds


def test_a_wrong_local_gradient_is_caught():
    u = gates.u
    wrong = gates.LocalRule((2 * sp.exp(u),))  # exp' = 2 exp: a bug the checks must find
    g = build_graph(NEURON, NEURON_AT, rules={"exp": wrong})
    assert not g.sympy_agrees and not g.fd_agrees and not g.holds


def test_a_missing_accumulation_is_caught():
    class OverwriteInsteadOfAdd(graph_mod.GraphBuilder):
        def backward(self, output):
            super().backward(output)
            for wire in self.wires.values():
                if wire.contributions:
                    wire.grad = wire.contributions[-1][2]  # "=" instead of "+=": the classic branching bug

    assert not build_graph(STAGED, "x=3,y=-4", builder=OverwriteInsteadOfAdd).holds


def test_same_variable_twice_in_one_gate():
    g = build_graph("x*x", "x=3")
    assert g.gradient("x") == 6 and len(g.gradients[0].contributions) == 2


def test_gate_names_never_shadow_variables():
    g = build_graph("g1*g2 + g1", "g1=2,g2=3")
    assert {gate.name for gate in g.gates}.isdisjoint({"g1", "g2"})
    assert (g.gradient("g1"), g.gradient("g2")) == (4, 2) and g.holds


def test_a_bare_variable_has_gradient_one():
    g = build_graph("x", "x=2.5")
    assert g.gates == [] and g.gradient("x") == 1 and g.holds


def test_max_routes_the_gradient_to_the_larger_input():
    g = build_graph("max(x, y)*z", "x=1,y=2,z=3")
    assert (g.gradient("x"), g.gradient("y"), g.gradient("z")) == (0, 3, 2)
    assert g.holds and not g.kinks


def test_a_tie_in_max_is_a_kink_with_a_split_subgradient():
    g = build_graph("max(x, y)", "x=1,y=1")
    assert g.kinks == ["g1"] and (g.gradient("x"), g.gradient("y")) == (0.5, 0.5)
    assert g.gradients[0].fd_interval is not None and g.holds
    assert any("kink" in w for w in g.warnings)


@pytest.mark.parametrize(("text", "at", "expected"), [
    ("max(x, 0)", "x=0", 0.0), ("max(0, x)", "x=0", 0.0), ("max(x, 0)", "x=1", 1.0), ("min(x, 2)", "x=2", 0.0),
])
def test_max_with_a_constant_follows_relu_prime_of_zero_is_zero(text, at, expected):
    g = build_graph(text, at)
    assert g.gradients[0].value == expected and g.gradients[0].sympy_value == expected and g.holds


def test_relu_convention_keeps_the_function_and_moves_only_the_tie():
    t = sp.Symbol("t", real=True)
    e = sp.Max(t, 0) * t
    r = graph_mod.relu_convention(e)
    for val in (-2, 0, sp.Rational(3, 2)):
        assert r.subs(t, val) == e.subs(t, val)
    assert sp.diff(r, t).subs(t, 0) == 0 and sp.diff(e, t).subs(t, 0) == 0
    assert sp.diff(graph_mod.relu_convention(sp.Max(t, 0)), t).subs(t, 0) == 0
    assert sp.diff(sp.Max(t, 0), t).subs(t, 0) == sp.Rational(1, 2)  # SymPy's own H(0), which we do not use


@pytest.mark.parametrize(("text", "at"), [
    ("log(x) * tanh(y) - sqrt(x + y^2)", "x=1.5,y=-0.7"),
    ("x^y + 2^x - min(x, 0.5*y) + max(y, 0)", "x=1.3,y=2.1"),
    ("exp(-x/3) / (1 + x^2) - 3*(x - y)", "x=0.4,y=-2"),
    ("tanh(w*x + b)", "w=0.3,x=-1.2,b=0.1"),
])
def test_other_gates_agree_with_sympy_diff_and_finite_differences(text, at):
    g = build_graph(text, at)
    assert g.holds, (g.sympy_error, g.fd_error)


@pytest.mark.parametrize(("text", "at", "fragment"), [
    ("1/(x-2)", "x=2", "division by zero at the point x=2: the 1/x gate"),
    ("y/(x*x - 4)", "x=2,y=1", "division by zero"),
    ("log(x)", "x=-1", "log of a non-positive number"),
    ("exp(1000*x)", "x=1", "overflows"),
    ("sqrt(x)", "x=0", "not differentiable"),
    ("(x+y)*z", "x=1,y=2", "variable z has no value: add z=... to --at"),
    ("x*y*z", "x=1", "variables y, z have no value"),
])
def test_bad_points_are_bad_input(text, at, fragment):
    with pytest.raises(BadInput) as err:
        build_graph(text, at)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_unknown_fusion_is_bad_input():
    with pytest.raises(BadInput, match="known fusions are sigmoid"):
        build_graph("x", "x=1", ["tanh"])


def test_parse_at_reads_exact_decimals():
    assert parse_at("x=-2, y=0.1,z=1e-3") == {"x": -2, "y": sp.Rational(1, 10), "z": sp.Rational(1, 1000)}


@pytest.mark.parametrize("text", ["", "x", "x=", "=2", "x=abc", "x=1,x=2", "1x=2", "x=nan", "x=inf", "x=1e999",
                                  "x=1;y=2", "x-y=1", "x=1_0"])
def test_parse_at_rejects_malformed_points(text):
    with pytest.raises(BadInput, match="--at"):
        parse_at(text)


def test_extra_values_are_a_warning_not_an_error():
    g = build_graph("x", "x=1,q=2")
    assert g.warnings == ["--at gives q, which the expression does not use"]


def test_float_value_evaluates_without_exec():
    t = sp.Symbol("t")
    assert float_value(sp.Max(t, 0) + sp.Heaviside(t), {t: 0.0}) == 0.5
    assert float_value(sp.exp(t) * sp.log(2) / t**2, {t: 2.0}) == pytest.approx(math.exp(2) * math.log(2) / 4)
    with pytest.raises(gates.PointError):
        float_value(1 / t, {t: 0.0})
    with pytest.raises(gates.PointError):
        float_value(t ** sp.Rational(1, 2), {t: -1.0})


def test_to_dict_is_json():
    d = json.loads(json.dumps(build_graph(STAGED, "x=3,y=-4", ["sigmoid"]).to_dict()))
    assert d["holds"] and d["checks"]["sigmoid_closed_form"]["holds"]
    assert [gr["variable"] for gr in d["gradients"]] == ["x", "y"]
    assert len(d["gradients"][0]["contributions"]) == 3


@pytest.mark.parametrize("shape", [(2, 3, 4), (3, 1, 2), (1, 4, 3)])
def test_matrix_gate_follows_the_dimension_rule(shape, rng):
    gate = derive_matmul_gate(*shape)
    assert gate.holds and gate.numeric_error < 1e-8
    n, k, m = shape
    dW, dX = gate.derivation["dW"].rhs, gate.derivation["dX"].rhs
    assert dW.shape == (n, k) and dX.shape == (k, m)
    # the element-wise derivation, evaluated at random values, against NumPy's products
    W, X, G = rng.standard_normal((n, k)), rng.standard_normal((k, m)), rng.standard_normal((n, m))
    values = {}
    for name, arr in (("W", W), ("X", X), ("dD", G)):
        for (i, j), val in np.ndenumerate(arr):
            values[sp.Symbol(f"{name}_{i + 1}{j + 1}", real=True)] = val
    as_array = lambda M: np.array(M.xreplace(values).tolist(), dtype=float)  # noqa: E731
    np.testing.assert_allclose(as_array(dW), G @ X.T, rtol=1e-12)
    np.testing.assert_allclose(as_array(dX), W.T @ G, rtol=1e-12)


def test_matrix_gate_claims_can_fail():
    W = matmul.symbol_matrix("W", 2, 3)
    assert not matmul.elementwise_check(W, W.T).holds  # wrong shape
    assert not matmul.elementwise_check(W, W + sp.ones(2, 3)).holds  # wrong element
    gate = derive_matmul_gate(2, 2, 3)
    L, Wm = gate.derivation["L"].rhs, matmul.symbol_matrix("W", 2, 2)
    dW = gate.derivation["dW"].rhs
    point = matmul.rational_point(sorted(L.free_symbols, key=str), 0)
    assert matmul.difference_check(L, Wm, dW, point).holds
    assert not matmul.difference_check(L, Wm, dW.T, point).holds  # the transposed rule is wrong
    with pytest.raises(BadInput):
        derive_matmul_gate(0, 2, 2)


@pytest.mark.parametrize("kind", sorted(gates.GATE_KINDS))
def test_every_gate_kind_is_one_complete_entry(kind):
    entry = gates.GATE_KINDS[kind]
    assert entry.name == kind
    assert entry.formula.free_symbols - {gates.c} == set((gates.u, gates.v)[:entry.arity])
    constant = sp.Integer(2) if entry.has_constant else None
    label = entry.label_tex(constant)
    assert label and label.isascii()
    rule = gates.local_rule(kind)
    assert len(rule.derivatives) == entry.arity
    if entry.closed_form is not None:
        assert rule.check.holds and rule.closed_form == entry.closed_form.claim
    assert (entry.kink is gates.Kink.NONE) == (entry.heaviside_at_zero is None)


def test_fusions_and_kinks_come_from_the_entries():
    assert gates.FUSIONS == tuple(k for k, e in gates.GATE_KINDS.items() if e.fuses is not None)
    assert gates.Kink.TIE.at((1.0, 1.0), None) and not gates.Kink.TIE.at((1.0, 2.0), None)
    assert gates.Kink.AT_CONSTANT.at((0.0,), sp.Integer(0)) and not gates.Kink.NONE.at((0.0,), sp.Integer(0))
    tie = build_graph("max(x, y) + min(x, 0)", "x=0,y=0")
    assert tie.kinks == ["g1", "g2"]
    assert [g.local_values for g in tie.gates[:2]] == [(0.5, 0.5), (0.0,)]  # split at a tie, ReLU'(0) = 0
