"""Example for `bpv gradcheck`: a correct two-layer net written row-major, as NumPy tutorials do.

x is (m, d_in); h = tanh(x w1 + b1); out = h w2; loss = mean over samples of 1/2 ||out - y||^2.
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
        return {"w1": x.T @ d_h, "b1": d_h.sum(axis=0), "w2": h.T @ d_out_}

    return loss, grad, params
