"""check_layer / check_loss as a user calls them: inputs by position or name, outputs and caches, bad layers."""

import numpy as np
import pytest

from numeric import BadInput, LayerProblem, LossProblem, check_layer, check_loss, gradcheck
from numeric.layer_check import check_problem, problem_kind

rng0 = np.random.default_rng(0)
X = rng0.standard_normal((4, 3))
W = rng0.standard_normal((3, 5))
B = rng0.standard_normal(5)


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache, bug=None):
    x, w = cache
    dw = x.T @ dout
    return dout @ w.T, (-dw if bug == "sign" else dw), dout.sum(axis=0)


def test_rows_are_named_after_the_forward_signature_and_every_float_input_is_checked():
    result = check_layer(affine_forward, affine_backward, (X, W, B))
    assert result.ok and [r.name for r in result.rows] == ["x", "w", "b"]
    bad = check_layer(affine_forward, lambda d, c: affine_backward(d, c, bug="sign"), (X, W, B))
    assert [r.name for r in bad.rows if r.verdict == "wrong"] == ["w"] and "sign flip" in bad.row("w").diagnosis


def test_dict_inputs_wrt_subsets_and_dict_gradients():
    def bn_like(x, gamma, param):
        mu = x.mean(axis=0)
        return gamma * (x - mu) * param["scale"], (x, gamma, param["scale"])

    def back(dout, cache):
        x, gamma, s = cache
        dxc = dout * gamma * s
        return {"x": dxc - dxc.mean(axis=0), "gamma": (dout * (x - x.mean(axis=0)) * s).sum(axis=0)}

    inputs = {"x": X, "gamma": rng0.standard_normal(3), "param": {"scale": 0.5}}
    result = check_layer(bn_like, back, inputs)
    assert result.ok and {r.name for r in result.rows} == {"x", "gamma"}  # the dict input gets no row
    only_x = check_layer(bn_like, back, inputs, wrt=["x"])
    assert [r.name for r in only_x.rows] == ["x"]
    with pytest.raises(BadInput, match="not inputs"):
        check_layer(bn_like, back, inputs, wrt=["y"])
    with pytest.raises(BadInput, match="not floating-point"):
        check_layer(bn_like, back, inputs, wrt=["param"])


def test_several_outputs_and_a_forward_without_cache():
    def split(x):
        return np.sin(x), x ** 2, x

    def split_back(d1, d2, x):
        return d1 * np.cos(x) + 2 * x * d2

    assert check_layer(split, split_back, (X,)).ok
    assert check_layer(lambda x: np.tanh(x), lambda d: d, (X,)).row("x").verdict == "wrong"  # no cache: backward(dout)


def test_a_wrong_number_of_gradients_is_a_wrong_row_that_says_so():
    result = check_layer(affine_forward, lambda d, c: affine_backward(d, c)[:2], (X, W, B))
    assert not result.ok and "2 gradients for the 3 inputs" in result.rows[0].diagnosis


def test_a_forward_with_a_fresh_random_mask_each_call_is_bad_input():
    def dropout(x):
        mask = np.random.default_rng().random(x.shape) < 0.5
        return x * mask, mask

    with pytest.raises(BadInput, match="different outputs"):
        check_layer(dropout, lambda d, m: d * m, (X,))


@pytest.mark.filterwarnings("ignore:invalid value encountered in log:RuntimeWarning")  # the NaN is the point
def test_a_deterministic_forward_with_nan_is_not_called_random():
    with pytest.raises(BadInput, match="nan") as err:
        check_layer(lambda x: (np.log(x), x), lambda d, x: d / x, (X,))
    assert "different outputs" not in str(err.value)


def test_a_forward_that_writes_into_its_input_is_bad_input_and_the_users_array_is_untouched():
    x = X.copy()

    def relu_in_place(x):
        out = x
        out[out < 0] = 0
        return out, out

    with pytest.raises(BadInput, match="forward changed its input x in place"):
        check_layer(relu_in_place, lambda d, out: d * (out > 0), (x,))
    assert np.array_equal(x, X)


def test_a_backward_writing_into_dout_is_noted():
    def relu_forward(x):
        return x * (x > 0), x

    def relu_backward(dout, x):
        dx = dout
        dx[x <= 0] = 0  # writes into dout
        return dx

    result = check_layer(relu_forward, relu_backward, (X,))
    assert result.ok and any("backward changed dout in place" in n for n in result.notes)


def _softmax_loss(x, y, bug=None):
    s = np.exp(x - x.max(axis=1, keepdims=True))
    p = s / s.sum(axis=1, keepdims=True)
    n = x.shape[0]
    dx = p.copy()
    dx[np.arange(n), y] -= 1
    return -np.log(p[np.arange(n), y]).mean(), (dx if bug == "sum" else dx / n)


def test_check_loss_on_a_softmax_loss_names_the_missing_1_over_n():
    x, y = rng0.standard_normal((6, 4)), rng0.integers(0, 4, 6)
    assert check_loss(_softmax_loss, (x, y)).ok
    bad = check_loss(lambda x, y: _softmax_loss(x, y, bug="sum"), (x, y))
    assert "the 1/m of the mean is missing" in bad.row("x").diagnosis and "m = 6" in bad.row("x").diagnosis


def test_check_problem_accepts_all_three_shapes_and_problem_kind_says_what_is_wrong():
    x, y = rng0.standard_normal((6, 4)), rng0.integers(0, 4, 6)
    assert check_problem(LossProblem(_softmax_loss, (x, y))).ok
    assert check_problem(LayerProblem(affine_forward, affine_backward, (X, W, B))).ok
    params = {"w": np.array([1.0, 2.0])}
    assert check_problem((lambda p: float(np.sum(p["w"] ** 2)), lambda p: {"w": 2 * p["w"]}, params)).ok
    assert problem_kind((1, 2)).startswith("a tuple of 2")
    assert "not callable" in problem_kind((1, lambda p: p, {}))
    assert problem_kind(LayerProblem(affine_forward, affine_backward, (X,))) is None


def test_gradcheck_reports_a_loss_or_grad_that_mutates_params_or_exits():
    params = {"w": np.array([1.0, -2.0, 3.0])}

    def loss(p):
        return float(np.sum(p["w"] ** 2))

    def sgd_inside(p):
        g = 2 * p["w"]
        p["w"] -= 0.1 * g
        return {"w": g}

    with pytest.raises(BadInput, match=r"grad\(\) changed params\['w'\] in place.*grad_from_update"):
        gradcheck(loss, sgd_inside, params)
    assert np.array_equal(params["w"], [1.0, -2.0, 3.0])  # the user's code ran on a copy

    def exits(p):
        raise SystemExit(0)

    with pytest.raises(BadInput, match=r"loss\(\) called sys.exit\(0\)"):
        gradcheck(exits, lambda p: {"w": p["w"]}, {"w": np.ones(2)})
