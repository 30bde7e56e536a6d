"""Code generation: one standalone NumPy module per model family, printed from proven forms.

``generate_kernel_source(spec)`` returns the source of a module with ``forward(params, x)``,
``loss(params, x, y)`` and ``gradients(params, x, y)`` for every model of ``spec``'s family (same depth,
activations, cost, reduction, layout and biases; any widths). It is printed, not written by hand:

* the **element-wise pieces** (activations, sigma' from the forward value, the cost term, dC/da, the fused
  bce and cce forms) come from :mod:`derive.functions.stable`, which proves each one equal to the derived form; they are
  printed with SymPy's NumPy printer (a subclass that writes ``np.`` and ``1/x``). A ``Piecewise`` on ``z > 0``
  becomes masks on ``z.real`` (never ``np.where``, which evaluates both branches and overflows): masked
  assignments where a branch holds exp or log, a blend ``neg + mask * (pos - neg)`` where both are polynomials
  (they cannot overflow). Either way the kernel stays analytic and complex step works through it;
* the **layer structure** (Z, A, the pre-scaled errors E, the gradients) comes from :mod:`derive.backprop.batch`: every
  line is one proven matrix expression, printed as matrix products (``@``), Hadamard products (``*``) and sums over
  the batch, so a 784-wide layer is one GEMM.

The source is deterministic: same family and SymPy version, same bytes (no timestamps, no measured numbers). It is
ASCII and needs NumPy only. This module does not verify the kernel against the hand-written backprop; ``bpv
kernels`` does that before writing (:mod:`derive.cli.commands.kernels`).
"""

from __future__ import annotations

import hashlib
import re
import textwrap

import sympy as sp
from sympy.codegen.cfunctions import log1p
from sympy.matrices.expressions import MatrixExpr
from sympy.matrices.expressions.special import OneMatrix
from sympy.printing.numpy import NumPyPrinter

from derive import __version__ as BPV_VERSION
from derive.backprop.batch import CAP, Apply, BatchForms, derive_batch_forms, m
from derive.backprop.model_functions import model_function_derivations
from derive.functions.stable import Piece, StableForms, derive_stable_forms, piece_name
from numeric.spec import ModelSpec

__all__ = ["KernelPrinter", "derivation_hash", "generate_kernel_source", "kernel_name"]

VERIFY_BOUNDS = ("block-relative error <= 1e-12 against numeric.backprop (forward, loss, gradients) and against "
                 "complex step; central differences with Richardson extrapolation within their own error estimate "
                 "(numeric.gradcheck, full mode)")


class KernelPrinter(NumPyPrinter):
    """SymPy's NumPy printer, writing ``np.`` instead of ``numpy.``, ``1/x`` for reciprocals, and the ReLU'
    convention H(z, 0) as a mask on ``z.real``."""

    def _module_format(self, fqn, register=True):
        out = super()._module_format(fqn, register)
        return "np." + out[len("numpy."):] if out.startswith("numpy.") else out

    def _print_Pow(self, expr, rational=False):
        if expr.exp == -1:
            return f"1/{self.parenthesize(expr.base, sp.printing.precedence.PRECEDENCE['Pow'])}"
        if expr.exp.is_Integer and expr.exp > 0:
            return f"{self.parenthesize(expr.base, sp.printing.precedence.PRECEDENCE['Pow'])}**{expr.exp}"
        return super()._print_Pow(expr, rational)

    def _print_Heaviside(self, expr):
        if len(expr.args) == 2 and expr.args[1] == 0:
            return f"({self._print(expr.args[0])}.real > 0) * 1.0"
        raise ValueError("only the ReLU' convention H(z, 0) is printed; H(0) = 1/2 is not a kernel form")


_PRINTER = KernelPrinter({"fully_qualified_modules": True})


def scalar_code(expr: sp.Expr) -> str:
    return _PRINTER.doprint(expr)


def kernel_name(spec: ModelSpec) -> str:
    """The module name: the catalog name, or one built from the spec (a valid identifier)."""
    return spec.slug


def derivation_hash(spec: ModelSpec) -> str:
    """Digest of every derivation the kernel is printed from (batch forms, stable forms, model functions)."""
    h = hashlib.sha256()
    parts = [derive_batch_forms(spec).derivation, derive_stable_forms(spec).derivation,
             *model_function_derivations(spec)]
    for d in parts:
        h.update(d.hash().encode())
    return h.hexdigest()[:16]


# ----- element-wise pieces --------------------------------------------------------------------------------------------
def piece_source(piece: Piece) -> str:
    """A small function for one piece; a Piecewise on z > 0 becomes two masked assignments."""
    args = [str(s) for s in piece.args]
    expr = sp.piecewise_fold(piece.expr)
    if expr.has(sp.Symbol("n_out", integer=True, positive=True)):
        args.append("n_out")
    doc = f'    """{piece.doc}."""'
    if not isinstance(expr, sp.Piecewise):
        chain = in_place_chain(expr, piece.args[0])
        body = [f"    return {scalar_code(expr)}"] if chain is None else chain
        return "\n".join([f"def {piece.name}({', '.join(args)}):", doc, *body]) + "\n"
    (pos_expr, cond), (neg_expr, other) = expr.args
    z = piece.args[0]
    if cond != (z > 0) or other is not sp.true:
        raise ValueError(f"piece {piece.name}: only a Piecewise on {z} > 0 is printed as masks")
    if not expr.has(sp.exp, sp.log, log1p):
        # polynomial branches cannot overflow: blend them with the real mask (one pass, no gathers)
        jump = sp.expand(pos_expr - neg_expr)
        blend = f"mask * {_PRINTER.parenthesize(jump, 50)}" if jump != 1 else "mask * 1.0"
        if neg_expr != 0:
            blend = f"{scalar_code(neg_expr)} + {blend}"
        return "\n".join([f"def {piece.name}({', '.join(args)}):", doc, f"    mask = {z}.real > 0",
                           f"    return {blend}"]) + "\n"

    def masked(e: sp.Expr, mask: str, target: str) -> list[str]:
        """``out[mask] = e`` with the arrays restricted to the mask; a repeated subexpression computed once."""
        e = sp.sympify(e).xreplace({s: sp.Symbol(f"{s}[{mask}]") for s in piece.args})
        temps, (reduced,) = sp.cse(e, symbols=sp.numbered_symbols(f"{target}_"))
        lines = [f"    {t} = {scalar_code(v)}" for t, v in temps]
        return [*lines, f"    out[{mask}] = {scalar_code(reduced)}"]

    arrays = [str(s) for s in piece.args if s in expr.free_symbols]
    dtype = f"np.result_type({', '.join(arrays)})" if len(arrays) > 1 else f"{z}.dtype"
    lines = [
        f"def {piece.name}({', '.join(args)}):",
        doc,
        f"    out = np.empty({z}.shape, dtype={dtype})",
        f"    pos = {z}.real > 0",
        "    neg = ~pos",
        *masked(pos_expr, "pos", "e"),
        *masked(neg_expr, "neg", "e"),
        "    return out",
    ]
    return "\n".join(lines) + "\n"


_UFUNCS = {sp.tanh: "tanh", sp.exp: "exp", sp.log: "log", log1p: "log1p"}


def in_place_chain(expr: sp.Expr, var: sp.Symbol) -> list[str] | None:
    """Lines that evaluate a chain such as c1 + c2 f(c3 var) in one buffer, or None if ``expr`` is not one.

    A chain is a nesting of constant shifts, constant scalings and one-argument functions of ``var``: printed
    with ``out=`` it allocates one array instead of one per operation (a 256 KB temporary costs as much as
    the arithmetic on it).
    """
    steps: list[str] = []
    e = expr
    while e != var:
        if isinstance(e, sp.Add) and len(e.args) == 2 and e.args[0].is_Number:
            steps.append(f"    out += {scalar_code(e.args[0])}")
            e = e.args[1]
        elif isinstance(e, sp.Mul) and len(e.args) == 2 and e.args[0].is_Number:
            steps.append(f"    out *= {scalar_code(e.args[0])}")
            e = e.args[1]
        elif type(e) in _UFUNCS and len(e.args) == 1:
            steps.append(f"    np.{_UFUNCS[type(e)]}(out, out=out)")
            e = e.args[0]
        else:
            return None
    if len(steps) < 2:
        return None
    first = steps.pop()
    if first.startswith("    out *= "):
        start = f"    out = np.multiply({var}, {first[len('    out *= '):]})"
    elif first.startswith("    out += "):
        start = f"    out = np.add({var}, {first[len('    out += '):]})"
    else:
        start = f"    out = np.{_ufunc_name(first)}({var})"
    return [start, *reversed(steps), "    return out"]


def _ufunc_name(line: str) -> str:
    return line.split("np.", 1)[1].split("(", 1)[0]


# ----- layer structure ------------------------------------------------------------------------------------------------
_NAME = re.compile(r"([A-Za-z]+)\^\{(\d+)\}")


class _MatrixCode:
    """Prints the batch forms' matrix expressions as NumPy (``@``, ``*``, ``.T``, sums over the batch)."""

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.axis = 1 if spec.layout == "columns" else 0

    def act(self, l: int) -> str:
        return piece_name(self.spec.activations[l - 1])

    def name(self, e: sp.MatrixSymbol) -> str:
        mt = _NAME.fullmatch(e.name)
        return f"{mt.group(1)}{mt.group(2)}" if mt else e.name

    def layer_of(self, e) -> int:
        return int(_NAME.fullmatch(e.name).group(2))

    def paren(self, e) -> str:
        text = self.code(e)
        return text if _is_atom(text) else f"({text})"

    def code(self, e) -> str:
        if isinstance(e, sp.MatrixSymbol):
            return self.name(e)
        if isinstance(e, sp.Transpose):
            return f"{self.paren(e.arg)}.T"
        if isinstance(e, Apply):
            return self.apply(e)
        if isinstance(e, sp.HadamardProduct):
            factors = [a for a in e.args if not self.is_identity_prime(a)]
            return " * ".join(self.paren(a) if len(factors) > 1 else self.code(a) for a in factors)
        if isinstance(e, sp.MatAdd):
            plus, minus = [], []
            for term in e.args:
                if isinstance(term, sp.MatMul) and term.args[0] == -1:
                    minus.append(self.code(sp.MatMul(*term.args[1:])))
                else:
                    plus.append(self.code(term))
            return " + ".join(plus) + "".join(f" - {t}" for t in minus)
        if isinstance(e, sp.MatMul):
            return self.matmul(e)
        raise TypeError(f"cannot print {type(e).__name__} as kernel code")

    def is_identity_prime(self, e) -> bool:
        return isinstance(e, Apply) and e.fname == "sigma'" and self.spec.activations[
            self.layer_of(e.operands[0]) - 1].name == "identity"

    def apply(self, e: Apply) -> str:
        ops = e.operands
        if e.fname == "sigma":
            l = self.layer_of(ops[0])
            if self.spec.activations[l - 1].name == "identity":
                return self.code(ops[0])
            return f"{self.act(l)}({self.code(ops[0])})"
        if e.fname == "softmax":
            return f"softmax({self.code(ops[0])})"
        if e.fname == "sigma'":
            l = self.layer_of(ops[0])
            return f"{self.act(l)}_prime({self.code(ops[0])}, A{l})"
        if e.fname == "softmax'^T":
            return f"softmax_vjp({self.code(ops[0])}, {self.code(ops[1])})"
        if e.fname == "dC/dA":
            extra = ", n_out" if self.spec.cost == "mse" else ""
            return f"{self.spec.cost}_da({self.code(ops[0])}, {self.code(ops[1])}{extra})"
        raise ValueError(f"no kernel function for {e.fname}")

    def matmul(self, e: sp.MatMul) -> str:
        scalars = [a for a in e.args if not isinstance(a, MatrixExpr)]
        mats = [a for a in e.args if isinstance(a, MatrixExpr)]
        scale = sp.Mul(*scalars)
        if len(mats) == 2 and isinstance(mats[1], OneMatrix) and mats[1].shape[0] == m:
            body = f"{self.paren(mats[0])}.sum(axis={self.axis}, keepdims=True)"   # Delta 1: sum over samples
        elif len(mats) == 2 and isinstance(mats[0], OneMatrix) and mats[0].shape[1] == m:
            body = f"{self.paren(mats[1])}.sum(axis={self.axis}, keepdims=True)"   # 1^T Delta
        elif len(mats) == 2 and isinstance(mats[1], OneMatrix):
            body = self.code(mats[0])  # b 1^T: NumPy broadcasting adds b to every sample
        elif len(mats) == 2 and isinstance(mats[0], OneMatrix):
            body = self.code(mats[1])  # 1 b
        else:
            body = " @ ".join(self.paren(a) for a in mats) if len(mats) > 1 else self.code(mats[0])
        if scale == 1:
            return body
        if scale == 1 / m:
            return f"{body} / m" if _is_atom(body) else f"({body}) / m"
        raise ValueError(f"unexpected scalar factor {scale}")


def _is_atom(code: str) -> bool:
    """True for ``name``, ``name(...)`` or ``(...)``: no operator outside parentheses."""
    depth = 0
    for ch in code:
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and ch in " +-*/@":
            return False
    return True


# ----- the module -----------------------------------------------------------------------------------------------------
def _header(spec: ModelSpec, forms: BatchForms, stable: StableForms) -> str:
    acts = ",".join(str(a) for a in spec.activations)
    lines = [
        f"Generated NumPy kernel for the model family of {spec.title} (any widths).",
        "",
        f"Family:      {spec.L} layers; activations {acts}; cost {spec.cost}; {spec.reduction} over the batch;",
        f"             samples as {spec.layout}; {'with' if spec.bias else 'no'} biases.",
        f"Generated:   by bpv {BPV_VERSION} with SymPy {sp.__version__} from `bpv kernels "
        + (spec.name if spec.name else spec.cli_args()) + "`.",
        f"Derivation:  {derivation_hash(spec)} (hash of the batch-form, stable-form, activation, cost and",
        "             output-error derivations this module is printed from).",
        "",
        "How it was verified",
        "-------------------",
        "Each layer-level line (Z, A, E, gradients) is printed from a batch form proven element-wise: evaluated",
        f"entry by entry on an instance with widths capped at {CAP} and batch m = {forms.instance['m']}, and compared"
        " with",
        "sympy.diff of the batch cost (sigma and the downstream cost undefined functions; the output error with",
        "this model's own functions). Each element-wise function is printed from a form proven equal to the",
        "derived one (the *.kernel steps and the fused costs). Steps, verdicts and methods:",
    ]
    for d in (forms.derivation, stable.derivation):
        for s in d.steps:
            if s.kind in ("definition", "axiom"):
                continue
            text = f"{s.label}: {s.verdict()}, {s.method}"
            lines.extend(textwrap.wrap(text, 108, initial_indent="  ", subsequent_indent="      "))
    lines += [
        *textwrap.wrap("Before writing this file, `bpv kernels` ran it on a random instance and compared it with "
                       "the hand-written backprop and with finite differences (" + VERIFY_BOUNDS + "); it refuses "
                       "to write a kernel that fails.", 110),
        "",
        "Needs NumPy only. Do not edit: regenerate.",
    ]
    return '"""' + "\n".join(lines).replace("\\", "/") + '\n"""\n'


def _validation(spec: ModelSpec) -> str:
    cols = spec.layout == "columns"
    keys = spec.param_names()
    w_shape = "(n_{l}, n_{l - 1})" if cols else "(n_{l - 1}, n_{l})"
    b_shape = "(n_{l}, 1)" if cols else "(1, n_{l})"
    w_in, w_out = ("1", "0") if cols else ("0", "1")
    src = f'''
KEYS = {tuple(keys)!r}


def _array(value, what, labels=False):
    """A float (or complex) array; integers become float64 unless they are class labels."""
    array = np.asarray(value)
    if array.dtype.kind not in "biufc":
        raise ValueError(f"{{what}} must be a numeric array, got dtype {{array.dtype}}")
    if array.dtype.kind in "biu" and not labels:
        array = array.astype(np.float64)
    return array


def _parameters(params):
    """The parameter arrays in the order of KEYS, their shapes checked against each other."""
    if not hasattr(params, "keys"):
        raise ValueError(f"params must be a dict with keys {{', '.join(KEYS)}}, got {{type(params).__name__}}")
    missing = [key for key in KEYS if key not in params]
    if missing:
        raise ValueError(f"params is missing {{missing[0]!r}}: expected keys {{', '.join(KEYS)}}")
    arrays = []
    n_prev = None
    for l in range(1, LAYERS + 1):
        W = _array(params[f"W{{l}}"], f"params['W{{l}}']")
        n_in = W.shape[{w_in}] if W.ndim == 2 else None
        if W.ndim != 2 or (n_prev is not None and n_in != n_prev):
            expected = f"{w_shape}" + ("" if n_prev is None else f" with n_{{l - 1}} = {{n_prev}}")
            raise ValueError(f"params['W{{l}}'] has shape {{W.shape}}; expected {{expected}} ({spec.layout} layout)")
        n_prev = W.shape[{w_out}]
        arrays.append(W)
'''
    if spec.bias:
        src += f'''        b = _array(params[f"b{{l}}"], f"params['b{{l}}']")
        if b.shape != {"(n_prev, 1)" if cols else "(1, n_prev)"}:
            expected = f"{b_shape} = {{{"(n_prev, 1)" if cols else "(1, n_prev)"}}}"
            raise ValueError(f"params['b{{l}}'] has shape {{b.shape}}; expected {{expected}} ({spec.layout} layout)")
        arrays.append(b)
'''
    x_shape, unit_axis = ("(n_0, m)", 0) if cols else ("(m, n_0)", 1)
    y_shape, y_value = ("(n_L, m)", "({n_L}, {m})") if cols else ("(m, n_L)", "({m}, {n_L})")
    int_labels = "; integer class labels of length m are one-hot encoded" if spec.cost == "cce" else ""
    src += f'''    return arrays


def _inputs(x, W1):
    """x as an array {x_shape}, its feature count checked against W1."""
    x = _array(x, "x")
    n_0 = W1.shape[{w_in}]
    if x.ndim != 2 or x.shape[{unit_axis}] != n_0:
        raise ValueError(f"x has shape {{x.shape}}; expected {x_shape} with n_0 = {{n_0}} ({spec.layout} layout: "
                         "one {"column" if cols else "row"} per sample)")
    return x


def _targets(y, m, n_L):
    """y as an array {y_shape}{int_labels}."""
'''
    if spec.cost == "cce":
        src += f'''    y = _array(y, "y", labels=np.ndim(y) == 1)
    if y.ndim == 1:
        if y.dtype.kind not in "iu" or y.shape[0] != m:
            raise ValueError(f"y has shape {{y.shape}} and dtype {{y.dtype}}; expected {{m}} integer class labels "
                             f"or one-hot targets of shape {y_shape} = {y_value}")
        if m and (y.min() < 0 or y.max() >= n_L):
            raise ValueError(f"y holds class labels outside 0..{{n_L - 1}}")
        one_hot = np.zeros(({"n_L, m" if cols else "m, n_L"}))
        one_hot[{"y, np.arange(m)" if cols else "np.arange(m), y"}] = 1.0
        return one_hot
'''
    else:
        src += '''    y = _array(y, "y")
'''
    shape = "(n_L, m)" if cols else "(m, n_L)"
    src += f'''    if y.shape != {shape}:
        raise ValueError(f"y has shape {{y.shape}}; expected {shape} = {{{shape}}} ({spec.layout} layout)")
    return y
'''
    return src


def _softmax_source(spec: ModelSpec, stable: StableForms) -> str:
    axis = 0 if spec.layout == "columns" else 1
    num = scalar_code(stable.pieces["softmax_numerator"].expr)
    src = f'''
def softmax(z):
    """Softmax of every sample, with the max subtracted (step softmax.shift): no exponent is positive."""
    c = z.real.max(axis={axis}, keepdims=True)
    e = {num}
    return e / e.sum(axis={axis}, keepdims=True)
'''
    if spec.cost == "cce":
        src += f'''

def log_sum_exp(z):
    """ln sum_k exp(z_k) of every sample, with the max subtracted (step lse.shift)."""
    c = z.real.max(axis={axis}, keepdims=True)
    return c + np.log({num}.sum(axis={axis}, keepdims=True))
'''
    else:
        vjp = stable.pieces["softmax_vjp"]
        term = scalar_code(vjp.expr.xreplace({vjp.args[0]: sp.Symbol("s")}))
        src += f'''

def softmax_vjp(s, g):
    """J^T g for every sample, J = diag(s) - s s^T the softmax Jacobian (step softmax.vjp)."""
    dot = (s * g).sum(axis={axis}, keepdims=True)
    return {term}
'''
    return src


def _forward_lines(spec: ModelSpec, forms: BatchForms, mc: _MatrixCode, upto_z: bool = False) -> list[str]:
    lines = []
    for l in range(1, spec.L + 1):
        lf = forms.layers[l]
        lines.append(f"    Z{l} = {mc.code(lf.Z)}")
        if upto_z and l == spec.L:
            break
        lines.append(f"    A{l} = {mc.code(lf.A)}")
    return lines


def _unpack(spec: ModelSpec) -> str:
    return ", ".join(spec.param_names()) + (" = _parameters(params)" if len(spec.param_names()) > 1 else
                                            ", = _parameters(params)")


def _cost_lines(spec: ModelSpec) -> list[str]:
    L = spec.L
    out = spec.activations[-1]
    n_axis = 0 if spec.layout == "columns" else 1
    if spec.cost == "cce":
        return [f"    cost = cce_from_lse(Z{L}, Y, log_sum_exp(Z{L}))"]
    if spec.cost == "bce" and out.name == "sigmoid":
        return [f"    cost = bce_from_z(Z{L}, Y)"]
    extra = f", n_out=Y.shape[{n_axis}]" if spec.cost == "mse" else ""
    return [f"    cost = {spec.cost}_term(A{L}, Y{extra})"]


def generate_kernel_source(spec: ModelSpec) -> str:
    """The source of the kernel module for ``spec``'s family (deterministic, ASCII, NumPy only)."""
    forms = derive_batch_forms(spec)
    stable = derive_stable_forms(spec)
    if not forms.holds or not stable.holds:
        bad = [s.label for s in forms.derivation.failures() + stable.derivation.failures()]
        raise ValueError(f"cannot generate a kernel from forms that do not hold: {', '.join(bad)}")
    mc = _MatrixCode(spec)
    L = spec.L
    cols = spec.layout == "columns"
    sample_axis = 1 if cols else 0
    n_axis = 0 if cols else 1
    fused_L = forms.layers[L].E
    parts = [_header(spec, forms, stable), "from __future__ import annotations\n\nimport numpy as np\n\n"
             '__all__ = ["FAMILY", "KEYS", "LAYERS", "forward", "gradients", "loss"]\n\n'
             f"#: What this kernel serves: every width of this family.\nFAMILY = {spec.family_key()!r}\n"
             f"LAYERS = {L}\n"]
    parts.append("\n\n# ----- element-wise functions, printed from the proven stable forms " + "-" * 40 + "\n")
    for key, piece in stable.pieces.items():
        if key in ("softmax_numerator", "softmax_vjp") or piece.name in ("identity", "identity_prime"):
            continue  # printed inline: the shifted softmax below, and identity layers (A = Z, no factor 1)
        parts.append("\n\n" + piece_source(piece))
    if spec.activations[-1].name == "softmax":
        parts.append("\n" + _softmax_source(spec, stable))
    parts.append("\n\n# ----- checking the arguments " + "-" * 79 + "\n")
    parts.append(_validation(spec))
    parts.append("\n\n# ----- the model, printed from the proven batch forms " + "-" * 55 + "\n")
    shape_x = "(n_0, m)" if cols else "(m, n_0)"
    shape_y = "(n_L, m)" if cols else "(m, n_L)"
    labels = "; integer class labels of length m also work" if spec.cost == "cce" else ""
    # forward
    body = ["def forward(params, x):",
            f'    """a^L for a batch x {shape_x}: returns an array {shape_y}."""',
            f"    {_unpack(spec)}",
            "    A0 = _inputs(x, W1)",
            *_forward_lines(spec, forms, mc),
            f"    return A{L}"]
    parts.append("\n\n" + "\n".join(body) + "\n")
    # loss
    reduce = "np.sum(cost) / m" if spec.reduction == "mean" else "np.sum(cost)"
    need_a = not (spec.cost == "cce" or (spec.cost == "bce" and spec.activations[-1].name == "sigmoid"))
    # loss and gradients open the same way: unpack and check the arguments, batch size, targets
    def prologue(name: str, summary: str) -> list[str]:
        return [f"def {name}(params, x, y):", f'    """{summary}', "", f"    x is {shape_x}, y is {shape_y}{labels}.",
                '    """', f"    {_unpack(spec)}", "    A0 = _inputs(x, W1)", f"    m = A0.shape[{sample_axis}]",
                f"    Y = _targets(y, m, W{L}.shape[{n_axis}])"]

    body = [*prologue("loss", f"The {spec.reduction} over the batch of the per-sample {spec.cost} costs."),
            *_forward_lines(spec, forms, mc, upto_z=not need_a),
            *_cost_lines(spec),
            f"    return ({reduce}).item()"]
    parts.append("\n\n" + "\n".join(body) + "\n")
    # gradients
    body = [*prologue("gradients", "dC/dW^l and dC/db^l of every layer, as a dict with the keys of params."),
            *_forward_lines(spec, forms, mc)]
    if spec.cost == "mse":
        body.append(f"    n_out = Y.shape[{n_axis}]")
    if spec.reduction == "mean":
        body.append(f"    # errors pre-scaled by 1/m (steps code.E1..code.E{L}): the gradients sum, never average")
    else:
        body.append(f"    # errors (steps batch.Delta1..batch.Delta{L}); the cost is summed, so are the gradients")
    body.append(f"    E{L} = {mc.code(fused_L)}")
    for l in range(L - 1, 0, -1):
        body.append(f"    E{l} = {mc.code(forms.layers[l].E)}")
    body.append("    return {")
    for l in range(1, L + 1):
        lf = forms.layers[l]
        body.append(f'        "W{l}": {mc.code(lf.code_W)},')
        if spec.bias:
            body.append(f'        "b{l}": {mc.code(lf.code_b)},')
    body.append("    }")
    parts.append("\n\n" + "\n".join(body) + "\n")
    source = re.sub(r"\n{4,}", "\n\n\n", "".join(parts))  # two blank lines between definitions, as PEP 8
    try:
        source.encode("ascii")
    except UnicodeEncodeError as err:
        raise ValueError(f"generated source is not ASCII at {err.start}: {source[err.start - 40:err.end + 40]!r}"
                         ) from None
    return source
