"""Generated NumPy kernel for the model family of binary_classifier (any widths).

Family:      2 layers; activations sigmoid,sigmoid; cost bce; mean over the batch;
             samples as columns; with biases.
Generated:   by bpv 0.1.0 with SymPy 1.14.0 from `bpv kernels binary_classifier`.
Derivation:  a45d4e6715c47518 (hash of the batch-form, stable-form, activation, cost and
             output-error derivations this module is printed from, and of its update rule).

How it was verified
-------------------
Each layer-level line (Z, A, E, gradients) is printed from a batch form proven element-wise: evaluated
entry by entry on an instance with widths capped at 2 and batch m = 2, and compared with
sympy.diff of the batch cost (sigma and the downstream cost undefined functions; the output error with
this model's own functions). Each element-wise function is printed from a form proven equal to the
derived one (the *.kernel steps, the *.folded steps and the fused costs). sgd_step is printed from the derived
update rule (steps update.*). Steps, verdicts and methods:
  batch.Delta2: holds, element-wise: all 2 entries equal sympy.diff of each sample's cost
  batch.Delta1: holds, element-wise: all 4 entries equal sympy.diff of the batch cost (symbolic)
  batch.Delta1.textbook: holds, symbolic: identical matrix expressions
  batch.nabla_W2: holds, element-wise: all 2 entries equal sympy.diff of the batch cost (symbolic)
  batch.nabla_W2.textbook: holds, symbolic: identical matrix expressions
  batch.nabla_b2: holds, element-wise: all 1 entries equal sympy.diff of the batch cost (symbolic)
  batch.nabla_b2.textbook: holds, symbolic: identical matrix expressions
  batch.nabla_W1: holds, element-wise: all 4 entries equal sympy.diff of the batch cost (symbolic)
  batch.nabla_W1.textbook: holds, symbolic: identical matrix expressions
  batch.nabla_b1: holds, element-wise: all 2 entries equal sympy.diff of the batch cost (symbolic)
  batch.nabla_b1.textbook: holds, symbolic: identical matrix expressions
  code.E1: holds, element-wise: all 4 entries equal sympy.diff of the batch cost (symbolic)
  code.nabla_W2: holds, element-wise: all 2 entries equal sympy.diff of the batch cost (symbolic)
  code.nabla_b2: holds, element-wise: all 1 entries equal sympy.diff of the batch cost (symbolic)
  code.nabla_W1: holds, element-wise: all 4 entries equal sympy.diff of the batch cost (symbolic)
  code.nabla_b1: holds, element-wise: all 2 entries equal sympy.diff of the batch cost (symbolic)
  sigmoid.kernel: holds, z > 0: symbolic: difference reduces to 0 by cancel (tanh rewritten with exp); z <
      0: symbolic: difference reduces to 0 by cancel (tanh rewritten with exp); z = 0: exact
  sigmoid.prime_kernel: holds, z > 0: symbolic: difference reduces to 0 by cancel; z < 0: symbolic:
      difference reduces to 0 by cancel; z = 0: exact
  bce.sigmoid_fused: holds, linear in y (symbolic: both sides identical); y^0 part: z > 0: symbolic:
      difference reduces to 0 by simplify; z < 0: symbolic: difference reduces to 0 by simplify; z = 0:
      exact; y^1 part: z > 0: symbolic: difference reduces to 0 by simplify; z < 0: symbolic: difference
      reduces to 0 by simplify; z = 0: exact
  sigmoid.folded: holds, z > 0: symbolic: both sides identical; z < 0: symbolic: both sides identical; z =
      0: exact
Before writing this file, `bpv kernels` ran it on a random instance and compared it with the hand-written
backprop and with finite differences (block-relative error <= 1e-12 against numeric.backprop (forward, loss,
gradients) and against complex step; central differences with Richardson extrapolation within their own error
estimate (numeric.gradcheck, full mode)); it refuses to write a kernel that fails.

Needs NumPy only. Do not edit: regenerate.
"""
from __future__ import annotations

import threading

import numpy as np

__all__ = [
    "FAMILY", "KEYS", "LAYERS", "REUSE_WORKSPACE", "WORKSPACE_SLOTS", "clear_workspace", "forward",
    "gradients", "loss", "sgd_step",
]

#: What this kernel serves: every width of this family.
FAMILY = 'L=2;act=sigmoid,sigmoid;cost=bce;red=mean;layout=columns;bias=True'
LAYERS = 2


# ----- element-wise functions, printed from the proven stable forms ----------------------------------------


def _vectorised(ufunc):
    """The type characters of the loops of NumPy's ``ufunc`` that run an AVX-512 build on this CPU (NumPy >= 2
    reports which build runs; an older NumPy: none)."""
    try:
        from numpy.lib.introspect import opt_func_info
    except ImportError:
        return frozenset()
    loops = opt_func_info(func_name=f"^{ufunc}$").get(ufunc, {})
    return frozenset(types[0] for types, build in loops.items()
                     if "AVX512" in build.get("current", "") or "X86_V4" in build.get("current", ""))


#: the dtypes (type characters) whose tanh NumPy vectorises here: for those, a folded function takes its stable
#: tanh form, about twice as fast as the fold's passes (derive.codegen.folded)
VECTOR_TANH = _vectorised("tanh")


def _sigmoid_tanh(z, out=None):
    """sigmoid(z), proven equal to its definition (step sigmoid.kernel): the form for a vectorised tanh."""
    if out is None:
        out = np.empty(z.shape, dtype=z.dtype)
    np.multiply(z, 1/2, out=out)
    np.tanh(out, out=out)
    out *= 1/2
    out += 1/2
    return out


def sigmoid(z, out=None, scratch=None, mask=None):
    """sigmoid(z) through u = exp(-|z|), one exponential that never overflows (step sigmoid.folded);
    where NumPy vectorises tanh, the stable form instead."""
    if z.dtype.char in VECTOR_TANH:  # tanh vectorised here: the stable form is cheaper
        return _sigmoid_tanh(z, out)
    if out is None:
        out = np.empty(z.shape, dtype=z.dtype)
    u = np.empty_like(out) if scratch is None else scratch
    # the mask as a number of out's type: a bool mask costs a cast in every product that reads it
    mask = np.empty_like(out) if mask is None else mask
    np.copyto(mask, z.real > 0)
    np.multiply(mask, z, out=u)
    u *= 2
    np.subtract(z, u, out=u)
    np.exp(u, out=u)
    np.subtract(1, u, out=out)
    out *= mask
    out += u
    np.add(1, u, out=u)
    out /= u
    return out


def sigmoid_prime(z, a, out=None):
    """sigmoid'(z) from the forward value a = sigmoid(z)."""
    if out is None:
        out = np.empty(z.shape, dtype=a.dtype)
    np.subtract(1, a, out=out)
    out *= a
    return out


def bce_from_z(z, y, out=None):
    """One unit's bce cost after a sigmoid, from z: softplus(z) - y z."""
    if out is None:
        out = np.empty(z.shape, dtype=np.result_type(z, y))
    pos = z.real > 0
    neg = ~pos
    out[pos] = -y[pos]*z[pos] + z[pos] + np.log1p(np.exp(-z[pos]))
    out[neg] = -y[neg]*z[neg] + np.log1p(np.exp(z[neg]))
    return out


# ----- checking the arguments -------------------------------------------------------------------------------

KEYS = ('W1', 'b1', 'W2', 'b2')
#: params[KEYS[i]] for i in _W_AT are the weight matrices (a bias follows each, if any; then gamma, beta if normalised)
_W_AT = (0, 2)


def _array(value, what, labels=False):
    """A float (or complex) array; integers become float64 unless they are class labels."""
    array = np.asarray(value)
    if array.dtype.kind not in "biufc":
        raise ValueError(f"{what} must be a numeric array, got dtype {array.dtype}")
    if array.dtype.kind in "biu" and not labels:
        array = array.astype(np.float64)
    return array


def _parameters(params):
    """The parameter arrays in the order of KEYS, their shapes checked against each other.

    A float or complex ndarray is taken as it is: every call pays these checks, so the common case runs no
    conversion and formats no message (the messages are built only on the way to an error)."""
    if not hasattr(params, "keys"):
        raise ValueError(f"params must be a dict with keys {', '.join(KEYS)}, got {type(params).__name__}")
    try:
        arrays = [params[key] for key in KEYS]
    except KeyError:
        missing = [key for key in KEYS if key not in params]
        raise ValueError(f"params is missing {missing[0]!r}: expected keys {', '.join(KEYS)}") from None
    for i, array in enumerate(arrays):
        if type(array) is not np.ndarray or array.dtype.kind not in "fc":
            arrays[i] = _array(array, f"params[{KEYS[i]!r}]")
    n_prev = None
    for l, i in enumerate(_W_AT, start=1):
        W = arrays[i]
        if W.ndim != 2 or (n_prev is not None and W.shape[1] != n_prev):
            expected = f"(n_{l}, n_{l - 1})" + ("" if n_prev is None else f" with n_{l - 1} = {n_prev}")
            raise ValueError(f"params['W{l}'] has shape {W.shape}; expected {expected} (columns layout)")
        n_prev = W.shape[0]
        if arrays[i + 1].shape != (n_prev, 1):
            expected = f"(n_{l}, 1) = {(n_prev, 1)}"
            raise ValueError(f"params['b{l}'] has shape {arrays[i + 1].shape}; expected {expected} (columns layout)")
    return arrays


def _inputs(x, W1):
    """x as an array (n_0, m), its feature count checked against W1."""
    if type(x) is not np.ndarray or x.dtype.kind not in "fc":
        x = _array(x, "x")
    n_0 = W1.shape[1]
    if x.ndim != 2 or x.shape[0] != n_0:
        raise ValueError(f"x has shape {x.shape}; expected (n_0, m) with n_0 = {n_0} (columns layout: "
                         "one column per sample)")
    if x.shape[1 - 0] == 0:
        raise ValueError(f"x has shape {x.shape}: no samples (m = 0); a batch needs at least one")
    return x


def _targets(y, m, n_L, dtype):
    """y as an array (n_L, m);
    real targets in the real type of the working ``dtype`` (float32 stays float32, complex step keeps real targets)."""
    if type(y) is np.ndarray and y.dtype == dtype and y.shape == (n_L, m):
        return y  # the common case, already right: no conversion
    real = np.finfo(dtype).dtype
    y = _array(y, "y")
    if y.shape != (n_L, m):
        raise ValueError(f"y has shape {y.shape}; expected (n_L, m) = {(n_L, m)} (columns layout)")
    return y if y.dtype.kind == "c" else y.astype(real, copy=False)


# ----- the workspace: intermediates kept between calls ------------------------------------------------------

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
        array = self[key] = np.empty((self.widths[key[1] - 1], self.m), dtype=self.dtype)
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


# ----- the model, printed from the proven batch forms -------------------------------------------------------


def forward(params, x):
    """a^L for a batch x (n_0, m): returns a fresh array (n_L, m)."""
    W1, b1, W2, b2 = _parameters(params)
    A0 = _inputs(x, W1)
    dtype = np.result_type(W1, b1, W2, b2, A0)
    m = A0.shape[1]
    ws = _workspace(dtype, m, (W1.shape[0], W2.shape[0]))
    Z1 = np.matmul(W1, A0, out=ws["Z", 1])
    Z1 += b1
    # A1 overwrites Z1: no later line reads Z1 (the derivative is computed from A1)
    A1 = sigmoid(Z1, out=ws["Z", 1], scratch=ws["S", 1], mask=ws["E", 1])
    Z2 = W2 @ A1
    Z2 += b2
    A2 = sigmoid(Z2)
    return A2


def loss(params, x, y):
    """The mean over the batch of the per-sample bce costs.

    x is (n_0, m), y is (n_L, m).
    """
    W1, b1, W2, b2 = _parameters(params)
    A0 = _inputs(x, W1)
    dtype = np.result_type(W1, b1, W2, b2, A0)
    m = A0.shape[1]
    ws = _workspace(dtype, m, (W1.shape[0], W2.shape[0]))
    Y = _targets(y, m, W2.shape[0], dtype)
    Z1 = np.matmul(W1, A0, out=ws["Z", 1])
    Z1 += b1
    # A1 overwrites Z1: no later line reads Z1 (the derivative is computed from A1)
    A1 = sigmoid(Z1, out=ws["Z", 1], scratch=ws["S", 1], mask=ws["E", 1])
    Z2 = np.matmul(W2, A1, out=ws["Z", 2])
    Z2 += b2
    cost = bce_from_z(Z2, Y, out=ws["S", 2])
    return (np.sum(cost) / m).item()


def gradients(params, x, y):
    """dC/dW^l and dC/db^l of every layer, as a dict with the keys of params (fresh arrays, of the working dtype).

    x is (n_0, m), y is (n_L, m).
    """
    W1, b1, W2, b2 = _parameters(params)
    A0 = _inputs(x, W1)
    dtype = np.result_type(W1, b1, W2, b2, A0)
    m = A0.shape[1]
    ws = _workspace(dtype, m, (W1.shape[0], W2.shape[0]))
    Y = _targets(y, m, W2.shape[0], dtype)
    Z1 = np.matmul(W1, A0, out=ws["Z", 1])
    Z1 += b1
    # A1 overwrites Z1: no later line reads Z1 (the derivative is computed from A1)
    A1 = sigmoid(Z1, out=ws["Z", 1], scratch=ws["S", 1], mask=ws["E", 1])
    Z2 = np.matmul(W2, A1, out=ws["Z", 2])
    Z2 += b2
    A2 = sigmoid(Z2, out=ws["A", 2], scratch=ws["S", 2], mask=ws["E", 2])
    # errors pre-scaled by 1/m (steps code.E1..code.E2): the gradients sum, never average
    E2 = np.subtract(A2, Y, out=ws["E", 2])
    E2 /= m
    E1 = np.matmul(W2.T, E2, out=ws["E", 1])
    E1 *= sigmoid_prime(Z1, A1, out=ws["S", 1])
    return {
        "W1": E1 @ A0.T,
        "b1": E1 @ ws.ones,
        "W2": E2 @ A1.T,
        "b2": E2 @ ws.ones,
    }


def sgd_step(params, x, y, eta):
    """One step of gradient descent on the batch (x, y): the parameters after it, as fresh arrays.

    Printed from the derived update rule (steps update.*): theta -> theta - eta dC/dtheta.
    """
    grads = gradients(params, x, y)
    return {
        "W1": params["W1"] - eta*grads["W1"],
        "b1": params["b1"] - eta*grads["b1"],
        "W2": params["W2"] - eta*grads["W2"],
        "b2": params["b2"] - eta*grads["b2"],
    }
