"""Generated NumPy kernel for the model family of dropout_net (any widths).

Family:      3 layers; activations relu,relu,softmax; cost cce; mean over the batch;
             samples as columns; with biases.
             inverted dropout after every hidden activation, keep probability 0.5 (masks=);
Generated:   by bpv 0.1.0 with SymPy 1.14.0 from `bpv kernels dropout_net`.
Derivation:  cd5588a2f18b47e7 (hash of the batch-form, stable-form, activation, cost and
             output-error derivations this module is printed from, and of its blocks and update rules).

How it was verified
-------------------
Each layer-level line (Z, A, E, gradients) is printed from a batch form proven element-wise: evaluated
entry by entry on an instance with widths capped at 2 and batch m = 2, and compared with
sympy.diff of the batch cost (sigma and the downstream cost undefined functions; the output error with
this model's own functions). Each element-wise function is printed from a form proven equal to the
derived one (the *.kernel steps, the *.folded steps and the fused costs). The blocks past the dense layer and
sgd_step are printed from array forms proven entry by entry against sympy.diff of their definitions at small
sizes (or in index form for all sizes). Steps, verdicts and methods:
  batch.Delta3: holds, element-wise: all 4 entries equal sympy.diff of each sample's cost
  batch.Delta2: holds, element-wise: all 4 entries equal sympy.diff of the batch cost (symbolic)
  batch.Delta2.textbook: holds, symbolic: identical matrix expressions
  batch.Delta1: holds, element-wise: all 4 entries equal sympy.diff of the batch cost (symbolic)
  batch.Delta1.textbook: holds, symbolic: identical matrix expressions
  batch.nabla_W3: holds, element-wise: all 4 entries equal sympy.diff of the batch cost (symbolic)
  batch.nabla_W3.textbook: holds, symbolic: identical matrix expressions
  batch.nabla_b3: holds, element-wise: all 2 entries equal sympy.diff of the batch cost (symbolic)
  batch.nabla_b3.textbook: holds, symbolic: identical matrix expressions
  batch.nabla_W2: holds, element-wise: all 4 entries equal sympy.diff of the batch cost (symbolic)
  batch.nabla_W2.textbook: holds, symbolic: identical matrix expressions
  batch.nabla_b2: holds, element-wise: all 2 entries equal sympy.diff of the batch cost (symbolic)
  batch.nabla_b2.textbook: holds, symbolic: identical matrix expressions
  batch.nabla_W1: holds, element-wise: all 4 entries equal sympy.diff of the batch cost (symbolic)
  batch.nabla_W1.textbook: holds, symbolic: identical matrix expressions
  batch.nabla_b1: holds, element-wise: all 2 entries equal sympy.diff of the batch cost (symbolic)
  batch.nabla_b1.textbook: holds, symbolic: identical matrix expressions
  code.E2: holds, element-wise: all 4 entries equal sympy.diff of the batch cost (symbolic)
  code.E1: holds, element-wise: all 4 entries equal sympy.diff of the batch cost (symbolic)
  code.nabla_W3: holds, element-wise: all 4 entries equal sympy.diff of the batch cost (symbolic)
  code.nabla_b3: holds, element-wise: all 2 entries equal sympy.diff of the batch cost (symbolic)
  code.nabla_W2: holds, element-wise: all 4 entries equal sympy.diff of the batch cost (symbolic)
  code.nabla_b2: holds, element-wise: all 2 entries equal sympy.diff of the batch cost (symbolic)
  code.nabla_W1: holds, element-wise: all 4 entries equal sympy.diff of the batch cost (symbolic)
  code.nabla_b1: holds, element-wise: all 2 entries equal sympy.diff of the batch cost (symbolic)
  relu.kernel: holds, z > 0: symbolic: both sides identical; z < 0: symbolic: both sides identical; z = 0:
      exact
  relu.prime_kernel: holds, z > 0: symbolic: both sides identical; z < 0: symbolic: both sides identical; z
      = 0: exact
  softmax.shift: holds, symbolic: cancel, every j = 1..3
  softmax.vjp: holds, every j = 1..3 equals the sum over the derived Jacobian (symbolic: both sides
      identical)
  lse.shift: holds, symbolic: both sides identical (exp of both sides)
  cce.softmax_fused: holds, each term: -ln s_j = LSE(z) - z_j proven through exp (symbolic); the sum:
      symbolic: both sides identical
  dropout.da_uv: holds, symbolic: instantiated at (units, samples) = (2, 3), (3, 4), each of the 18 entries
      equals sympy.diff of the written-out cost
  dropout.da: holds, symbolic: both sides identical
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
    "FAMILY", "KEYS", "LAYERS", "MASKS", "REUSE_WORKSPACE", "WORKSPACE_SLOTS", "clear_workspace", "forward",
    "gradients", "loss", "sgd_step",
]

#: What this kernel serves: every width of this family.
FAMILY = 'L=3;act=relu,relu,softmax;cost=cce;red=mean;layout=columns;bias=True;keep_prob=0.5'
LAYERS = 3
#: the probability of keeping a unit (torch's p is 1 - KEEP_PROB)
KEEP_PROB = 0.5


# ----- element-wise functions, printed from the proven stable forms ----------------------------------------


def relu(z, out=None):
    """relu(z), proven equal to its definition."""
    if out is None:
        out = np.empty(z.shape, dtype=z.dtype)
    mask = z.real > 0
    np.multiply(mask, z, out=out)
    return out


def relu_prime(z, a, out=None):
    """relu'(z) from the forward value a = relu(z)."""
    if out is None:
        out = np.empty(z.shape, dtype=z.dtype)
    np.copyto(out, z.real > 0)
    return out


def cce_from_lse(z, y, lse, out=None):
    """One unit's cce cost after softmax, y (LSE(z) - z)."""
    if out is None:
        out = np.empty(z.shape, dtype=np.result_type(z, y, lse))
    np.subtract(lse, z, out=out)
    out *= y
    return out


def softmax(z, out=None):
    """Softmax of every sample, with the max subtracted (step softmax.shift): no exponent is positive."""
    if out is None:
        out = np.empty(z.shape, dtype=z.dtype)
    c = z.real.max(axis=0, keepdims=True)
    np.subtract(z, c, out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=0, keepdims=True)
    return out


def log_sum_exp(z):
    """ln sum_k exp(z_k) of every sample, with the max subtracted (step lse.shift)."""
    c = z.real.max(axis=0, keepdims=True)
    return c + np.log(np.exp(-c + z).sum(axis=0, keepdims=True))


# ----- checking the arguments -------------------------------------------------------------------------------

KEYS = ('W1', 'b1', 'W2', 'b2', 'W3', 'b3')
#: params[KEYS[i]] for i in _W_AT are the weight matrices (a bias follows each, if any; then gamma, beta if normalised)
_W_AT = (0, 2, 4)


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


MASKS = ('M1', 'M2')


def _masks(masks, m, widths, dtype):
    """The dropout masks in the order of MASKS (0/1 arrays shaped like a^l) in the working ``dtype`` (a float64
    mask would turn a float32 call into float64), or None: no dropout."""
    if masks is None:
        return None
    if not hasattr(masks, "keys") or sorted(masks.keys()) != sorted(MASKS):
        raise ValueError(f"masks must be None or a dict with keys {', '.join(MASKS)} (one 0/1 array per hidden layer)")
    arrays = []
    for key, n in zip(MASKS, widths, strict=True):
        mask = _array(masks[key], f"masks[{key!r}]")
        if mask.shape != (n, m):
            raise ValueError(f"masks[{key!r}] has shape {mask.shape}; expected (n, m) = {(n, m)}, "
                             "the shape of its layer's activations (columns layout)")
        if not np.all((mask == 0) | (mask == 1)):
            raise ValueError(f"masks[{key!r}] must hold only 0 and 1 (the 1/p scaling is the kernel's)")
        arrays.append(mask.astype(dtype, copy=False))
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
    """y as an array (n_L, m); integer class labels of length m are one-hot encoded;
    real targets in the real type of the working ``dtype`` (float32 stays float32, complex step keeps real targets)."""
    if type(y) is np.ndarray and y.dtype == dtype and y.shape == (n_L, m):
        return y  # the common case, already right: no conversion
    real = np.finfo(dtype).dtype
    y = _array(y, "y", labels=np.ndim(y) == 1)
    if y.ndim == 1:
        if y.dtype.kind not in "iu" or y.shape[0] != m:
            raise ValueError(f"y has shape {y.shape} and dtype {y.dtype}; expected {m} integer class labels "
                             f"or one-hot targets of shape (n_L, m) = ({n_L}, {m})")
        if m and (y.min() < 0 or y.max() >= n_L):
            raise ValueError(f"y holds class labels outside 0..{n_L - 1}")
        one_hot = np.zeros((n_L, m), dtype=real)
        one_hot[y, np.arange(m)] = 1.0
        return one_hot
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


def forward(params, x, *, masks=None):
    """a^L for a batch x (n_0, m): returns a fresh array (n_L, m)."""
    W1, b1, W2, b2, W3, b3 = _parameters(params)
    A0 = _inputs(x, W1)
    dtype = np.result_type(W1, b1, W2, b2, W3, b3, A0)
    m = A0.shape[1]
    ws = _workspace(dtype, m, (W1.shape[0], W2.shape[0], W3.shape[0]))
    M1, M2 = (None, None) if masks is None else _masks(masks, m, (W1.shape[0], W2.shape[0]), dtype)
    Z1 = np.matmul(W1, A0, out=ws["Z", 1])
    Z1 += b1
    F1 = relu(Z1, out=ws["A", 1])
    A1 = F1
    if M1 is not None:
        A1 = ws["D", 1]
        np.multiply(F1, M1, out=A1)
        A1 /= KEEP_PROB
    Z2 = np.matmul(W2, A1, out=ws["Z", 2])
    Z2 += b2
    F2 = relu(Z2, out=ws["A", 2])
    A2 = F2
    if M2 is not None:
        A2 = ws["D", 2]
        np.multiply(F2, M2, out=A2)
        A2 /= KEEP_PROB
    Z3 = W3 @ A2
    Z3 += b3
    A3 = softmax(Z3)
    return A3


def loss(params, x, y, *, masks=None):
    """The mean over the batch of the per-sample cce costs.

    x is (n_0, m), y is (n_L, m); integer class labels of length m also work.
    """
    W1, b1, W2, b2, W3, b3 = _parameters(params)
    A0 = _inputs(x, W1)
    dtype = np.result_type(W1, b1, W2, b2, W3, b3, A0)
    m = A0.shape[1]
    ws = _workspace(dtype, m, (W1.shape[0], W2.shape[0], W3.shape[0]))
    M1, M2 = (None, None) if masks is None else _masks(masks, m, (W1.shape[0], W2.shape[0]), dtype)
    Y = _targets(y, m, W3.shape[0], dtype)
    Z1 = np.matmul(W1, A0, out=ws["Z", 1])
    Z1 += b1
    F1 = relu(Z1, out=ws["A", 1])
    A1 = F1
    if M1 is not None:
        A1 = ws["D", 1]
        np.multiply(F1, M1, out=A1)
        A1 /= KEEP_PROB
    Z2 = np.matmul(W2, A1, out=ws["Z", 2])
    Z2 += b2
    F2 = relu(Z2, out=ws["A", 2])
    A2 = F2
    if M2 is not None:
        A2 = ws["D", 2]
        np.multiply(F2, M2, out=A2)
        A2 /= KEEP_PROB
    Z3 = np.matmul(W3, A2, out=ws["Z", 3])
    Z3 += b3
    cost = cce_from_lse(Z3, Y, log_sum_exp(Z3), out=ws["S", 3])
    return (np.sum(cost) / m).item()


def gradients(params, x, y, *, masks=None):
    """dC/dtheta of every parameter, as a dict with the keys of params (fresh arrays, of the working dtype).

    x is (n_0, m), y is (n_L, m); integer class labels of length m also work.
    """
    W1, b1, W2, b2, W3, b3 = _parameters(params)
    A0 = _inputs(x, W1)
    dtype = np.result_type(W1, b1, W2, b2, W3, b3, A0)
    m = A0.shape[1]
    ws = _workspace(dtype, m, (W1.shape[0], W2.shape[0], W3.shape[0]))
    M1, M2 = (None, None) if masks is None else _masks(masks, m, (W1.shape[0], W2.shape[0]), dtype)
    Y = _targets(y, m, W3.shape[0], dtype)
    Z1 = np.matmul(W1, A0, out=ws["Z", 1])
    Z1 += b1
    F1 = relu(Z1, out=ws["A", 1])
    A1 = F1
    if M1 is not None:
        A1 = ws["D", 1]
        np.multiply(F1, M1, out=A1)
        A1 /= KEEP_PROB
    Z2 = np.matmul(W2, A1, out=ws["Z", 2])
    Z2 += b2
    F2 = relu(Z2, out=ws["A", 2])
    A2 = F2
    if M2 is not None:
        A2 = ws["D", 2]
        np.multiply(F2, M2, out=A2)
        A2 /= KEEP_PROB
    Z3 = np.matmul(W3, A2, out=ws["Z", 3])
    Z3 += b3
    A3 = softmax(Z3, out=ws["A", 3])
    # errors pre-scaled by 1/m: the gradients sum, never average
    E3 = np.subtract(A3, Y, out=ws["E", 3])
    E3 /= m
    E2 = np.matmul(W3.T, E3, out=ws["E", 2])
    if M2 is not None:
        np.multiply(E2, M2, out=E2)
        E2 /= KEEP_PROB
    E2 *= relu_prime(Z2, F2, out=ws["S", 2])
    E1 = np.matmul(W2.T, E2, out=ws["E", 1])
    if M1 is not None:
        np.multiply(E1, M1, out=E1)
        E1 /= KEEP_PROB
    E1 *= relu_prime(Z1, F1, out=ws["S", 1])
    return {
        "W1": E1 @ A0.T,
        "b1": E1 @ ws.ones,
        "W2": E2 @ A1.T,
        "b2": E2 @ ws.ones,
        "W3": E3 @ A2.T,
        "b3": E3 @ ws.ones,
    }


def sgd_step(params, x, y, eta, *, masks=None):
    """One step of gradient descent on the batch (x, y): the parameters after it, as fresh arrays.

    Printed from the derived update rules (steps update.*).
    """
    grads = gradients(params, x, y, masks=masks)
    return {
        "W1": params["W1"] - eta*grads["W1"],
        "b1": params["b1"] - eta*grads["b1"],
        "W2": params["W2"] - eta*grads["W2"],
        "b2": params["b2"] - eta*grads["b2"],
        "W3": params["W3"] - eta*grads["W3"],
        "b3": params["b3"] - eta*grads["b3"],
    }
