"""Example for `bpv gradcheck`: CS231n-style conv and max-pool layers (tests/conv_bugs.py), correct and with bugs.

  bpv gradcheck tests/data/gradcheck_conv.py:make_problem     # a correct conv, stride 2, pad 1: exit 0
  bpv gradcheck tests/data/gradcheck_conv.py:unflipped        # dx with the kernel not flipped: exit 1
  bpv gradcheck tests/data/gradcheck_conv.py:stride_ignored   # the backward at stride 1: exit 1
  bpv gradcheck tests/data/gradcheck_conv.py:pool_ok          # a correct 2x2 max-pool: exit 0
  bpv gradcheck tests/data/gradcheck_conv.py:route_to_all     # every window element gets dout: exit 1
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, where conv_bugs.py lives

import conv_bugs

from numeric import LayerProblem


def _conv(bug=None):
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 2, 5, 6)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    return LayerProblem(conv_bugs.conv_forward, lambda dout, cache: conv_bugs.conv_backward(dout, cache, bug),
                        (x, w, b, {"stride": 2, "pad": 1}))


def _pool(bug=None):
    x = np.random.default_rng(6).standard_normal((2, 3, 6, 6))
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    return LayerProblem(conv_bugs.max_pool_forward, lambda dout, cache: conv_bugs.max_pool_backward(dout, cache, bug),
                        (x, pool_param))


def make_problem():
    return _conv()


def unflipped():
    return _conv("unflipped")


def stride_ignored():
    return _conv("stride_ignored")


def pool_ok():
    return _pool()


def route_to_all():
    return _pool("route_to_all")
