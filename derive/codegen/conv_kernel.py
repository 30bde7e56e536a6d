"""Code generation for a convolutional net (:class:`~numeric.conv_spec.ConvNetSpec`): one NumPy module per net.

``generate_conv_kernel_source(spec)`` prints a module with the dense kernels' API (``forward``, ``loss``,
``gradients``, ``sgd_step``, ``KEYS``, ``FAMILY``) for exactly the net of ``spec`` (its family key holds the whole
``--net`` text, so every shape is a constant of the module). What each section is printed from:

* the **element-wise functions** (activations, their derivatives from the forward value, the shifted softmax, the
  cost through the log-sum-exp): :func:`derive.codegen.kernel.elementwise_section`, the very printer of the dense
  kernels, on a dense stand-in with this net's activations and cost;
* the **convolution** as im2col + GEMM: the windows of the padded input are an ``as_strided`` view, copied once into
  a matrix (m H_out W_out, C k k), so that Y = b + sum K Xp (definition ``conv.Y``) is one matrix product; dK is the
  transposed error times that matrix (claim ``conv.dK.correlate``: the correlation of the padded input with the
  error dilated by the stride), db the error summed over samples and positions (``conv.db.sum``), and dX the full
  convolution of the dilated error with the kernel rotated by 180 degrees, cropped by the padding
  (``conv.dX.full``): the dilated error padded by k - 1 is correlated at stride 1 with the rotated kernel, channels
  swapped, by the same im2col + GEMM;
* **max-pooling**: the windows reshaped to (..., k k), ``argmax`` on the real part (NumPy returns the first maximum
  in row-major order: the tie convention, ``pool.dX.ties``), the upstream gradient scattered to that flat index
  (``pool.dX.route``); ``np.add.at`` only where windows overlap (stride < k);
* the **dense head** after flatten: the proven batch forms of :meth:`~numeric.conv_spec.ConvNetSpec.head` (rows
  layout; Z, A, the pre-scaled errors E, the gradients), printed by :class:`~derive.codegen.printer.KernelPrinter`
  with this net's parameter names; the gradient into flatten is BP2's product E W^T (flatten has no f').

No Python loop over pixels, samples or kernel offsets. The module imports nothing of bpv: it is an independent
witness of :mod:`numeric.conv_net` (which uses a windowed ``tensordot`` and a col2im loop). Generation refuses when
any part of ``derive_model(spec)`` does not hold.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap

import sympy as sp

from derive import __version__ as BPV_VERSION
from derive.backprop.batch import BatchForms, derive_batch_forms
from derive.backprop.model import ModelDerivation, derive_model
from derive.codegen.kernel import ascii_source, elementwise_section, section_rule
from derive.codegen.model_lines import layer_functions, matrix_names
from derive.codegen.printer import KernelPrinter
from derive.core.steps import Derivation
from derive.functions.stable import StableForms, a, lse, n_units, y, z
from numeric.conv import Conv2d, Flatten, MaxPool2d
from numeric.conv_spec import ConvNetSpec
from numeric.functions import TargetKind
from numeric.layers import Dense
from numeric.spec import ModelSpec

__all__ = ["check_cited", "generate_conv_kernel_source", "kernel_header", "refuse_unless_holds", "sgd_step_source",
           "stand_in"]


def stand_in(acts: list[str], cost: str, reduction: str, layout: str) -> ModelSpec:
    """A dense net with these activations and this cost: what the element-wise printer needs (widths of 2)."""
    return ModelSpec.build([2] * (len(acts) + 1), ",".join(acts), cost, reduction, layout)


def refuse_unless_holds(md: ModelDerivation) -> None:
    """ValueError naming every step of the derivation that does not hold: no kernel is printed from it."""
    bad = [f"{title}: {s.label}" for title, s in md.failures()]
    if bad or not md.holds:
        raise ValueError(f"cannot generate a kernel for {md.spec.title} from a derivation that does not hold: "
                         f"{'; '.join(bad) or 'a part failed'}")


def check_cited(source: str, parts: list[Derivation]) -> None:
    """ValueError when the source cites a convolution, pooling or BPTT step (``conv.dX.full``, ``rnn.dh*``) that
    no part of the derivation has, or one that does not hold: a comment may not name a proof that is not there."""
    steps = [s for d in parts for s in d.steps]
    for cited in sorted(set(re.findall(r"(?<![\w.])((?:conv|pool|rnn)\.[A-Za-z0-9_.]*[A-Za-z0-9_*])", source))):
        stem = cited.rstrip("*")
        found = [s for s in steps if (s.label.startswith(stem) if cited.endswith("*") else s.label == cited)]
        if not found or not all(s.holds for s in found):
            raise ValueError(f"the kernel cites step {cited}, which the derivation "
                             f"{'does not have' if not found else 'does not prove'}")


def kernel_header(spec, md: ModelDerivation, extra: list[Derivation], family: list[str],
                  sections: list[str], reference: str = "numeric.conv_net") -> str:
    """The docstring: what the module serves, the derivation hash, where each section comes from, then every
    checked step of every part (and of the element-wise forms) with its verdict and method."""
    lines = [f"Generated NumPy kernel for {spec.title}.", "", *family,
             f"Generated:   by bpv {BPV_VERSION} with SymPy {sp.__version__} from `bpv kernels "
             + (spec.name if spec.name else spec.cli_args()) + "`.",
             f"Derivation:  {md.hash()} (derive_model(spec).hash(): every part listed below).", "",
             "How it was verified", "-------------------",
             *textwrap.wrap("Every section is printed from forms proven by the derivation of this model (the hash "
                            "above) or by the stable-form derivations of the dense kernels; refused when one does "
                            "not hold. Sections and the forms they are printed from:", 110)]
    for text in sections:
        lines += textwrap.wrap(text, 108, initial_indent="  ", subsequent_indent="      ")
    lines.append("Steps, verdicts and methods, part by part:")
    for d in (*md.parts, *extra):
        if all(s.kind.unchecked for s in d.steps):
            continue
        lines.append(f"  [{d.title}]")
        for s in d.steps:
            if not s.kind.unchecked:
                lines += textwrap.wrap(f"{s.label}: {s.verdict()}, {s.method}", 108, initial_indent="  ",
                                       subsequent_indent="      ")
    lines += [*textwrap.wrap("tests/test_kernels_shared.py compares this module with the hand-written reference "
                             f"{reference} (loss and every gradient block, block-relative error <= 1e-12).", 110),
              "", "Needs NumPy only. Do not edit: regenerate."]
    return '"""' + "\n".join(lines).replace("\\", "/") + '\n"""\n'


_ARRAY = '''

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
'''

_TARGETS = '''

def _targets(y, m, dtype):
    """y as an array (m, N_OUT) in the real type of the working ``dtype`` (float32 stays float32)LABELS_DOC."""
    if type(y) is np.ndarray and y.dtype == dtype and y.shape == (m, N_OUT):
        return y  # the common case, already right: no conversion
    real = np.finfo(dtype).dtype
    y = _array(y, "y"LABELS_ARG)
LABELS_BRANCH    if y.shape != (m, N_OUT):
        raise ValueError(f"y has shape {y.shape}; expected (m, n_L) = {(m, N_OUT)} (samples as rows)")
    return y if y.dtype.kind == "c" else y.astype(real, copy=False)
'''

_LABELS = '''    if y.ndim == 1:
        if y.dtype.kind not in "iu" or y.shape[0] != m:
            raise ValueError(f"y has shape {y.shape} and dtype {y.dtype}; expected {m} integer class labels "
                             f"or one-hot targets of shape (m, n_L) = ({m}, {N_OUT})")
        if y.min() < 0 or y.max() >= N_OUT:
            raise ValueError(f"y holds class labels outside 0..{N_OUT - 1}")
        one_hot = np.zeros((m, N_OUT), dtype=real)
        one_hot[np.arange(m), y] = 1.0
        return one_hot
'''

_CONV = '''

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
'''

_POOL = '''

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
'''

_BATCH = '''

class _Batch:
    """What the printed bias gradients of the dense head read: ``ones``, the all-ones column (m, 1)."""

    def __init__(self, m, dtype):
        self.ones = np.ones((m, 1), dtype=dtype)
'''


@dataclasses.dataclass
class ConvLines:
    """Prints the public functions of one convolutional net's kernel."""

    spec: ConvNetSpec
    forms: BatchForms
    stable: StableForms

    def __post_init__(self) -> None:
        head = self.spec.head()
        base = matrix_names(head, self.forms, self.stable)
        rename = {"A0": "F", "Y": "Y"}
        for mine, dense in zip(head.layers, self.spec.dense, strict=True):
            i, l = mine.index, dense.index
            rename.update({f"W{i}": dense.W, f"b{i}": dense.b, f"Z{i}": f"Z{l}", f"A{i}": f"A{l}", f"E{i}": f"E{l}"})
        self.matrices = dataclasses.replace(base, names={k: rename[v] for k, v in base.names.items()})
        self.printer = KernelPrinter({"fully_qualified_modules": True}, self.matrices)
        self.N = self.forms.names
        self.first = next((i for i, x in enumerate(self.spec.layers) if isinstance(x, Conv2d)), None)

    def head_index(self, dense: Dense) -> int:
        return self.spec.dense.index(dense) + 1

    def stage_names(self) -> list[str]:
        """The name of each stage's output (A{l} after a convolution, P{n} after the n-th pool, F, Z/A{l})."""
        names, pools = [], 0
        for x in self.spec.layers:
            if isinstance(x, MaxPool2d):
                pools += 1
            names.append(f"A{x.index}" if isinstance(x, Conv2d | Dense) else f"P{pools}"
                         if isinstance(x, MaxPool2d) else "F")
        return names

    def stack_lines(self, keep: bool = True) -> list[str]:
        """The convolutions, pools and the flatten, forward (definitions conv.Y, pool.P; flatten in C order);
        the window matrices and the pools' argmax kept for the backward with ``keep``."""
        lines, prev, pools = [], "A0", 0
        for x, out in zip(self.spec.layers, self.stage_names(), strict=True):
            if isinstance(x, Conv2d):
                act = layer_functions(self.spec.conv_act(x)).forward
                cols = f"X{x.index}_col" if keep else "_"
                lines += [f"    Z{x.index}, {cols} = _conv({prev}, {x.W}, {x.b}, {x.stride}, {x.pad})",
                          f"    {out} = {act}(Z{x.index})" if act else f"    {out} = Z{x.index}"]
            elif isinstance(x, MaxPool2d):
                pools += 1
                lines.append(f"    {out}, {f'R{pools}' if keep else '_'} = _pool({prev}, {x.k}, {x.stride})")
            elif isinstance(x, Flatten):
                lines.append(f"    F = {prev}.reshape(m, -1)")
            prev = out
        return lines

    def head_lines(self, upto_z: bool = False) -> list[str]:
        """Z and A of every dense layer, printed from the head's batch forms (A^L left out with ``upto_z``)."""
        lines = []
        for dense in self.spec.dense:
            forms = self.forms.layers[self.head_index(dense)]
            lines += self.printer.assign(forms.Z, f"Z{dense.index}", None)
            if upto_z and dense is self.spec.dense[-1]:
                break
            lines += self.printer.assign(forms.A, f"A{dense.index}", None)
        return lines

    def prologue(self, name: str, doc: str, targets: bool = True) -> list[str]:
        keys = self.spec.param_names()
        args = "params, x, y" if targets else "params, x"
        doc_lines = textwrap.wrap(doc, 112)
        doc_lines[0] = f'    """{doc_lines[0]}'
        doc_lines[1:] = [f"    {line}" for line in doc_lines[1:]]
        doc_lines[-1] += '"""'
        listed = ", ".join(keys)
        typed = [f"    dtype = np.result_type({listed}, A0)",
                 "    # every array in the working dtype (no copy when it already is): float32 stays float32, and a",
                 "    # complex parameter (complex step) makes every product complex",
                 f"    {listed}, A0 = (array.astype(dtype, copy=False) for array in ({listed}, A0))",
                 "    m = A0.shape[0]", *(["    Y = _targets(y, m, dtype)"] if targets else [])]
        return [f"def {name}({args}):", *doc_lines, f"    {listed} = _parameters(params)", "    A0 = _inputs(x)",
                *typed]

    def forward(self) -> list[str]:
        return [*self.prologue("forward", "a^L for a batch x (m, C, H, W): a fresh array (m, n_L).", False),
                *self.stack_lines(keep=False), *self.head_lines(), f"    return A{self.spec.dense[-1].index}"]

    def loss(self) -> list[str]:
        piece = self.stable.pieces["cost_term"]
        L = self.spec.dense[-1].index
        values = {z: f"Z{L}", a: f"A{L}", y: "Y", lse: f"log_sum_exp(Z{L})"}
        args = [values[s] for s in piece.args] + (["n_out=Y.shape[1]"] if piece.expr.has(n_units) else [])
        reduce = "np.sum(cost) / m" if self.forms.scale != 1 else "np.sum(cost)"
        labels = "; integer class labels (m,) also work" if self.spec.cost_entry.target is TargetKind.CLASSES else ""
        return [*self.prologue("loss", f"The {self.spec.reduction} over the batch of the per-sample {self.spec.cost}"
                                       f" costs; x is (m, C, H, W), y is (m, n_L){labels}."),
                *self.stack_lines(keep=False), *self.head_lines(upto_z=a not in piece.args),
                "    # the cost from the proven stable form of its term (" + ("fused, from Z" if a not in piece.args
                                                                          else "from A") + ")",
                f"    cost = {piece.name}({', '.join(args)})", f"    return ({reduce}).item()"]

    def head_backward(self) -> list[str]:
        lines = ["    ws = _Batch(m, dtype)"]
        if self.matrices.cost_gradient_args:
            lines.append("    n_out = Y.shape[1]")
        scaled = "pre-scaled by 1/m (steps code.E*)" if self.forms.scale != 1 else "(steps batch.Delta*), summed"
        lines.append(f"    # the dense head: errors {scaled}, printed from the batch forms of the head")
        for dense in reversed(self.spec.dense):
            lines += self.printer.assign(self.forms.layers[self.head_index(dense)].E, f"E{dense.index}", None)
        return lines

    def stack_backward(self) -> list[str]:
        """From dC/dF back through flatten, the pools and the convolutions; nothing before the first convolution."""
        if self.first is None:
            return []
        d0 = self.spec.dense[0]
        lines = ["    # into flatten: BP2's product E W^T (flatten has no f'), back to the shape before it",
                 f"    G = E{d0.index} @ {d0.W}.T"]
        stages = list(zip(self.spec.layers, ["A0", *self.stage_names()], strict=False))
        pools = sum(isinstance(x, MaxPool2d) for x in self.spec.layers)
        for i in range(len(stages) - 1, self.first - 1, -1):
            x, before = stages[i]
            if isinstance(x, Flatten):
                lines.append(f"    G = G.reshape({before}.shape)")
            elif isinstance(x, MaxPool2d):
                lines += [f"    G = _pool_dX(G, R{pools}, {before}.shape, {x.k}, {x.stride}, {x.stride < x.k})"
                          "  # pool.dX.route"]
                pools -= 1
            elif isinstance(x, Conv2d):
                prime = layer_functions(self.spec.conv_act(x)).derivative
                l = x.index
                lines.append(f"    D{l} = G * {prime}(Z{l}, A{l})" if prime else f"    D{l} = G")
                lines += [f"    d{x.W} = _conv_dK(D{l}, X{l}_col, {x.W}.shape)  # conv.dK.correlate",
                          f"    d{x.b} = _conv_db(D{l})  # conv.db.sum"]
                if i != self.first:
                    lines.append(f"    G = _conv_dX(D{l}, {x.W}, {x.stride}, {x.pad}, {before}.shape)  # conv.dX.full")
        return lines

    def gradients(self) -> list[str]:
        body = [*self.prologue("gradients", "dC/dtheta of every parameter, as a dict with the keys of params (fresh "
                                            "arrays, of the working dtype)."),
                *self.stack_lines(), *self.head_lines(), *self.head_backward(), *self.stack_backward(),
                "    return {"]
        for x in self.spec.layers:
            if isinstance(x, Conv2d):
                body += [f'        "{x.W}": d{x.W},', f'        "{x.b}": d{x.b},']
            elif isinstance(x, Dense):
                forms = self.forms.layers[self.head_index(x)]
                body += [f'        "{x.W}": {self.printer.doprint(forms.code_W)},',
                         f'        "{x.b}": {self.printer.doprint(forms.code_b)},']
        return [*body, "    }"]


def sgd_step_source(keys: list[str], signature: str = "params, x, y, eta", call: str = "params, x, y") -> str:
    """sgd_step: theta -> theta - eta dC/dtheta, fresh arrays (the update rule of the dense kernels, step
    update.*, applied to every block)."""
    lines = [f"def sgd_step({signature}):",
             '    """One step of gradient descent on the batch: theta -> theta - eta dC/dtheta, as fresh arrays."""',
             f"    grads = gradients({call})", "    return {",
             *[f'        "{k}": params["{k}"] - eta*grads["{k}"],' for k in keys], "    }"]
    return "\n\n\n" + "\n".join(lines) + "\n"


def _pools(spec: ConvNetSpec) -> bool:
    return any(isinstance(x, MaxPool2d) for x in spec.layers)


def _sections(spec: ConvNetSpec, elementwise: list[Derivation]) -> list[str]:
    forms = ", ".join(s.label for d in elementwise for s in d.steps if not s.kind.unchecked)
    out = [f"element-wise functions: {forms}."]
    if spec.convs:
        out.append("convolution (im2col + GEMM): forward conv.Y; dK conv.dK.correlate; db conv.db.sum; dX "
                   "conv.dX.full (the full convolution of the dilated error with the rotated kernel, cropped).")
    if _pools(spec):
        out.append("max-pooling: forward pool.P; backward pool.dX.route (the first maximum of each window in "
                   "row-major order, the tie convention pool.dX.ties).")
    out.append("dense head after flatten (rows layout): batch.Z*, batch.A*, code.E*, code.nabla_W*, code.nabla_b*; "
               "the gradient into flatten is BP2's product E W^T; a convolution's activation derivative is BP2's "
               "Hadamard factor f'(Z) (the *.prime_kernel forms).")
    out.append("sgd_step: theta -> theta - eta dC/dtheta for every parameter.")
    return out


def _preamble(spec: ConvNetSpec) -> str:
    names = sorted(["FAMILY", "INPUT_SHAPE", "KEYS", "NET", "N_OUT", "SHAPES", "forward", "gradients", "loss",
                    "sgd_step"])
    listed = textwrap.fill(", ".join(f'"{n}"' for n in names) + ",", 110, initial_indent="    ",
                           subsequent_indent="    ")
    shapes = textwrap.fill(repr(spec.param_shapes()), 110, subsequent_indent="    ")
    strided = "\nfrom numpy.lib.stride_tricks import as_strided" if _pools(spec) or spec.convs else ""
    return ("from __future__ import annotations\n\nimport numpy as np" + strided +
            f"\n\n__all__ = [\n{listed}\n]\n\n#: What this kernel serves: exactly this net (every shape is fixed).\n"
            f"FAMILY = {spec.family_key()!r}\nNET = {spec.net!r}\n#: one sample's (C, H, W)\n"
            f"INPUT_SHAPE = {spec.input_shape!r}\nN_OUT = {spec.n_out}\nKEYS = {tuple(spec.param_names())!r}\n"
            f"SHAPES = {shapes}\n")


def generate_conv_kernel_source(spec: ConvNetSpec) -> str:
    """The source of the kernel module for the convolutional net ``spec`` (deterministic, ASCII, NumPy only)."""
    md = derive_model(spec)
    refuse_unless_holds(md)
    family = stand_in([str(act) for act in spec.activations], spec.cost, spec.reduction, "rows")
    elementwise, stable, folded = elementwise_section(family)
    forms = derive_batch_forms(spec.head())
    lines = ConvLines(spec, forms, stable)
    classes = spec.cost_entry.target is TargetKind.CLASSES
    targets = (_TARGETS.replace("LABELS_DOC", ";\n    integer class labels (m,) are one-hot encoded" if classes else "")
               .replace("LABELS_ARG", ", labels=np.ndim(y) == 1" if classes else "")
               .replace("LABELS_BRANCH", _LABELS if classes else ""))
    header = kernel_header(spec, md, [stable.derivation, folded],
                           [f"Family:      {spec.family_key()}",
                            f"             the net {spec.net}, activations {spec.act_text}, cost {spec.cost}, "
                            f"{spec.reduction} over the batch;",
                            "             samples as rows, NCHW: x (m, C, H, W), y (m, n_L)"
                            + (" or integer labels (m,)." if classes else ".")],
                           _sections(spec, [stable.derivation, folded]))
    parts = [header, _preamble(spec),
             section_rule("element-wise functions, printed from the proven stable forms", 109), elementwise,
             section_rule("checking the arguments"), _ARRAY, targets,
             section_rule("convolution and pooling as array operations (im2col + GEMM)"),
             _CONV if spec.convs else "", _POOL if _pools(spec) else "", _BATCH,
             section_rule("the model, printed from the proven forms")]
    parts += ["\n\n" + "\n".join(body) + "\n" for body in (lines.forward(), lines.loss(), lines.gradients())]
    parts.append(sgd_step_source(spec.param_names()))
    source = re.sub(r"\n{4,}", "\n\n\n", "".join(parts))
    check_cited(source, md.parts)
    return ascii_source(source)
