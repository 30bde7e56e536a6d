"""Generated NumPy kernel for the model family of bn_net (any widths).

Family:      3 layers; activations relu,relu,softmax; cost cce; mean over the batch;
             samples as rows; with biases.
             batchnorm on every hidden layer (training mode: the statistics of the batch given, eps = 1e-05);
Generated:   by bpv 0.1.0 with SymPy 1.14.0 from `bpv kernels bn_net`.
Derivation:  360359a1fbebe2e0 (hash of the batch-form, stable-form, activation, cost and
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
  batchnorm.dbeta: holds, symbolic: every one of the 5 units at (units, samples) = (2, 3), (3, 4): the
      difference expands to 0
  batchnorm.dgamma: holds, symbolic: every one of the 5 units at (units, samples) = (2, 3), (3, 4): the
      difference expands to 0
  batchnorm.dx_hat: holds, symbolic: every one of the 18 entries at (units, samples) = (2, 3), (3, 4): the
      difference expands to 0
  batchnorm.dvar: holds, symbolic: every one of the 5 groups at (units, samples) = (2, 3), (3, 4): the
      difference expands to 0
  batchnorm.dx_hat_dmu: holds, symbolic: every one of the 18 entries at (units, samples) = (2, 3), (3, 4):
      the difference expands to 0
  batchnorm.dvar_dmu: holds, symbolic: every one of the 5 groups at (units, samples) = (2, 3), (3, 4): the
      difference expands to 0
  batchnorm.dmu: holds, symbolic: every one of the 5 groups at (units, samples) = (2, 3), (3, 4): the
      difference expands to 0
  batchnorm.centred_sum: holds, symbolic: every one of the 5 groups at (units, samples) = (2, 3), (3, 4):
      the difference expands to 0
  batchnorm.dmu.mean: holds, symbolic: every one of the 5 groups at (units, samples) = (2, 3), (3, 4): the
      difference expands to 0
  batchnorm.dz: holds, symbolic: every one of the 18 entries at (units, samples) = (2, 3), (3, 4): the
      difference expands to 0
  batchnorm.dz.compact: holds, symbolic: every one of the 18 entries at (units, samples) = (2, 3), (3, 4):
      the difference expands to 0
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
FAMILY = 'L=3;act=relu,relu,softmax;cost=cce;red=mean;layout=rows;bias=True;norm=batch'
LAYERS = 3
#: eps of the batchnorm (torch's and CS231n's default)
EPS = 1e-05


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
    c = z.real.max(axis=1, keepdims=True)
    np.subtract(z, c, out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def log_sum_exp(z):
    """ln sum_k exp(z_k) of every sample, with the max subtracted (step lse.shift)."""
    c = z.real.max(axis=1, keepdims=True)
    return c + np.log(np.exp(-c + z).sum(axis=1, keepdims=True))


# ----- checking the arguments -------------------------------------------------------------------------------

KEYS = ('W1', 'b1', 'gamma1', 'beta1', 'W2', 'b2', 'gamma2', 'beta2', 'W3', 'b3')
#: params[KEYS[i]] for i in _W_AT are the weight matrices (a bias follows each, if any; then gamma, beta if normalised)
_W_AT = (0, 4, 8)


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
        if W.ndim != 2 or (n_prev is not None and W.shape[0] != n_prev):
            expected = f"(n_{l - 1}, n_{l})" + ("" if n_prev is None else f" with n_{l - 1} = {n_prev}")
            raise ValueError(f"params['W{l}'] has shape {W.shape}; expected {expected} (rows layout)")
        n_prev = W.shape[1]
        if arrays[i + 1].shape != (1, n_prev):
            expected = f"(1, n_{l}) = {(1, n_prev)}"
            raise ValueError(f"params['b{l}'] has shape {arrays[i + 1].shape}; expected {expected} (rows layout)")
        for k in range(i + 2, i + 2 + 2) if l < LAYERS else ():
            key, array = KEYS[k], arrays[k]
            if array.shape != (1, n_prev):
                raise ValueError(f"params[{key!r}] has shape {array.shape}; expected (1, n_{l}) = "
                                 f"{(1, n_prev)}, the shape of b{l} (rows layout)")
    return arrays


def _inputs(x, W1):
    """x as an array (m, n_0), its feature count checked against W1."""
    if type(x) is not np.ndarray or x.dtype.kind not in "fc":
        x = _array(x, "x")
    n_0 = W1.shape[0]
    if x.ndim != 2 or x.shape[1] != n_0:
        raise ValueError(f"x has shape {x.shape}; expected (m, n_0) with n_0 = {n_0} (rows layout: "
                         "one row per sample)")
    if x.shape[1 - 1] == 0:
        raise ValueError(f"x has shape {x.shape}: no samples (m = 0); a batch needs at least one")
    return x


def _targets(y, m, n_L, dtype):
    """y as an array (m, n_L); integer class labels of length m are one-hot encoded;
    real targets in the real type of the working ``dtype`` (float32 stays float32, complex step keeps real targets)."""
    if type(y) is np.ndarray and y.dtype == dtype and y.shape == (m, n_L):
        return y  # the common case, already right: no conversion
    real = np.finfo(dtype).dtype
    y = _array(y, "y", labels=np.ndim(y) == 1)
    if y.ndim == 1:
        if y.dtype.kind not in "iu" or y.shape[0] != m:
            raise ValueError(f"y has shape {y.shape} and dtype {y.dtype}; expected {m} integer class labels "
                             f"or one-hot targets of shape (m, n_L) = ({m}, {n_L})")
        if m and (y.min() < 0 or y.max() >= n_L):
            raise ValueError(f"y holds class labels outside 0..{n_L - 1}")
        one_hot = np.zeros((m, n_L), dtype=real)
        one_hot[np.arange(m), y] = 1.0
        return one_hot
    if y.shape != (m, n_L):
        raise ValueError(f"y has shape {y.shape}; expected (m, n_L) = {(m, n_L)} (rows layout)")
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
        array = self[key] = np.empty((self.m, self.widths[key[1] - 1]), dtype=self.dtype)
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
    """a^L for a batch x (m, n_0): returns a fresh array (m, n_L)."""
    W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3 = _parameters(params)
    A0 = _inputs(x, W1)
    dtype = np.result_type(W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, A0)
    m = A0.shape[0]
    ws = _workspace(dtype, m, (W1.shape[1], W2.shape[1], W3.shape[1]))
    Z1 = np.matmul(A0, W1, out=ws["Z", 1])
    Z1 += b1
    # batchnorm of layer 1 (steps batchnorm.*): the statistics of this batch
    mu1 = np.sum(Z1, axis=0, keepdims=True)/m
    centred1 = ws["centred", 1]
    np.subtract(Z1, mu1, out=centred1)
    var1 = np.sum(centred1**2, axis=0, keepdims=True)/m
    inv_std1 = 1/np.sqrt(var1 + EPS)
    x_hat1 = ws["x_hat", 1]
    np.multiply(centred1, inv_std1, out=x_hat1)
    U1 = ws["U", 1]
    np.multiply(gamma1, x_hat1, out=U1)
    U1 += beta1
    A1 = relu(U1, out=ws["A", 1])
    Z2 = np.matmul(A1, W2, out=ws["Z", 2])
    Z2 += b2
    # batchnorm of layer 2 (steps batchnorm.*): the statistics of this batch
    mu2 = np.sum(Z2, axis=0, keepdims=True)/m
    centred2 = ws["centred", 2]
    np.subtract(Z2, mu2, out=centred2)
    var2 = np.sum(centred2**2, axis=0, keepdims=True)/m
    inv_std2 = 1/np.sqrt(var2 + EPS)
    x_hat2 = ws["x_hat", 2]
    np.multiply(centred2, inv_std2, out=x_hat2)
    U2 = ws["U", 2]
    np.multiply(gamma2, x_hat2, out=U2)
    U2 += beta2
    A2 = relu(U2, out=ws["A", 2])
    Z3 = A2 @ W3
    Z3 += b3
    A3 = softmax(Z3)
    return A3


def loss(params, x, y):
    """The mean over the batch of the per-sample cce costs.

    x is (m, n_0), y is (m, n_L); integer class labels of length m also work.
    """
    W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3 = _parameters(params)
    A0 = _inputs(x, W1)
    dtype = np.result_type(W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, A0)
    m = A0.shape[0]
    ws = _workspace(dtype, m, (W1.shape[1], W2.shape[1], W3.shape[1]))
    Y = _targets(y, m, W3.shape[1], dtype)
    Z1 = np.matmul(A0, W1, out=ws["Z", 1])
    Z1 += b1
    # batchnorm of layer 1 (steps batchnorm.*): the statistics of this batch
    mu1 = np.sum(Z1, axis=0, keepdims=True)/m
    centred1 = ws["centred", 1]
    np.subtract(Z1, mu1, out=centred1)
    var1 = np.sum(centred1**2, axis=0, keepdims=True)/m
    inv_std1 = 1/np.sqrt(var1 + EPS)
    x_hat1 = ws["x_hat", 1]
    np.multiply(centred1, inv_std1, out=x_hat1)
    U1 = ws["U", 1]
    np.multiply(gamma1, x_hat1, out=U1)
    U1 += beta1
    A1 = relu(U1, out=ws["A", 1])
    Z2 = np.matmul(A1, W2, out=ws["Z", 2])
    Z2 += b2
    # batchnorm of layer 2 (steps batchnorm.*): the statistics of this batch
    mu2 = np.sum(Z2, axis=0, keepdims=True)/m
    centred2 = ws["centred", 2]
    np.subtract(Z2, mu2, out=centred2)
    var2 = np.sum(centred2**2, axis=0, keepdims=True)/m
    inv_std2 = 1/np.sqrt(var2 + EPS)
    x_hat2 = ws["x_hat", 2]
    np.multiply(centred2, inv_std2, out=x_hat2)
    U2 = ws["U", 2]
    np.multiply(gamma2, x_hat2, out=U2)
    U2 += beta2
    A2 = relu(U2, out=ws["A", 2])
    Z3 = np.matmul(A2, W3, out=ws["Z", 3])
    Z3 += b3
    cost = cce_from_lse(Z3, Y, log_sum_exp(Z3), out=ws["S", 3])
    return (np.sum(cost) / m).item()


def gradients(params, x, y):
    """dC/dtheta of every parameter, as a dict with the keys of params (fresh arrays, of the working dtype).

    x is (m, n_0), y is (m, n_L); integer class labels of length m also work.
    """
    W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3 = _parameters(params)
    A0 = _inputs(x, W1)
    dtype = np.result_type(W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3, A0)
    m = A0.shape[0]
    ws = _workspace(dtype, m, (W1.shape[1], W2.shape[1], W3.shape[1]))
    Y = _targets(y, m, W3.shape[1], dtype)
    Z1 = np.matmul(A0, W1, out=ws["Z", 1])
    Z1 += b1
    # batchnorm of layer 1 (steps batchnorm.*): the statistics of this batch
    mu1 = np.sum(Z1, axis=0, keepdims=True)/m
    centred1 = ws["centred", 1]
    np.subtract(Z1, mu1, out=centred1)
    var1 = np.sum(centred1**2, axis=0, keepdims=True)/m
    inv_std1 = 1/np.sqrt(var1 + EPS)
    x_hat1 = ws["x_hat", 1]
    np.multiply(centred1, inv_std1, out=x_hat1)
    U1 = ws["U", 1]
    np.multiply(gamma1, x_hat1, out=U1)
    U1 += beta1
    A1 = relu(U1, out=ws["A", 1])
    Z2 = np.matmul(A1, W2, out=ws["Z", 2])
    Z2 += b2
    # batchnorm of layer 2 (steps batchnorm.*): the statistics of this batch
    mu2 = np.sum(Z2, axis=0, keepdims=True)/m
    centred2 = ws["centred", 2]
    np.subtract(Z2, mu2, out=centred2)
    var2 = np.sum(centred2**2, axis=0, keepdims=True)/m
    inv_std2 = 1/np.sqrt(var2 + EPS)
    x_hat2 = ws["x_hat", 2]
    np.multiply(centred2, inv_std2, out=x_hat2)
    U2 = ws["U", 2]
    np.multiply(gamma2, x_hat2, out=U2)
    U2 += beta2
    A2 = relu(U2, out=ws["A", 2])
    Z3 = np.matmul(A2, W3, out=ws["Z", 3])
    Z3 += b3
    A3 = softmax(Z3, out=ws["A", 3])
    # errors pre-scaled by 1/m: the gradients sum, never average
    E3 = np.subtract(A3, Y, out=ws["E", 3])
    E3 /= m
    E2 = np.matmul(E3, W3.T, out=ws["E", 2])
    E2 *= relu_prime(U2, A2, out=ws["S", 2])
    # back through the batchnorm of layer 2 (the compact forms, steps batchnorm.*)
    d_gamma2 = np.sum(E2*x_hat2, axis=0, keepdims=True)
    d_beta2 = np.sum(E2, axis=0, keepdims=True)
    dZ2 = ws["dZ", 2]
    np.multiply(E2, m, out=dZ2)
    dZ2 -= d_beta2
    t1 = np.empty_like(dZ2)
    np.multiply(d_gamma2, x_hat2, out=t1)
    dZ2 -= t1
    dZ2 *= gamma2
    dZ2 *= inv_std2
    dZ2 /= m
    E2 = dZ2
    E1 = np.matmul(E2, W2.T, out=ws["E", 1])
    E1 *= relu_prime(U1, A1, out=ws["S", 1])
    # back through the batchnorm of layer 1 (the compact forms, steps batchnorm.*)
    d_gamma1 = np.sum(E1*x_hat1, axis=0, keepdims=True)
    d_beta1 = np.sum(E1, axis=0, keepdims=True)
    dZ1 = ws["dZ", 1]
    np.multiply(E1, m, out=dZ1)
    dZ1 -= d_beta1
    t1 = np.empty_like(dZ1)
    np.multiply(d_gamma1, x_hat1, out=t1)
    dZ1 -= t1
    dZ1 *= gamma1
    dZ1 *= inv_std1
    dZ1 /= m
    E1 = dZ1
    return {
        "W1": A0.T @ E1,
        "b1": ws.ones.T @ E1,
        "gamma1": d_gamma1,
        "beta1": d_beta1,
        "W2": A1.T @ E2,
        "b2": ws.ones.T @ E2,
        "gamma2": d_gamma2,
        "beta2": d_beta2,
        "W3": A2.T @ E3,
        "b3": ws.ones.T @ E3,
    }


def sgd_step(params, x, y, eta):
    """One step of gradient descent on the batch (x, y): the parameters after it, as fresh arrays.

    Printed from the derived update rules (steps update.*).
    """
    grads = gradients(params, x, y)
    return {
        "W1": params["W1"] - eta*grads["W1"],
        "b1": params["b1"] - eta*grads["b1"],
        "gamma1": params["gamma1"] - eta*grads["gamma1"],
        "beta1": params["beta1"] - eta*grads["beta1"],
        "W2": params["W2"] - eta*grads["W2"],
        "b2": params["b2"] - eta*grads["b2"],
        "gamma2": params["gamma2"] - eta*grads["gamma2"],
        "beta2": params["beta2"] - eta*grads["beta2"],
        "W3": params["W3"] - eta*grads["W3"],
        "b3": params["b3"] - eta*grads["b3"],
    }
