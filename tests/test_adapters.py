"""numeric.adapters: the shapes real code has: update steps, optimisers, attributes, layer objects, torch."""

import types

import numpy as np
import pytest

from numeric import check_layer, gradcheck
from numeric.adapters import (
    GradientRecorder,
    attributes_problem,
    grad_from_optimizer,
    grad_from_update,
    layer_from_object,
)
from numeric.layer_check import check_problem

rng0 = np.random.default_rng(0)
X = rng0.standard_normal((3, 6))
Y = rng0.standard_normal((2, 6))


def loss(p):
    return 0.5 * float(np.sum((np.tanh(p["W"] @ X + p["b"]) - Y) ** 2))


def grads(p, bug=False):
    a = np.tanh(p["W"] @ X + p["b"])
    d = (a - Y) * (1 - a ** 2)
    return {"W": d @ X.T, "b": (2 if bug else 1) * d.sum(axis=1, keepdims=True)}


PARAMS = {"W": rng0.standard_normal((2, 3)), "b": rng0.standard_normal((2, 1))}


@pytest.mark.parametrize("bug", [False, True])
def test_a_gradient_inside_an_in_place_update_step_is_read_back(bug):
    def sgd_step(p, lr=0.05):
        g = grads(p, bug)
        for k in p:
            p[k] -= lr * g[k]

    result = gradcheck(loss, grad_from_update(sgd_step, lr=0.05), PARAMS)
    assert result.ok is not bug
    if bug:
        assert "x2" in result.row("b").diagnosis
    returned = grad_from_update(lambda p: {k: v - 2.0 * grads(p)[k] for k, v in p.items()}, lr=2.0)
    assert gradcheck(loss, returned, PARAMS).ok
    before = {k: v.copy() for k, v in PARAMS.items()}
    grad_from_update(sgd_step)(PARAMS)
    assert all(np.array_equal(PARAMS[k], before[k]) for k in PARAMS)  # the step ran on a copy


@pytest.mark.parametrize("style", ["step_dict", "update_pairs_list", "apply_gradients", "call_list"])
def test_gradients_handed_to_an_optimiser_are_recorded(style):
    def train_step(p, opt):
        g = grads(p)
        if style == "step_dict":
            opt.zero_grad()
            opt.step(g)
        elif style == "update_pairs_list":
            opt.update(p, [g["W"], g["b"]])
        elif style == "apply_gradients":
            opt.apply_gradients(zip([g["W"], g["b"]], [p["W"], p["b"]], strict=True))
        else:
            opt([g["W"], g["b"]])

    assert gradcheck(loss, grad_from_optimizer(train_step), PARAMS).ok


def test_a_recorder_refuses_gradients_it_cannot_match():
    rec = GradientRecorder({"W": np.zeros(2), "b": np.zeros(1)})
    with pytest.raises(KeyError, match="1 gradients for 2 parameters"):
        rec.step([np.zeros(2)])
    with pytest.raises(KeyError, match="not one of the arrays"):
        rec.apply_gradients([(np.zeros(2), np.zeros(2))])


def test_parameters_kept_as_module_globals_with_a_loss_function_returning_its_gradients():
    module = types.SimpleNamespace(W=PARAMS["W"].copy(), b=PARAMS["b"].copy())

    def loss_fun(bug=False):  # min-char-rnn style: reads globals, returns (loss, dW, db, hidden state)
        p = {"W": module.W, "b": module.b}
        g = grads(p, bug)
        return loss(p), g["W"], g["b"], np.zeros(3)

    assert gradcheck(*attributes_problem(module, ["W", "b"], loss_fun)).ok
    wrong = gradcheck(*attributes_problem(module, ["W", "b"], lambda: loss_fun(bug=True)))
    assert [r.name for r in wrong.rows if r.verdict == "wrong"] == ["b"]
    assert np.array_equal(module.W, PARAMS["W"])  # restored after every call
    separate = attributes_problem(module, ["W", "b"], lambda: loss({"W": module.W, "b": module.b}),
                                  lambda: grads({"W": module.W, "b": module.b}))
    assert gradcheck(*separate).ok


class Dense:
    """A layer object: parameters and their gradients as attributes, the input kept from forward."""

    def __init__(self, rng, bug=False):
        self.params = {"W": rng.standard_normal((4, 3))}
        self.b = rng.standard_normal(3)
        self.bug = bug

    def forward(self, x):
        self.x = x
        return np.tanh(x @ self.params["W"] + self.b)

    def backward(self, dout):
        out = np.tanh(self.x @ self.params["W"] + self.b)
        dz = dout * (1 - out ** 2)
        self.grads = {"W": self.x.T @ (dout if self.bug else dz)}
        self.db = dz.sum(axis=0)
        return dz @ self.params["W"].T


@pytest.mark.parametrize("bug", [False, True])
def test_a_layer_object_with_parameters_in_a_dict_and_gradients_in_two_places(bug):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 4))
    problem = layer_from_object(Dense(rng, bug), [x], ["params.W", "b"], grads={"params.W": "grads.W", "b": "db"})
    result = check_problem(problem)
    assert [r.name for r in result.rows] == ["x", "params.W", "b"]
    assert [r.name for r in result.rows if r.verdict == "wrong"] == (["params.W"] if bug else [])


def test_a_layer_object_whose_gradients_live_under_different_names():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 4))

    class Affine:
        def __init__(self, bug=False):
            self.W, self.b, self.bug = rng.standard_normal((4, 3)), rng.standard_normal(3), bug

        def forward(self, x):
            self.x = x
            return x @ self.W + self.b

        def backward(self, dout):
            self.dW = self.x.T @ dout * (0.5 if self.bug else 1.0)
            self.db = dout.sum(axis=0)
            return dout @ self.W.T

    assert check_problem(layer_from_object(Affine(), [x], ["W", "b"])).ok
    bad = check_problem(layer_from_object(Affine(bug=True), [x], ["W", "b"]))
    assert [r.name for r in bad.rows if r.verdict == "wrong"] == ["W"] and "x1/2" in bad.row("W").diagnosis


def test_a_torch_autograd_function_with_a_hand_written_backward():
    torch = pytest.importorskip("torch")
    from numeric.adapters_torch import layer_from_torch

    def make(factor):
        class Swish(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                s = torch.sigmoid(x)
                ctx.save_for_backward(x, s)
                return x * s

            @staticmethod
            def backward(ctx, g):
                x, s = ctx.saved_tensors
                return g * (s + factor * x * s * (1 - s))

        return Swish

    x = np.random.default_rng(3).standard_normal((3, 4))
    assert check_problem(layer_from_torch(make(1.0), [x])).ok
    assert check_problem(layer_from_torch(make(0.0), [x])).row("x").verdict == "wrong"
    linear = torch.nn.Linear(4, 2)
    result = check_layer(*_parts(layer_from_torch(linear, [x])))
    assert result.ok and {r.name for r in result.rows} == {"x", "weight", "bias"}


def _parts(problem):
    return problem.forward, problem.backward, problem.inputs, problem.wrt
