"""The workspace of every generated kernel: a template, filled in by :mod:`derive.codegen.workspace`.

The kernel's intermediates (Z^l, A^l, the errors E^l and one scratch array per layer) are written with ``out=``
into arrays kept from the previous call of the same shape: a fresh array of a few hundred KB costs page faults that
take as long as the arithmetic on it. Everything above the ``# ----- template`` line is a stand-in that makes this
file valid on its own and is not copied; ``TPL_BATCH(n, m)`` becomes the layout's batch shape.
"""

import threading

import numpy as np


def TPL_BATCH(n, m):
    return (n, m)


# ----- template: copied from the next line on -----

#: Keep the intermediate arrays of a call for the next call with the same dtype and shapes (one set per thread,
#: at most WORKSPACE_SLOTS sets). False: allocate them afresh on every call. Returned arrays are always fresh.
REUSE_WORKSPACE = True
WORKSPACE_SLOTS = 4


class _Workspace(dict):
    """The intermediate arrays of one dtype and shape: ``ws["Z", l]`` is the array for Z^l, made on first use;
    ``ws.ones`` is the all-ones column 1 (m, 1) of the bias gradients Delta 1 (a matrix-vector product costs a
    third of a reduction along the batch)."""

    def __init__(self, dtype, m, widths):
        super().__init__()
        self.dtype, self.m, self.widths = dtype, m, widths
        self.ones = np.ones((m, 1), dtype=dtype)

    def __missing__(self, key):
        array = self[key] = np.empty(TPL_BATCH(self.widths[key[1] - 1], self.m), dtype=self.dtype)
        return array


_THREAD = threading.local()


def _workspace(dtype, m, widths):
    """The workspace for ``dtype``, batch size ``m`` and layer widths ``widths``; a complex call (complex step)
    and a real one never share arrays, and neither do two threads."""
    if not REUSE_WORKSPACE:
        return _Workspace(dtype, m, widths)
    kept = _THREAD.__dict__
    key = (dtype, m, widths)
    ws = kept.get(key)
    if ws is None:
        while len(kept) >= max(1, WORKSPACE_SLOTS):
            kept.pop(next(iter(kept)))  # the oldest
        ws = kept[key] = _Workspace(dtype, m, widths)
    return ws


def clear_workspace():
    """Free the arrays this thread keeps between calls."""
    _THREAD.__dict__.clear()
