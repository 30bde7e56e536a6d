"""Code generation for a vanilla RNN (:class:`~numeric.rnn_spec.RnnSpec`): one NumPy module for the family.

``generate_rnn_kernel_source(spec)`` prints a module with the dense kernels' API (``forward``, ``loss``,
``gradients``, ``sgd_step``, each with an ``h0=None`` keyword; ``KEYS``, ``FAMILY``) that serves every vocabulary,
hidden width, sequence length T and number of sequences m (the family key names none of them). Columns layout,
min-char-rnn's names ``Wxh, Whh, bh, Why, by``; x, y integer (T, m).

What each part is printed from (the steps of :func:`derive.layers.rnn.derive_bptt`, each compared with
``sympy.diff`` of the unrolled cost):

* the **element-wise functions** (tanh, tanh' from the forward value, the shifted softmax, cce through the
  log-sum-exp): :func:`derive.codegen.kernel.elementwise_section`, on a dense stand-in tanh,softmax / cce in the
  columns layout;
* the **forward**: ``W_xh x_t`` with x_t one-hot is the column gather ``Wxh[:, x_t]`` (done for all t at once), then
  one loop over time for a_t = W_xh x_t + W_hh h_{t-1} + b_h, h_t = tanh(a_t) (definitions rnn.a, rnn.h); the
  outputs z_t = W_hy h_t + b_y of every step are one GEMM on the stacked states (rnn.z);
* the **backward** (BPTT): dz_t = (p_t - onehot(y_t)) / m for all t at once (rnn.dz*), then one loop from T down to
  1 for dh_t = W_hy^T dz_t + W_hh^T da_{t+1} and da_t = (1 - h_t^2) dh_t (rnn.dh*, rnn.da*); the parameter
  gradients summed over time are GEMMs over the stacked steps (rnn.dWhy, rnn.dby, rnn.dWhh with h_{t-1},
  rnn.dWxh with the one-hot inputs, rnn.dbh).

The module imports nothing of bpv (an independent witness of :mod:`numeric.rnn`). Generation refuses when any part
of ``derive_model(spec)`` does not hold.
"""

from __future__ import annotations

import re
import textwrap

from derive.backprop.model import derive_model
from derive.codegen.conv_kernel import check_cited, kernel_header, refuse_unless_holds, sgd_step_source, stand_in
from derive.codegen.kernel import ascii_source, elementwise_section, section_rule
from derive.core.steps import Derivation
from numeric.rnn_spec import RnnSpec

__all__ = ["generate_rnn_kernel_source"]

KEYS = ("Wxh", "Whh", "bh", "Why", "by")

_CHECKS = '''

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
'''

_MODEL = '''

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
'''


def _sections(elementwise: list[Derivation]) -> list[str]:
    forms = ", ".join(s.label for d in elementwise for s in d.steps if not s.kind.unchecked)
    return [f"element-wise functions: {forms}.",
            "forward: rnn.a, rnn.h (the one loop over time), rnn.z (one GEMM on the stacked states), rnn.p with the "
            "shifted softmax; loss: rnn.C through cce.softmax_fused.",
            "backward: rnn.dz* (all steps at once), rnn.dh* and rnn.da* (one loop from T down to 1), rnn.dWhy, "
            "rnn.dby, rnn.dWhh (with h_{t-1}), rnn.dWxh (with the one-hot inputs), rnn.dbh (GEMMs over the "
            "stacked steps).",
            "sgd_step: theta -> theta - eta dC/dtheta for every parameter."]


def _preamble(spec: RnnSpec) -> str:
    names = sorted(["FAMILY", "KEYS", "forward", "gradients", "loss", "sgd_step"])
    listed = textwrap.fill(", ".join(f'"{n}"' for n in names) + ",", 110, initial_indent="    ",
                           subsequent_indent="    ")
    return ("from __future__ import annotations\n\nimport numpy as np\n\n"
            f"__all__ = [\n{listed}\n]\n\n#: What this kernel serves: every vocabulary, width, T and m.\n"
            f"FAMILY = {spec.family_key()!r}\nKEYS = {KEYS!r}\n")


def generate_rnn_kernel_source(spec: RnnSpec) -> str:
    """The source of the kernel module for the vanilla-RNN family (deterministic, ASCII, NumPy only)."""
    md = derive_model(spec)
    refuse_unless_holds(md)
    if tuple(spec.param_names()) != KEYS:
        raise ValueError(f"the RNN kernel prints the parameters {', '.join(KEYS)}; the spec has "
                         f"{', '.join(spec.param_names())}")
    elementwise, stable, folded = elementwise_section(stand_in(["tanh", "softmax"], "cce", "mean", "columns"))
    if "tanh_prime" not in elementwise or "def tanh(" not in elementwise:
        raise ValueError("the element-wise section has no tanh and tanh_prime: the RNN kernel calls both")
    header = kernel_header(spec, md, [stable.derivation, folded],
                           [f"Family:      {spec.family_key()}",
                            "             any vocabulary V, hidden width n_h, steps T and sequences m; columns "
                            "layout;", "             x, y integer tokens (T, m); h0 (n_h, m), zeros by default."],
                           _sections([stable.derivation, folded]), "numeric.rnn")
    parts = [header, _preamble(spec),
             section_rule("element-wise functions, printed from the proven stable forms", 109), elementwise,
             section_rule("checking the arguments"), _CHECKS,
             section_rule("the model: the unrolled forward and BPTT, printed from the proven forms"), _MODEL,
             sgd_step_source(list(KEYS), "params, x, y, eta, h0=None", "params, x, y, h0=h0")]
    source = re.sub(r"\n{4,}", "\n\n\n", "".join(parts))
    check_cited(source, md.parts)
    return ascii_source(source)
