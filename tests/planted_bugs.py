"""A corpus of planted backprop bugs, for the gradient-checker tests and benchmarks (not a test module itself).

Each bug is a hand-written backward pass for one network (columns layout, biases, mean over the batch) with one
classic mistake. The loss is always right (numeric.backprop.loss); only the gradient is wrong. Every entry says what
the checker must find: which blocks are wrong, which are right, and words its diagnosis (or localisation) must use.

Tests import it by name (``import planted_bugs``: pytest puts tests/ on the path); benchmarks load it by path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from numeric import ModelSpec, backprop, init_params, random_batch

__all__ = ["BUGS", "Bug", "buggy_gradients", "make_problem"]

#: 4-5-3-2: every weight matrix is non-square, so a transposed gradient has the wrong shape.
SPEC = ModelSpec.build("4-5-3-2", "sigmoid,tanh,sigmoid", "quadratic", "mean")
M = 6  # batch size (not 2, so that 1/m differs from 1/2)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _prime(l: int, z: np.ndarray) -> np.ndarray:
    """sigma'(z) of layer l of SPEC: sigmoid, tanh, sigmoid."""
    if l == 2:
        return 1.0 - np.tanh(z) ** 2
    s = _sigmoid(z)
    return s * (1.0 - s)


def _act(l: int, z: np.ndarray) -> np.ndarray:
    return np.tanh(z) if l == 2 else _sigmoid(z)


def buggy_gradients(params: dict, x: np.ndarray, y: np.ndarray, bug: str | None = None) -> dict:
    """Nielsen-style backprop for SPEC with the named bug planted (None: correct)."""
    L = SPEC.L
    m = x.shape[1]
    Ws = [params[f"W{l}"] for l in range(1, L + 1)]
    bs = [params[f"b{l}"] for l in range(1, L + 1)]
    activation, activations, zs = x, [x], []
    for l, (W, b) in enumerate(zip(Ws, bs, strict=True), start=1):
        z = W @ activation + b
        zs.append(z)
        activation = _act(l, z)
        activations.append(activation)
    cost_da = activations[-1] - y  # quadratic cost 1/2 ||a - y||^2
    if bug == "forgotten_half":
        cost_da = 2 * (activations[-1] - y)  # the derivative of (a - y)^2, for a cost written with 1/2
    if bug == "sign_flip":
        cost_da = y - activations[-1]
    delta = cost_da * _prime(L, zs[-1])
    nabla_w = [np.zeros_like(W) for W in Ws]
    nabla_b = [np.zeros_like(b) for b in bs]
    nabla_w[-1] = delta @ activations[-2].T / m
    nabla_b[-1] = delta.sum(axis=1, keepdims=True) / m
    last = L - 1 if bug == "dropped_layer" else L  # the loop stops one layer early: layer 1 gets no gradient
    for l in range(2, last + 1):
        z = zs[-l]
        back = Ws[-l + 1].T @ delta
        if bug == "missing_sigma_prime" and l == 2:
            delta = back  # BP2 without the * sigma'(z^{L-1})
        elif bug == "sigma_prime_at_a" and l == 2:
            delta = back * _prime(L - l + 1, activations[-l])  # sigma' evaluated at a instead of z
        else:
            delta = back * _prime(L - l + 1, z)
        nabla_w[-l] = delta @ activations[-l - 1].T / m
        nabla_b[-l] = delta.sum(axis=1, keepdims=True) / m
    grads = {}
    for l in range(1, L + 1):
        grads[f"W{l}"] = nabla_w[l - 1]
        grads[f"b{l}"] = nabla_b[l - 1]
    if bug == "double_averaged_bias":
        for l in range(1, L + 1):
            grads[f"b{l}"] = grads[f"b{l}"] / m  # the sum was already divided by m: averaged twice
    if bug == "transposed_weight":
        grads["W2"] = grads["W2"].T.copy()  # (3, 5) expected, (5, 3) returned
    return grads


@dataclass(frozen=True)
class Bug:
    """One planted bug and what a correct diagnosis says."""

    name: str
    description: str
    wrong: tuple[str, ...]  # blocks that must be 'wrong'; every other block must be 'ok'
    diagnosis: dict[str, str]  # block -> a phrase its diagnosis must contain
    localisation: str | None = None  # a phrase the localisation must contain


_ALL = tuple(SPEC.param_names())

BUGS: dict[str, Bug] = {b.name: b for b in (
    Bug("double_averaged_bias", "bias gradient averaged twice (x1/m)", ("b1", "b2", "b3"),
        {"b1": "x1/m with m = 6", "b2": "x1/m with m = 6", "b3": "x1/m with m = 6"}),
    Bug("transposed_weight", "weight gradient of layer 2 returned transposed (non-square W)", ("W2",),
        {"W2": "transposed gradient"}),
    Bug("sign_flip", "delta^L = y - a instead of a - y", _ALL,
        {n: "sign flip" for n in _ALL}, "every block of every layer is wrong"),
    Bug("missing_sigma_prime", "BP2 for layer 2 without the factor sigma'(z^2)", ("W1", "b1", "W2", "b2"),
        {}, "the error enters at delta^2"),
    Bug("sigma_prime_at_a", "sigma'(a^2) instead of sigma'(z^2) in BP2", ("W1", "b1", "W2", "b2"),
        {}, "the error enters at delta^2"),
    Bug("dropped_layer", "the backward loop stops one layer early: layer 1 gets no gradient", ("W1", "b1"),
        {"W1": "all-zero gradient", "b1": "all-zero gradient"}, "never reaches"),
    Bug("forgotten_half", "derivative of (a - y)^2 used for the cost 1/2 (a - y)^2 (x2)", _ALL,
        {n: "forgotten 1/2" for n in _ALL}, "every block of every layer is wrong"),
)}


def make_problem(bug: str | None, seed: int = 0, m: int = M) -> tuple[Callable, Callable, dict]:
    """(loss, grad, params) for SPEC with the named bug planted in grad; the loss is numeric.backprop's."""
    rng = np.random.default_rng(seed)
    params = init_params(SPEC, rng)
    x, y = random_batch(SPEC, m, rng)
    loss = backprop.SpecLoss(SPEC, x, y)

    def grad(p: dict) -> dict:
        return buggy_gradients(p, x, y, bug)

    return loss, grad, params
