"""The one check of a ``params`` dict against a spec: the keys it must have and the shape of each array.

Every spec kind (:class:`~numeric.spec.ModelSpec`, :class:`~numeric.conv_spec.ConvNetSpec`,
:class:`~numeric.rnn_spec.RnnSpec`) answers ``param_shapes()``, ``param_names()``, ``title``, ``net`` and
``layout``; the references (:mod:`numeric.backprop`, :mod:`numeric.conv_net`) both call :func:`check_params`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from numeric.errors import BadInput

__all__ = ["check_params"]


def check_params(spec: Any, params: Any) -> dict[str, np.ndarray]:
    """``params`` as arrays, keyed as the spec's parameters; BadInput naming what is missing, extra or misshapen."""
    if not isinstance(params, Mapping):
        raise BadInput(f"params must be a dict of arrays with keys {', '.join(spec.param_names())}, "
                       f"got {type(params).__name__}")
    shapes = spec.param_shapes()
    missing = [k for k in shapes if k not in params]
    extra = [k for k in params if k not in shapes]
    if missing or extra:
        what = []
        if missing:
            what.append(f"missing {', '.join(missing)}")
        if extra:
            what.append(f"unexpected {', '.join(map(str, extra))}" + (
                " (the spec has no biases)" if not getattr(spec, "bias", True) else ""))
        raise BadInput(f"params for {spec.title}: {'; '.join(what)}; expected keys {', '.join(shapes)}")
    out = {}
    for k, shape in shapes.items():
        arr = np.asarray(params[k])
        if arr.shape != shape:
            raise BadInput(f"parameter {k} has shape {arr.shape}, expected {shape} ({spec.layout} layout, "
                           f"net {spec.net})")
        out[k] = arr
    return out
