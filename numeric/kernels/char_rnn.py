"""Generated NumPy kernel for char_rnn.

Family:      rnn;act=tanh;out=softmax;cost=cce;red=mean;layout=columns
             any vocabulary V, hidden width n_h, steps T and sequences m; columns layout;
             x, y integer tokens (T, m); h0 (n_h, m), zeros by default.
Generated:   by bpv 0.1.0 with SymPy 1.14.0 from `bpv kernels char_rnn`.
Derivation:  71f061da15eab4c5 (derive_model(spec).hash(): every part listed below).

How it was verified
-------------------
Every section is printed from forms proven by the derivation of this model (the hash above) or by the stable-
form derivations of the dense kernels; refused when one does not hold. Sections and the forms they are printed
from:
  element-wise functions: tanh.kernel, tanh.prime_kernel, softmax.shift, softmax.vjp, lse.shift,
      cce.softmax_fused.
  forward: rnn.a, rnn.h (the one loop over time), rnn.z (one GEMM on the stacked states), rnn.p with the
      shifted softmax; loss: rnn.C through cce.softmax_fused.
  backward: rnn.dz* (all steps at once), rnn.dh* and rnn.da* (one loop from T down to 1), rnn.dWhy, rnn.dby,
      rnn.dWhh (with h_{t-1}), rnn.dWxh (with the one-hot inputs), rnn.dbh (GEMMs over the stacked steps).
  sgd_step: theta -> theta - eta dC/dtheta for every parameter.
Steps, verdicts and methods, part by part:
  [tanh derivative from its definition]
  tanh.diff: holds, symbolic: the limit of the difference quotient (f(z + h) - f(z))/h as h -> 0, taken from
      the definition, minus the derived derivative simplifies to 0
  tanh.closed: holds, symbolic: difference reduces to 0 by rewriting in exp and cancelling
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
  [vanilla RNN: backpropagation through time from the unrolled cost (T = 3, V = 3, n_h = 2, m = 1)]
  rnn.dz3: holds, numeric: each of the 3 entries equals sympy.diff of the cost at a random rational point
      (60-digit arithmetic, agreement to 30 digits)
  rnn.dh3: holds, numeric: each of the 2 entries equals sympy.diff of the cost at a random rational point
      (60-digit arithmetic, agreement to 30 digits)
  rnn.da3: holds, numeric: each of the 2 entries equals sympy.diff of the cost at a random rational point
      (60-digit arithmetic, agreement to 30 digits)
  rnn.dz2: holds, numeric: each of the 3 entries equals sympy.diff of the cost at a random rational point
      (60-digit arithmetic, agreement to 30 digits)
  rnn.dh2: holds, numeric: each of the 2 entries equals sympy.diff of the cost at a random rational point
      (60-digit arithmetic, agreement to 30 digits)
  rnn.da2: holds, numeric: each of the 2 entries equals sympy.diff of the cost at a random rational point
      (60-digit arithmetic, agreement to 30 digits)
  rnn.dz1: holds, numeric: each of the 3 entries equals sympy.diff of the cost at a random rational point
      (60-digit arithmetic, agreement to 30 digits)
  rnn.dh1: holds, numeric: each of the 2 entries equals sympy.diff of the cost at a random rational point
      (60-digit arithmetic, agreement to 30 digits)
  rnn.da1: holds, numeric: each of the 2 entries equals sympy.diff of the cost at a random rational point
      (60-digit arithmetic, agreement to 30 digits)
  rnn.dWhy: holds, numeric: each of the 6 entries equals sympy.diff of the cost at a random rational point
      (60-digit arithmetic, agreement to 30 digits)
  rnn.dby: holds, numeric: each of the 3 entries equals sympy.diff of the cost at a random rational point
      (60-digit arithmetic, agreement to 30 digits)
  rnn.dWhh: holds, numeric: each of the 4 entries equals sympy.diff of the cost at a random rational point
      (60-digit arithmetic, agreement to 30 digits)
  rnn.dWxh: holds, numeric: each of the 6 entries equals sympy.diff of the cost at a random rational point
      (60-digit arithmetic, agreement to 30 digits)
  rnn.dbh: holds, numeric: each of the 2 entries equals sympy.diff of the cost at a random rational point
      (60-digit arithmetic, agreement to 30 digits)
  [stable and closed forms for the kernel (tanh,softmax / cce)]
  tanh.kernel: holds, z > 0: symbolic: both sides identical (tanh rewritten with exp); z < 0: symbolic: both
      sides identical (tanh rewritten with exp); z = 0: exact
  tanh.prime_kernel: holds, z > 0: symbolic: both sides identical; z < 0: symbolic: both sides identical; z
      = 0: exact
  softmax.shift: holds, symbolic: cancel, every j = 1..3
  softmax.vjp: holds, every j = 1..3 equals the sum over the derived Jacobian (symbolic: both sides
      identical)
  lse.shift: holds, symbolic: both sides identical (exp of both sides)
  cce.softmax_fused: holds, each term: -ln s_j = LSE(z) - z_j proven through exp (symbolic); the sum:
      symbolic: both sides identical
tests/test_kernels_shared.py compares this module with the hand-written reference numeric.rnn (loss and every
gradient block, block-relative error <= 1e-12).

Needs NumPy only. Do not edit: regenerate.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "FAMILY", "KEYS", "forward", "gradients", "loss", "sgd_step",
]

#: What this kernel serves: every vocabulary, width, T and m.
FAMILY = 'rnn;act=tanh;out=softmax;cost=cce;red=mean;layout=columns'
KEYS = ('Wxh', 'Whh', 'bh', 'Why', 'by')


# ----- element-wise functions, printed from the proven stable forms ----------------------------------------


def tanh(z, out=None):
    """tanh(z), proven equal to its definition."""
    if out is None:
        out = np.empty(z.shape, dtype=z.dtype)
    np.tanh(z, out=out)
    return out


def tanh_prime(z, a, out=None):
    """tanh'(z) from the forward value a = tanh(z)."""
    if out is None:
        out = np.empty(z.shape, dtype=a.dtype)
    np.square(a, out=out)
    np.subtract(1, out, out=out)
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


def _array(value, what):
    """A float (or complex) array; integers become float64."""
    array = np.asarray(value)
    if array.dtype.kind not in "biufc":
        raise ValueError(f"{what} must be a numeric array, got dtype {array.dtype}")
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
    return array


def _parameters(params):
    """The parameter arrays in the order of KEYS, their shapes checked against each other: Wxh (n_h, V),
    Whh (n_h, n_h), bh (n_h, 1), Why (V, n_h), by (V, 1) (columns layout)."""
    if not hasattr(params, "keys"):
        raise ValueError(f"params must be a dict with keys {', '.join(KEYS)}, got {type(params).__name__}")
    missing = [key for key in KEYS if key not in params]
    if missing:
        raise ValueError(f"params is missing {missing[0]!r}: expected keys {', '.join(KEYS)}")
    arrays = [params[key] for key in KEYS]
    for i, array in enumerate(arrays):
        if type(array) is not np.ndarray or array.dtype.kind not in "fc":
            arrays[i] = _array(array, f"params[{KEYS[i]!r}]")
    Wxh = arrays[0]
    if Wxh.ndim != 2:
        raise ValueError(f"params['Wxh'] has shape {Wxh.shape}; expected (n_h, V) (hidden units x vocabulary)")
    n_h, V = Wxh.shape
    expected = {"Whh": (n_h, n_h), "bh": (n_h, 1), "Why": (V, n_h), "by": (V, 1)}
    for key, array in zip(KEYS[1:], arrays[1:], strict=True):
        if array.shape != expected[key]:
            raise ValueError(f"params[{key!r}] has shape {array.shape}; expected {expected[key]} with "
                             f"n_h = {n_h}, V = {V} from params['Wxh'] (columns layout)")
    return arrays


def _tokens(value, what, vocab):
    """An integer token array (T, m), T, m >= 1, every token in 0..V-1."""
    tokens = np.asarray(value)
    if tokens.dtype.kind not in "iu" or tokens.ndim != 2 or 0 in tokens.shape:
        raise ValueError(f"{what} has shape {tokens.shape} and dtype {tokens.dtype}; expected integer tokens of "
                         "shape (T, m) (time steps x sequences, both >= 1)")
    if tokens.min() < 0 or tokens.max() >= vocab:
        raise ValueError(f"{what} holds tokens outside 0..{vocab - 1} (the vocabulary of params['Wxh'])")
    return tokens


def _state(h0, n_h, m, dtype):
    """h_0 (n_h, m): zeros when None."""
    if h0 is None:
        return np.zeros((n_h, m), dtype=dtype)
    if type(h0) is not np.ndarray or h0.dtype.kind not in "fc":
        h0 = _array(h0, "h0")
    if h0.shape != (n_h, m):
        raise ValueError(f"h0 has shape {h0.shape}; expected (n_h, m) = {(n_h, m)} (one column per sequence)")
    return h0


def _arguments(params, x, y, h0):
    """The checked parameters, tokens, initial state and working dtype of one call (y None: forward)."""
    Wxh, Whh, bh, Why, by = _parameters(params)
    x = _tokens(x, "x", Wxh.shape[1])
    if y is not None:
        y = _tokens(y, "y", Wxh.shape[1])
        if y.shape != x.shape:
            raise ValueError(f"y has shape {y.shape}; expected the shape of x, {x.shape} (T, m)")
    dtype = np.result_type(Wxh, Whh, bh, Why, by, *([] if h0 is None else [np.asarray(h0)]))
    if dtype.kind not in "fc":
        dtype = np.dtype(np.float64)
    h0 = _state(h0, Wxh.shape[0], x.shape[1], dtype).astype(dtype, copy=False)
    # every array in the working dtype (no copy when it already is): a complex parameter makes every product complex
    return tuple(W.astype(dtype, copy=False) for W in (Wxh, Whh, bh, Why, by)), x, y, h0, dtype


def _one_hot(tokens, vocab, dtype):
    """The one-hot columns (V, T m) of the tokens (T, m), step by step: column t m + s is step t of sequence s."""
    out = np.zeros((vocab, tokens.size), dtype=np.finfo(dtype).dtype)
    out[tokens.ravel(), np.arange(tokens.size)] = 1.0
    return out


# ----- the model: the unrolled forward and BPTT, printed from the proven forms ------------------------------


def _unroll(Wxh, Whh, bh, Why, by, x, h0):
    """The forward pass: the states H[t] = h_t (H[0] = h_0), the pre-activations A[t] = a_{t+1}, the states as
    columns (n_h, T m) and the output pre-activations Z (V, T m).

    W_xh x_t is the column gather Wxh[:, x_t] (x_t one-hot), for every t at once; then the one loop over time,
    a_t = W_xh x_t + W_hh h_{t-1} + b_h, h_t = tanh(a_t) (definitions rnn.a, rnn.h); z_t = W_hy h_t + b_y for
    every step in one GEMM on the stacked states (definition rnn.z)."""
    T, m = x.shape
    n_h = Whh.shape[0]
    H = np.empty((T + 1, n_h, m), dtype=np.result_type(Wxh, Whh, bh, h0))
    H[0] = h0
    A = np.ascontiguousarray(Wxh[:, x].transpose(1, 0, 2))  # (T, n_h, m): W_xh x_t, each step contiguous
    A += bh
    for t in range(T):
        a = A[t]
        a += Whh @ H[t]
        tanh(a, out=H[t + 1])
    states = H[1:].transpose(1, 0, 2).reshape(n_h, T * m)  # (n_h, T m): column t m + s is h_{t+1} of sequence s
    Z = Why @ states
    Z += by
    return H, A, states, Z


def forward(params, x, h0=None):
    """p_t = softmax(z_t) of every step for the tokens x (T, m): a fresh array (T, V, m)."""
    (Wxh, Whh, bh, Why, by), x, _, h0, _ = _arguments(params, x, None, h0)
    Z = _unroll(Wxh, Whh, bh, Why, by, x, h0)[3]
    T, m = x.shape
    return softmax(Z).reshape(-1, T, m).transpose(1, 0, 2).copy()


def loss(params, x, y, h0=None):
    """C = (1/m) sum over the sequences and the steps of the cce of softmax(z_t) against the next tokens y
    (definition rnn.C); x and y are integer tokens (T, m), h0 (n_h, m) defaults to zeros."""
    (Wxh, Whh, bh, Why, by), x, y, h0, dtype = _arguments(params, x, y, h0)
    Z = _unroll(Wxh, Whh, bh, Why, by, x, h0)[3]
    Y = _one_hot(y, Z.shape[0], dtype)
    cost = cce_from_lse(Z, Y, log_sum_exp(Z))  # the fused stable form cce.softmax_fused
    return (np.sum(cost) / x.shape[1]).item()


def gradients(params, x, y, h0=None):
    """dC/dtheta of every parameter by backpropagation through time, as a dict with the keys of params (fresh
    arrays, of the working dtype); x and y are integer tokens (T, m), h0 (n_h, m) defaults to zeros."""
    (Wxh, Whh, bh, Why, by), x, y, h0, dtype = _arguments(params, x, y, h0)
    H, A, states, Z = _unroll(Wxh, Whh, bh, Why, by, x, h0)
    T, m = x.shape
    n_h, V = Wxh.shape
    # dz_t = (p_t - onehot(y_t)) / m for every t at once (steps rnn.dz*, out.fused)
    dZ = softmax(Z)
    dZ -= _one_hot(y, V, dtype)
    dZ /= m
    dWhy = dZ @ states.T  # rnn.dWhy: sum_t dz_t h_t^T
    dby = dZ.sum(axis=1, keepdims=True)  # rnn.dby: sum_t dz_t
    dH = np.ascontiguousarray((Why.T @ dZ).reshape(n_h, T, m).transpose(1, 0, 2))  # W_hy^T dz_t, (T, n_h, m)
    dA = np.empty_like(dH)
    da = np.zeros((n_h, m), dtype=dH.dtype)  # da_{T+1} = 0: nothing after the last step
    for t in range(T - 1, -1, -1):
        dh = dH[t] + Whh.T @ da  # rnn.dh*: W_hy^T dz_t + W_hh^T da_{t+1}
        da = np.multiply(dh, tanh_prime(A[t], H[t + 1]), out=dA[t])  # rnn.da*: tanh'(a_t) dh_t = (1 - h_t^2) dh_t
    da_all = dA.transpose(1, 0, 2).reshape(n_h, T * m)
    before = H[:-1].transpose(1, 0, 2).reshape(n_h, T * m)  # h_{t-1} of every step
    return {
        "Wxh": da_all @ _one_hot(x, V, dtype).T,  # rnn.dWxh: sum_t da_t x_t^T
        "Whh": da_all @ before.T,  # rnn.dWhh: sum_t da_t h_{t-1}^T
        "bh": da_all.sum(axis=1, keepdims=True),  # rnn.dbh: sum_t da_t
        "Why": dWhy,
        "by": dby,
    }


def sgd_step(params, x, y, eta, h0=None):
    """One step of gradient descent on the batch: theta -> theta - eta dC/dtheta, as fresh arrays."""
    grads = gradients(params, x, y, h0=h0)
    return {
        "Wxh": params["Wxh"] - eta*grads["Wxh"],
        "Whh": params["Whh"] - eta*grads["Whh"],
        "bh": params["bh"] - eta*grads["bh"],
        "Why": params["Why"] - eta*grads["Why"],
        "by": params["by"] - eta*grads["by"],
    }
