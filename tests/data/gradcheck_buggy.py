"""Example for `bpv gradcheck`: the same net as gradcheck_ok.py with two classic bugs.

The error d_out is already divided by m, and the bias gradient then *averages* it again (x1/m); the output
layer's gradient uses the derivative of (out - y)^2 for a cost written with 1/2 (x2, a forgotten 1/2).
"""

import numpy as np


def make_problem():
    rng = np.random.default_rng(0)
    m, d_in, d_hidden, d_out = 8, 5, 4, 3
    x = rng.standard_normal((m, d_in))
    y = rng.standard_normal((m, d_out))
    params = {
        "w1": rng.standard_normal((d_in, d_hidden)) / np.sqrt(d_in),
        "b1": np.zeros(d_hidden),
        "w2": rng.standard_normal((d_hidden, d_out)) / np.sqrt(d_hidden),
    }

    def loss(p):
        h = np.tanh(x @ p["w1"] + p["b1"])
        out = h @ p["w2"]
        return 0.5 * np.sum((out - y) ** 2) / m

    def grad(p):
        h = np.tanh(x @ p["w1"] + p["b1"])
        out = h @ p["w2"]
        d_out_ = (out - y) / m
        d_h = (d_out_ @ p["w2"].T) * (1 - h**2)
        return {"w1": x.T @ d_h, "b1": d_h.mean(axis=0), "w2": h.T @ (2 * d_out_)}

    return loss, grad, params
