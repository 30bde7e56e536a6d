"""Example for `bpv gradcheck`: a correct ReLU net evaluated exactly at kinks (exit 0, verdict "kink").

Integer-valued weights and inputs, and b1 chosen so that z = 0 exactly for the first sample: ReLU'(0) = 0 is a
valid subgradient there, and the checker must not call it wrong.
"""

import numpy as np


def make_problem():
    rng = np.random.default_rng(1)
    x = rng.integers(-2, 3, size=(3, 6)).astype(float)  # columns are samples
    y = rng.integers(-2, 3, size=(2, 6)).astype(float)
    params = {"W1": rng.integers(-3, 4, size=(4, 3)).astype(float),
              "W2": rng.integers(-3, 4, size=(2, 4)).astype(float)}
    params["b1"] = -(params["W1"] @ x[:, :1])

    def forward(p):
        z1 = p["W1"] @ x + p["b1"]
        a1 = np.where(z1 > 0, z1, 0.0)
        return z1, a1, p["W2"] @ a1

    def loss(p):
        return 0.5 * float(np.sum((forward(p)[2] - y) ** 2)) / x.shape[1]

    def grad(p):
        z1, a1, out = forward(p)
        delta2 = (out - y) / x.shape[1]
        delta1 = (p["W2"].T @ delta2) * (z1 > 0)
        return {"W1": delta1 @ x.T, "b1": delta1.sum(axis=1, keepdims=True), "W2": delta2 @ a1.T}

    return loss, grad, params
