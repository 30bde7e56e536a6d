"""Generated NumPy kernel for lenet_tiny.

Family:      conv;net=1x8x8-c4k3p1-pool2-flat-10;act=relu,softmax;cost=cce;red=mean
             the net 1x8x8-c4k3p1-pool2-flat-10, activations relu,softmax, cost cce, mean over the batch;
             samples as rows, NCHW: x (m, C, H, W), y (m, n_L) or integer labels (m,).
Generated:   by bpv 0.1.0 with SymPy 1.14.0 from `bpv kernels lenet_tiny`.
Derivation:  a170f26a807bdcde (derive_model(spec).hash(): every part listed below).

How it was verified
-------------------
Every section is printed from forms proven by the derivation of this model (the hash above) or by the stable-
form derivations of the dense kernels; refused when one does not hold. Sections and the forms they are printed
from:
  element-wise functions: relu.kernel, relu.prime_kernel, softmax.shift, softmax.vjp, lse.shift,
      cce.softmax_fused.
  convolution (im2col + GEMM): forward conv.Y; dK conv.dK.correlate; db conv.db.sum; dX conv.dX.full (the
      full convolution of the dilated error with the rotated kernel, cropped).
  max-pooling: forward pool.P; backward pool.dX.route (the first maximum of each window in row-major order,
      the tie convention pool.dX.ties).
  dense head after flatten (rows layout): batch.Z*, batch.A*, code.E*, code.nabla_W*, code.nabla_b*; the
      gradient into flatten is BP2's product E W^T; a convolution's activation derivative is BP2's Hadamard
      factor f'(Z) (the *.prime_kernel forms).
  sgd_step: theta -> theta - eta dC/dtheta for every parameter.
Steps, verdicts and methods, part by part:
  [relu derivative from its definition]
  relu.diff: holds, numeric: agrees with a 60-digit central difference at 4 points (the definition branches
      on the sign of z, and the limit of the difference quotient cannot be taken through a branch of unknown
      sign)
  relu.convention: holds, numeric: agrees at 6 random points to 30 digits
  relu.closed: holds, numeric: agrees at 6 random points to 30 digits
  [softmax Jacobian (width 3 exhaustively; all widths in index form)]
  softmax.diff: holds, instantiated at n = 3: every entry equals the derivative taken at that width
  softmax.jacobian_claim: holds, symbolic: difference reduces to 0 by cancel (sum replaced by a symbol S)
  softmax.jacobian_width: holds, every one of the 9 entries proven equal (symbolic, cross-checked
      numerically)
  [cce cost and its derivative]
  cce.diff: holds, instantiated at n = 3: equals the derivative taken at that width, every output
  cce.dC_da: holds, symbolic: both sides identical
  [output error delta^L for softmax output and cce cost (width 3, full Jacobian)]
  out.delta: holds, every j = 1..3: direct derivative equals the Jacobian sum
  out.fused: holds, every j = 1..3, with y_3 = 1 - (y_1 + y_2) substituted
  [BP1-BP4 for every width (index form; sigma and C undefined; the chain rule is the one axiom)]
  da_dz: holds, symbolic: equals sympy.diff of the definition instantiated at widths 1-1-1-1, 2-3-2-2,
      3-2-3-3 for every index
  z_next: holds, symbolic: the definition of z with l -> l+1, then a^l_i -> sigma(z^l_i) (identical trees)
  dz_next_dz: holds, symbolic: equals sympy.diff of the definition instantiated at widths 1-1-1-1, 2-3-2-2,
      3-2-3-3 for every index
  dz_db: holds, symbolic: equals sympy.diff of the definition instantiated at widths 1-1-1-1, 2-3-2-2,
      3-2-3-3 for every index
  dz_dw: holds, symbolic: equals sympy.diff of the definition instantiated at widths 1-1-1-1, 2-3-2-2,
      3-2-3-3 for every index
  BP1.chain: holds, symbolic: identical to the axiom with u = z^L_j, v_k = a^L_k, N = n_L
  BP1.substitute: holds, symbolic: both sides identical
  BP1.collapse: holds, symbolic: the sum over the Kronecker delta evaluated (all widths; the surviving index
      is a unit index, so the case where it lies in range applies)
  BP1: holds, symbolic: equal for all widths (constants pulled out of the sums, difference expands to 0)
  BP1a: holds, symbolic: every entry of the Hadamard product equals BP1, widths n_L = 1..4
  BP2.chain: holds, symbolic: identical to the axiom with u = z^l_j, v_k = z^(l+1)_k, N = n_{l+1}
  BP2.substitute: holds, symbolic: both sides identical
  BP2: holds, symbolic: equal for all widths (constants pulled out of the sums, difference expands to 0)
  BP3.chain: holds, symbolic: identical to the axiom with u = b^l_j, v_i = z^l_i, N = n_l
  BP3.substitute: holds, symbolic: both sides identical
  BP3.collapse: holds, symbolic: the sum over the Kronecker delta evaluated (all widths; the surviving index
      is a unit index, so the case where it lies in range applies)
  BP3: holds, symbolic: equal for all widths (constants pulled out of the sums, difference expands to 0)
  BP4.chain: holds, symbolic: identical to the axiom with u = w^l_{jk}, v_i = z^l_i, N = n_l
  BP4.substitute: holds, symbolic: both sides identical
  BP4.collapse: holds, symbolic: the sum over the Kronecker delta evaluated (all widths; the surviving index
      is a unit index, so the case where it lies in range applies)
  BP4: holds, symbolic: equal for all widths (constants pulled out of the sums, difference expands to 0)
  [batch forms (mean over the batch, samples as rows)]
  batch.Delta1: holds, element-wise: all 4 entries equal sympy.diff of each sample's cost
  batch.nabla_W1: holds, element-wise: all 4 entries equal sympy.diff of the batch cost (symbolic)
  batch.nabla_W1.textbook: holds, symbolic: identical matrix expressions
  batch.nabla_b1: holds, element-wise: all 2 entries equal sympy.diff of the batch cost (symbolic)
  batch.nabla_b1.textbook: holds, symbolic: identical matrix expressions
  code.nabla_W1: holds, element-wise: all 4 entries equal sympy.diff of the batch cost (symbolic)
  code.nabla_b1: holds, element-wise: all 2 entries equal sympy.diff of the batch cost (symbolic)
  [2-D convolution (cross-correlation, NCHW): the backward derived from the definition]
  conv.dK.diff: holds, exact: sum K dC/dK + sum b dC/db = C (Euler: C is linear in them jointly) at 3 random
      rational points at each of the 4 sizes
  conv.db.diff: holds, exact: sum K dC/dK + sum b dC/db = C (Euler: C is linear in them jointly) at 3 random
      rational points at each of the 4 sizes
  conv.dX.diff: holds, exact: sum X dC/dX + sum b dC/db = C (Euler: C is linear in them jointly) at 3 random
      rational points at each of the 4 sizes
  conv.dK.index: holds, symbolic: every one of the 24 entries at (m=1, C_in=2, C_out=3, HxW=4x5, k=2, s=1,
      p=0): the index form instantiated equals sympy.diff there (the difference expands to 0)
  conv.db.index: holds, symbolic: every one of the 3 entries at (m=1, C_in=2, C_out=3, HxW=4x5, k=2, s=1,
      p=0): the index form instantiated equals sympy.diff there (the difference expands to 0)
  conv.dK.correlate: holds, symbolic: every one of the 96 kernel entries at the 4 sizes (the difference
      expands to 0)
  conv.db.sum: holds, symbolic: every one of the 12 bias entries at the 4 sizes (the difference expands to
      0)
  conv.dX.full: holds, symbolic: every one of the 160 input entries at the 4 sizes (the difference expands
      to 0)
  [max-pooling (2 x 2, stride 2): the backward derived from the definition]
  pool.dX.diff: holds, exact: every one of the 24 entries equals an exact central difference of C at 4
      points with distinct inputs (C is linear between ties)
  pool.dX.h0: holds, numeric: every one of the 24 entries agrees exactly at 6 random points with distinct
      inputs (away from ties)
  pool.dX.ties: holds, numeric: every one of the 24 entries agrees exactly at 6 random points with distinct
      inputs (away from ties)
  pool.dX.route: holds, exact: the 168 entries at 4 random points with distinct inputs and 3 points with
      ties (all equal, tied pairs) agree
  [lenet_tiny end to end: sympy.diff of the composed cost against the chained rules (60 digits)]
  e2e.conv.W1: holds, numeric: 5 of the 18 entries (corners and centre: (0, 0, 0, 0), (1, 0, 0, 2), (0, 0,
      1, 1), (1, 0, 2, 0), (0, 0, 2, 2)) of W1, error relative to the block 4.11E-61 <= 1e-40 at 60 digits
  e2e.conv.b1: holds, numeric: every one of the 2 entries of b1, error relative to the block 1.92E-61 <=
      1e-40 at 60 digits
  e2e.conv.W2: holds, numeric: every one of the 36 entries of W2, error relative to the block 3.65E-61 <=
      1e-40 at 60 digits
  e2e.conv.b2: holds, numeric: every one of the 3 entries of b2, error relative to the block 4.28E-61 <=
      1e-40 at 60 digits
  [stable and closed forms for the kernel (relu,softmax / cce)]
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
tests/test_kernels_shared.py compares this module with the hand-written reference numeric.conv_net (loss and
every gradient block, block-relative error <= 1e-12).

Needs NumPy only. Do not edit: regenerate.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = [
    "FAMILY", "INPUT_SHAPE", "KEYS", "NET", "N_OUT", "SHAPES", "forward", "gradients", "loss", "sgd_step",
]

#: What this kernel serves: exactly this net (every shape is fixed).
FAMILY = 'conv;net=1x8x8-c4k3p1-pool2-flat-10;act=relu,softmax;cost=cce;red=mean'
NET = '1x8x8-c4k3p1-pool2-flat-10'
#: one sample's (C, H, W)
INPUT_SHAPE = (1, 8, 8)
N_OUT = 10
KEYS = ('W1', 'b1', 'W2', 'b2')
SHAPES = {'W1': (4, 1, 3, 3), 'b1': (1, 4), 'W2': (64, 10), 'b2': (1, 10)}


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


def _array(value, what, labels=False):
    """A float (or complex) array; integers become float64 unless they are class labels."""
    array = np.asarray(value)
    if array.dtype.kind not in "biufc":
        raise ValueError(f"{what} must be a numeric array, got dtype {array.dtype}")
    if array.dtype.kind in "biu" and not labels:
        array = array.astype(np.float64)
    return array


def _parameters(params):
    """The parameter arrays in the order of KEYS, each of the shape SHAPES gives (this kernel serves one net)."""
    if not hasattr(params, "keys"):
        raise ValueError(f"params must be a dict with keys {', '.join(KEYS)}, got {type(params).__name__}")
    missing = [key for key in KEYS if key not in params]
    if missing:
        raise ValueError(f"params is missing {missing[0]!r}: expected keys {', '.join(KEYS)}")
    arrays = []
    for key in KEYS:
        array = params[key]
        if type(array) is not np.ndarray or array.dtype.kind not in "fc":
            array = _array(array, f"params[{key!r}]")
        if array.shape != SHAPES[key]:
            raise ValueError(f"params[{key!r}] has shape {array.shape}; expected {SHAPES[key]} (this kernel "
                             f"serves the net {NET} only)")
        arrays.append(array)
    return arrays


def _inputs(x):
    """x as an array (m, C, H, W) with this net's C, H, W (samples as rows, NCHW) and at least one sample."""
    if type(x) is not np.ndarray or x.dtype.kind not in "fc":
        x = _array(x, "x")
    if x.ndim != 4 or x.shape[1:] != INPUT_SHAPE or x.shape[0] < 1:
        raise ValueError(f"x has shape {x.shape}; expected (m, C, H, W) = (m, {', '.join(map(str, INPUT_SHAPE))})"
                         " with m >= 1 (samples as rows, NCHW)")
    return x


def _targets(y, m, dtype):
    """y as an array (m, N_OUT) in the real type of the working ``dtype`` (float32 stays float32);
    integer class labels (m,) are one-hot encoded."""
    if type(y) is np.ndarray and y.dtype == dtype and y.shape == (m, N_OUT):
        return y  # the common case, already right: no conversion
    real = np.finfo(dtype).dtype
    y = _array(y, "y", labels=np.ndim(y) == 1)
    if y.ndim == 1:
        if y.dtype.kind not in "iu" or y.shape[0] != m:
            raise ValueError(f"y has shape {y.shape} and dtype {y.dtype}; expected {m} integer class labels "
                             f"or one-hot targets of shape (m, n_L) = ({m}, {N_OUT})")
        if y.min() < 0 or y.max() >= N_OUT:
            raise ValueError(f"y holds class labels outside 0..{N_OUT - 1}")
        one_hot = np.zeros((m, N_OUT), dtype=real)
        one_hot[np.arange(m), y] = 1.0
        return one_hot
    if y.shape != (m, N_OUT):
        raise ValueError(f"y has shape {y.shape}; expected (m, n_L) = {(m, N_OUT)} (samples as rows)")
    return y if y.dtype.kind == "c" else y.astype(real, copy=False)


# ----- convolution and pooling as array operations (im2col + GEMM) ------------------------------------------


def _pad(x, pad):
    """x (m, C, H, W) with ``pad`` zeros on every side of H and W (x itself when pad = 0)."""
    if not pad:
        return x
    m, c, h, w = x.shape
    xp = np.zeros((m, c, h + 2 * pad, w + 2 * pad), dtype=x.dtype)
    xp[:, :, pad:pad + h, pad:pad + w] = x
    return xp


def _im2col(x, k, stride, rows, cols):
    """Every k x k window of x (m, C, H, W) at ``stride``, as the rows of one matrix (m rows cols, C k k): the
    windows are an as_strided view (no copy), the matrix the one copy GEMM needs."""
    m, c = x.shape[:2]
    sm, sc, sh, sw = x.strides
    view = as_strided(x, (m, rows, cols, c, k, k), (sm, sh * stride, sw * stride, sc, sh, sw), writeable=False)
    return view.reshape(m * rows * cols, c * k * k)


def _conv(x, K, b, stride, pad):
    """Z[n, o, i, j] = b[o] + sum_{c,u,v} K[o, c, u, v] Xp[n, c, i s + u, j s + v] (definition conv.Y) as one
    GEMM of the window matrix with K; returns Z (m, C_out, H_out, W_out) and the window matrix (dK reads it)."""
    m, _, h, w = x.shape
    c_out, _, k, _ = K.shape
    rows, cols = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    X_col = _im2col(_pad(x, pad), k, stride, rows, cols)
    Z = X_col @ K.reshape(c_out, -1).T
    Z += b
    return Z.reshape(m, rows, cols, c_out).transpose(0, 3, 1, 2), X_col


def _conv_dK(D, X_col, shape):
    """dC/dK (step conv.dK.correlate): the padded input correlated with the error D dilated by the stride,
    sum_{n,i,j} D[n, o, i, j] Xp[n, c, i s + u, j s + v], i.e. D as a matrix (m rows cols, C_out), transposed,
    times the window matrix: one GEMM."""
    D_col = D.transpose(0, 2, 3, 1).reshape(-1, shape[0])
    return (D_col.T @ X_col).reshape(shape)


def _conv_db(D):
    """dC/db (step conv.db.sum): the error summed over the samples and the positions, (1, C_out)."""
    return D.sum(axis=(0, 2, 3)).reshape(1, -1)


def _conv_dX(D, K, stride, pad, shape):
    """dC/dX (step conv.dX.full): the full convolution of D dilated by the stride with K rotated by 180 degrees,
    cropped by the padding. The dilated D (s - 1 zeros between entries), padded by k - 1, is correlated at stride 1
    with the rotated kernel, its channel axes swapped: im2col and one GEMM again."""
    m, c_out, rows, cols = D.shape
    c_in, h, w = shape[1:]
    k = K.shape[2]
    hp, wp = h + 2 * pad, w + 2 * pad
    Dd = np.zeros((m, c_out, hp + k - 1, wp + k - 1), dtype=D.dtype)
    Dd[:, :, k - 1:k + (rows - 1) * stride:stride, k - 1:k + (cols - 1) * stride:stride] = D
    K_rot = K[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(c_in, -1)
    dXp = (_im2col(Dd, k, 1, hp, wp) @ K_rot.T).reshape(m, hp, wp, c_in).transpose(0, 3, 1, 2)
    return dXp[:, :, pad:pad + h, pad:pad + w]


def _pool(A, k, stride):
    """P = the max of every k x k window (definition pool.P) and where it is: the offset in the window of its
    first maximum in row-major order (np.argmax returns the first; the tie convention, step pool.dX.ties)."""
    m, c, h, w = A.shape
    rows, cols = (h - k) // stride + 1, (w - k) // stride + 1
    sm, sc, sh, sw = A.strides
    view = as_strided(A, (m, c, rows, cols, k, k), (sm, sc, sh * stride, sw * stride, sh, sw), writeable=False)
    windows = view.reshape(m, c, rows, cols, k * k)
    at = windows.real.argmax(axis=4)
    return np.take_along_axis(windows, at[..., None], axis=4)[..., 0], at


def _pool_dX(G, at, shape, k, stride, overlap):
    """dC/dA (step pool.dX.route): each window's G goes to its first maximum, the rest of the window gets 0;
    scattered by flat index, with np.add.at where windows overlap (two windows may share a maximum)."""
    m, c, h, w = shape
    rows, cols = G.shape[2:]
    u, v = np.divmod(at, k)
    i = np.arange(rows).reshape(rows, 1) * stride + u
    j = np.arange(cols) * stride + v
    flat = (np.arange(m * c).reshape(m, c, 1, 1) * h + i) * w + j
    dA = np.zeros(m * c * h * w, dtype=G.dtype)
    if overlap:
        np.add.at(dA, flat.ravel(), G.ravel())
    else:
        dA[flat.ravel()] = G.ravel()
    return dA.reshape(shape)


class _Batch:
    """What the printed bias gradients of the dense head read: ``ones``, the all-ones column (m, 1)."""

    def __init__(self, m, dtype):
        self.ones = np.ones((m, 1), dtype=dtype)


# ----- the model, printed from the proven forms -------------------------------------------------------------


def forward(params, x):
    """a^L for a batch x (m, C, H, W): a fresh array (m, n_L)."""
    W1, b1, W2, b2 = _parameters(params)
    A0 = _inputs(x)
    dtype = np.result_type(W1, b1, W2, b2, A0)
    # every array in the working dtype (no copy when it already is): float32 stays float32, and a
    # complex parameter (complex step) makes every product complex
    W1, b1, W2, b2, A0 = (array.astype(dtype, copy=False) for array in (W1, b1, W2, b2, A0))
    m = A0.shape[0]
    Z1, _ = _conv(A0, W1, b1, 1, 1)
    A1 = relu(Z1)
    P1, _ = _pool(A1, 2, 2)
    F = P1.reshape(m, -1)
    Z2 = F @ W2
    Z2 += b2
    A2 = softmax(Z2)
    return A2


def loss(params, x, y):
    """The mean over the batch of the per-sample cce costs; x is (m, C, H, W), y is (m, n_L); integer class labels (m,)
    also work."""
    W1, b1, W2, b2 = _parameters(params)
    A0 = _inputs(x)
    dtype = np.result_type(W1, b1, W2, b2, A0)
    # every array in the working dtype (no copy when it already is): float32 stays float32, and a
    # complex parameter (complex step) makes every product complex
    W1, b1, W2, b2, A0 = (array.astype(dtype, copy=False) for array in (W1, b1, W2, b2, A0))
    m = A0.shape[0]
    Y = _targets(y, m, dtype)
    Z1, _ = _conv(A0, W1, b1, 1, 1)
    A1 = relu(Z1)
    P1, _ = _pool(A1, 2, 2)
    F = P1.reshape(m, -1)
    Z2 = F @ W2
    Z2 += b2
    # the cost from the proven stable form of its term (fused, from Z)
    cost = cce_from_lse(Z2, Y, log_sum_exp(Z2))
    return (np.sum(cost) / m).item()


def gradients(params, x, y):
    """dC/dtheta of every parameter, as a dict with the keys of params (fresh arrays, of the working dtype)."""
    W1, b1, W2, b2 = _parameters(params)
    A0 = _inputs(x)
    dtype = np.result_type(W1, b1, W2, b2, A0)
    # every array in the working dtype (no copy when it already is): float32 stays float32, and a
    # complex parameter (complex step) makes every product complex
    W1, b1, W2, b2, A0 = (array.astype(dtype, copy=False) for array in (W1, b1, W2, b2, A0))
    m = A0.shape[0]
    Y = _targets(y, m, dtype)
    Z1, X1_col = _conv(A0, W1, b1, 1, 1)
    A1 = relu(Z1)
    P1, R1 = _pool(A1, 2, 2)
    F = P1.reshape(m, -1)
    Z2 = F @ W2
    Z2 += b2
    A2 = softmax(Z2)
    ws = _Batch(m, dtype)
    # the dense head: errors pre-scaled by 1/m (steps code.E*), printed from the batch forms of the head
    E2 = np.subtract(A2, Y)
    E2 /= m
    # into flatten: BP2's product E W^T (flatten has no f'), back to the shape before it
    G = E2 @ W2.T
    G = G.reshape(P1.shape)
    G = _pool_dX(G, R1, A1.shape, 2, 2, False)  # pool.dX.route
    D1 = G * relu_prime(Z1, A1)
    dW1 = _conv_dK(D1, X1_col, W1.shape)  # conv.dK.correlate
    db1 = _conv_db(D1)  # conv.db.sum
    return {
        "W1": dW1,
        "b1": db1,
        "W2": F.T @ E2,
        "b2": ws.ones.T @ E2,
    }


def sgd_step(params, x, y, eta):
    """One step of gradient descent on the batch: theta -> theta - eta dC/dtheta, as fresh arrays."""
    grads = gradients(params, x, y)
    return {
        "W1": params["W1"] - eta*grads["W1"],
        "b1": params["b1"] - eta*grads["b1"],
        "W2": params["W2"] - eta*grads["W2"],
        "b2": params["b2"] - eta*grads["b2"],
    }
