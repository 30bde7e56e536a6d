"""Example for `bpv gradcheck`: make_problem returns two things instead of (loss, grad, params) (exit 2)."""

import numpy as np


def make_problem():
    params = {"w": np.ones(3)}
    return (lambda p: float(np.sum(p["w"] ** 2))), params
