"""The batch (matrix) forms of backprop, derived in index form and proven element-wise, both reductions, both layouts.

Vectorised code works on a whole batch at once: Z^l = W^l A^{l-1} + b^l 1^T, Delta^l stacks the per-sample,
unscaled errors delta^l_x (DESIGN.md § Conventions), and the gradients are matrix products such as
nabla_W^l = (1/m) Delta^l (A^{l-1})^T. Here those forms are **derived**, then **checked**, then compared with the
textbook:

1. *derived in index form, for symbolic widths and batch size*: the batch matrices are ``MatrixSymbol`` objects laid
   out as the spec stores them; z^l_{jx} is written as a ``Sum`` of their entries; the one stated rule is the
   multivariate chain rule over units and samples (dC/dtheta = sum_{j,x} s Delta^l_{jx} dz^l_{jx}/dtheta);
   ``sympy.diff`` gives dz/dtheta as Kronecker deltas, ``doit`` collapses the sums, and SymPy's array converters
   (``convert_indexed_to_array``, ``convert_array_to_matrix``) read the result as ``MatMul``/``Transpose``/
   ``HadamardProduct``. (They silently drop scalar factors such as 1/m and cannot read an element-wise product
   with a contraction; both are handled here: scalars are kept apart, and such a product is read part by part.)
2. *checked element-wise, no axiom*: on a small instance (widths capped at 2, batch m = 2) the parameters, inputs
   and errors are scalar symbols; the batch cost C = s sum_x C_x is built with the per-sample cost downstream of
   layer l an undefined function G (and sigma undefined), so the result holds for every differentiable cost and
   activation; ``sympy.diff`` differentiates it entry by entry, and each entry is compared with the matrix form
   evaluated on the same symbols (:func:`derive.core.proof.prove_equal`). When the symbolic route cannot decide, the
   claim is re-checked with polynomial stand-ins for G and sigma, which can refute it (a counterexample for one G
   refutes a claim about every G) but never proves it. The output error Delta^L (from
   :mod:`derive.backprop.output_delta`)
   is checked with the model's *real* output activation and cost.
3. *the textbook form* ((1/m) Delta (A^{l-1})^T, ...) is a claim compared with the derived one.

The forms code uses pre-scale the output error, E^L = (1/m) Delta^L, propagate E through the same recursion, and
then *sum* (nabla_W^l = E^l (A^{l-1})^T): derived by substitution and proven the same way, because averaging after
pre-scaling is the classic bug (:func:`check_claim` refutes it with a counterexample).

This module does not print code (that is :mod:`derive.codegen.kernel`) and does not derive the element-wise
derivatives (those are :mod:`derive.functions.activations`, :mod:`derive.functions.costs`,
:mod:`derive.backprop.output_delta`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.matrices.expressions import MatrixExpr

from derive.backprop.output_delta import FUSED, derive_output_delta
from derive.core.proof import Check, prove_equal
from derive.core.steps import Derivation, Step
from derive.core.symbols import a as a_idx
from derive.core.symbols import y as y_idx
from derive.functions.activations import derive_activation, zs
from derive.functions.costs import L as L_sym
from derive.functions.costs import derive_cost, n_out
from derive.functions.costs import unit_j as j_sym
from numeric.spec import ModelSpec

__all__ = [
    "Apply",
    "BatchForms",
    "Gradient",
    "LayerForms",
    "check_claim",
    "derive_batch_forms",
    "derive_error_form",
    "derive_gradient_form",
    "explicit",
    "index_to_matrix",
]

#: Width cap and batch size of the instance every form is proven on.
CAP = 2
M_CHECK = 2

m = sp.Symbol("m", integer=True, positive=True)


# ----- an element-wise (or per-sample) function applied to matrices ------------------------------------------------
class Apply(MatrixExpr):
    """``f(M1, M2, ...)`` applied entry by entry (``per_sample=False``) or per sample (softmax).

    ``name`` is the function's name as the book prints it (``sigma``, ``sigma'``, ``softmax``, ``dC/dA``); the
    shape is that of the first argument. SymPy's own ``ElementwiseApplyFunction`` prints as invalid code
    (DESIGN.md), hence this small node with explicit print methods.
    """

    def __new__(cls, name: str | sp.Symbol, *args: MatrixExpr):
        return super().__new__(cls, name if isinstance(name, sp.Symbol) else sp.Symbol(name), *args)

    @property
    def fname(self) -> str:
        return self.args[0].name

    @property
    def operands(self) -> tuple:
        return self.args[1:]

    @property
    def shape(self):
        return self.args[1].shape

    def _entry(self, i, j, **kwargs):
        raise NotImplementedError("evaluate Apply with derive.backprop.batch.explicit and a function table")

    def _text(self, printer) -> str:
        name = {"sigma": "σ", "sigma'": "σ'", "softmax'^T": "J_softmax^T"}.get(self.fname, self.fname)
        return f"{name}({', '.join(printer._print(o) for o in self.operands)})"

    def _booktext(self, printer) -> str:
        return self._text(printer)

    def _sympystr(self, printer) -> str:
        return f"{self.fname}({', '.join(printer._print(o) for o in self.operands)})"

    def _latex(self, printer) -> str:
        name = {"sigma": "\\sigma", "sigma'": "\\sigma'", "softmax": "\\operatorname{softmax}",
                "dC/dA": "\\nabla_{A} C", "softmax'^T": "J_{\\operatorname{softmax}}^{\\mathsf{T}}"}.get(
            self.fname, f"\\operatorname{{{self.fname}}}")
        return f"{name}\\left({', '.join(printer._print(o) for o in self.operands)}\\right)"


class Gradient(sp.MatrixSymbol):
    """dC/dW^l or dC/db^l as one matrix name, printed as the book writes it."""

    def __new__(cls, *args):
        """``Gradient("W", l, rows, cols)``; SymPy rebuilds it as ``Gradient(name, rows, cols)``."""
        if len(args) == 4:
            param, l, rows, cols = args
            return super().__new__(cls, f"nabla^{{{l}}}_{{{param}}}", rows, cols)
        return super().__new__(cls, *args)

    @property
    def _parts(self) -> tuple[str, str]:
        layer = self.name.split("{")[1].split("}")[0]
        param = self.name.rsplit("{", 1)[1].rstrip("}")
        return param, layer

    def _latex(self, printer) -> str:
        param, layer = self._parts
        return f"\\frac{{\\partial C}}{{\\partial {param}^{{{layer}}}}}"

    def _booktext(self, printer) -> str:
        param, layer = self._parts
        return f"∂C/∂{param}^{layer}"


def explicit(expr, env: Mapping, functions: Mapping[str, Callable] | None = None) -> sp.Matrix:
    """Evaluate a matrix expression entry by entry.

    ``env`` maps each ``MatrixSymbol`` (and the batch-size symbol ``m``) to an explicit matrix (number); ``functions``
    maps an :class:`Apply` name to a callable on explicit matrices.
    """
    functions = functions or {}
    if isinstance(expr, sp.MatrixSymbol):
        return sp.Matrix(env[expr])
    if isinstance(expr, sp.matrices.expressions.special.OneMatrix):
        return sp.ones(*[int(d.xreplace(dict(env))) for d in expr.shape])
    if isinstance(expr, Apply):
        return functions[expr.fname](*[explicit(o, env, functions) for o in expr.operands])
    if isinstance(expr, sp.Transpose):
        return explicit(expr.arg, env, functions).T
    if isinstance(expr, sp.HadamardProduct):
        parts = [explicit(o, env, functions) for o in expr.args]
        out = parts[0]
        for p in parts[1:]:
            out = out.multiply_elementwise(p)
        return out
    if isinstance(expr, sp.MatAdd):
        parts = [explicit(o, env, functions) for o in expr.args]
        out = parts[0]
        for p in parts[1:]:
            out = out + p
        return out
    if isinstance(expr, (sp.MatMul, sp.Mul)):
        scalar = sp.Integer(1)
        out = None
        for o in expr.args:
            if getattr(o, "is_Matrix", False) or isinstance(o, MatrixExpr):
                e = explicit(o, env, functions)
                out = e if out is None else out * e
            else:
                scalar *= o.xreplace(dict(env))
        return scalar * out
    raise TypeError(f"cannot evaluate {type(expr).__name__} explicitly")


# ----- the matrix names -----------------------------------------------------------------------------------------------
def width(l) -> sp.Symbol:
    return sp.Symbol(f"n_{l}", integer=True, positive=True)


def _shape(spec_layout: str, rows: sp.Expr, cols: sp.Expr) -> tuple:
    """(rows, cols) as the columns layout writes them, transposed for the rows layout."""
    return (rows, cols) if spec_layout == "columns" else (cols, rows)


@dataclass(frozen=True)
class Names:
    """The MatrixSymbols of one layout, named as the book writes them (``W^{2}``, ``A^{1}``, ``Delta^{2}``)."""

    layout: str

    def W(self, l) -> sp.MatrixSymbol:
        return sp.MatrixSymbol(f"W^{{{l}}}", *_shape(self.layout, width(l), width(l - 1)))

    def b(self, l) -> sp.MatrixSymbol:
        return sp.MatrixSymbol(f"b^{{{l}}}", *_shape(self.layout, width(l), 1))

    def Z(self, l) -> sp.MatrixSymbol:
        return sp.MatrixSymbol(f"Z^{{{l}}}", *_shape(self.layout, width(l), m))

    def A(self, l) -> sp.MatrixSymbol:
        return sp.MatrixSymbol(f"A^{{{l}}}", *_shape(self.layout, width(l), m))

    def Delta(self, l) -> sp.MatrixSymbol:
        return sp.MatrixSymbol(f"Delta^{{{l}}}", *_shape(self.layout, width(l), m))

    def E(self, l) -> sp.MatrixSymbol:
        return sp.MatrixSymbol(f"E^{{{l}}}", *_shape(self.layout, width(l), m))

    def Y(self, L) -> sp.MatrixSymbol:
        return sp.MatrixSymbol("Y", *_shape(self.layout, width(L), m))

    def nabla_W(self, l) -> sp.MatrixSymbol:
        return Gradient("W", l, *self.W(l).shape)

    def nabla_b(self, l) -> sp.MatrixSymbol:
        return Gradient("b", l, *self.b(l).shape)


# ----- the forms ------------------------------------------------------------------------------------------------------
def z_form(N: Names, l: int, bias: bool) -> MatrixExpr:
    """Z^l = W^l A^{l-1} + b^l 1^T (columns) or A^{l-1} W^l + 1 b^l (rows)."""
    if N.layout == "columns":
        lin = N.W(l) * N.A(l - 1)
        return lin + N.b(l) * sp.OneMatrix(1, m) if bias else lin
    lin = N.A(l - 1) * N.W(l)
    return lin + sp.OneMatrix(m, 1) * N.b(l) if bias else lin


def backprop_form(N: Names, l: int, upstream: sp.MatrixSymbol) -> MatrixExpr:
    """((W^{l+1})^T U) (.) sigma'(Z^l) (columns) or (U (W^{l+1})^T) (.) sigma'(Z^l) (rows)."""
    W = N.W(l + 1)
    back = W.T * upstream if N.layout == "columns" else upstream * W.T
    return sp.HadamardProduct(back, Apply("sigma'", N.Z(l)))


def weight_form(N: Names, l: int, err: MatrixExpr, scale: sp.Expr) -> MatrixExpr:
    """scale Delta^l (A^{l-1})^T (columns) or scale (A^{l-1})^T Delta^l (rows)."""
    A = N.A(l - 1)
    prod = err * A.T if N.layout == "columns" else A.T * err
    return scale * prod if scale != 1 else prod


def bias_form(N: Names, err: MatrixExpr, scale: sp.Expr) -> MatrixExpr:
    """scale Delta^l 1 (columns) or scale 1^T Delta^l (rows)."""
    prod = err * sp.OneMatrix(m, 1) if N.layout == "columns" else sp.OneMatrix(1, m) * err
    return scale * prod if scale != 1 else prod


def output_form(N: Names, spec: ModelSpec) -> MatrixExpr:
    """Delta^L: A^L - Y where :mod:`derive.backprop.output_delta` proved the fused form, else dC/dA (.) f'(Z^L)
    (BP1)."""
    L = spec.L
    act = spec.activations[-1]
    if (act.name, spec.cost) in FUSED:
        od = derive_output_delta(act, spec.cost)
        if od.fused and od.derivation["out.fused"].holds:
            return N.A(L) - N.Y(L)
    if act.name == "softmax":
        # not element-wise: each sample's error is J^T dC/da with J = diag(s) - s s^T (derive.functions.activations)
        return Apply("softmax'^T", N.A(L), Apply("dC/dA", N.A(L), N.Y(L)))
    return sp.HadamardProduct(Apply("dC/dA", N.A(L), N.Y(L)), Apply("sigma'", N.Z(L)))


def softmax_jacobian_t(layout: str) -> Callable[[sp.Matrix, sp.Matrix], sp.Matrix]:
    """Explicit J(s)^T g per sample, J = diag(s) - s s^T: entries s_i (g_i - sum_k s_k g_k)."""

    def apply(A: sp.Matrix, G: sp.Matrix) -> sp.Matrix:
        out = A.applyfunc(lambda e: 0)
        samples = A.shape[1] if layout == "columns" else A.shape[0]
        for x in range(samples):
            s = list(A[:, x]) if layout == "columns" else list(A[x, :])
            g = list(G[:, x]) if layout == "columns" else list(G[x, :])
            dot = sum((si * gi for si, gi in zip(s, g, strict=True)), sp.Integer(0))
            for i in range(len(s)):
                out[(i, x) if layout == "columns" else (x, i)] = s[i] * (g[i] - dot)
        return out

    return apply


@dataclass
class LayerForms:
    """The matrix expressions of layer ``l`` (MatrixSymbols named ``W^{l}``, ``A^{l-1}``, ``Delta^{l}``, ...).

    ``Delta``/``nabla_W``/``nabla_b`` are the book forms (unscaled Delta, the reduction factor on the gradients);
    ``E``/``code_W``/``code_b`` are the forms code uses (pre-scaled error E = s Delta, gradients summed).
    """

    l: int
    Z: MatrixExpr
    A: MatrixExpr
    Delta: MatrixExpr
    nabla_W: MatrixExpr
    nabla_b: MatrixExpr | None
    E: MatrixExpr
    code_W: MatrixExpr
    code_b: MatrixExpr | None


@dataclass
class BatchForms:
    """Batch forms of one model family with their derivation (every form proven element-wise)."""

    spec: ModelSpec
    names: Names
    scale: sp.Expr
    layers: dict[int, LayerForms]
    derivation: Derivation
    instance: dict = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        return self.derivation.holds


# ----- the small instance every form is proven on ---------------------------------------------------------------------
class Instance:
    """Scalar symbols for one layer's parameters and activations, stored in the spec's layout."""

    def __init__(self, spec: ModelSpec, widths: list[int], mm: int):
        self.spec, self.widths, self.m = spec, widths, mm
        self.N = Names(spec.layout)

    def store(self, rows: int, cols: int, fn: Callable[[int, int], sp.Expr]) -> sp.Matrix:
        """A (rows, cols) matrix in the columns sense (unit, sample), stored in the spec's layout."""
        M = sp.Matrix(rows, cols, fn)
        return M if self.spec.layout == "columns" else M.T

    def unit_sample(self, M: sp.Matrix, j: int, x: int) -> sp.Expr:
        return M[j, x] if self.spec.layout == "columns" else M[x, j]

    def sample(self, M: sp.Matrix, x: int) -> list[sp.Expr]:
        return list(M[:, x]) if self.spec.layout == "columns" else list(M[x, :])

    def W(self, l: int, prefix: str = "w") -> sp.Matrix:
        n, k = self.widths[l], self.widths[l - 1]
        return self.store(n, k, lambda j, q: sp.Symbol(f"{prefix}^{l}_{j + 1}{q + 1}"))

    def b(self, l: int) -> sp.Matrix:
        return self.store(self.widths[l], 1, lambda j, _: sp.Symbol(f"b^{l}_{j + 1}"))

    def units(self, name: str, l: int) -> sp.Matrix:
        return self.store(self.widths[l], self.m, lambda j, x: sp.Symbol(f"{name}^{l}_{j + 1},{x + 1}"))


def _apply(fn: Callable[[sp.Expr], sp.Expr]) -> Callable[[sp.Matrix], sp.Matrix]:
    return lambda M: M.applyfunc(fn)


SIGMA = sp.Function("sigma")
G = sp.Function("G")
_t = sp.Dummy("t")


def _sigma_prime(e: sp.Expr) -> sp.Expr:
    return sp.Subs(sp.Derivative(SIGMA(_t), _t), _t, e).doit()


GENERAL_FUNCTIONS = {"sigma": _apply(SIGMA), "sigma'": _apply(_sigma_prime)}


def _witness(expr: sp.Expr, seed: int = 7) -> sp.Expr:
    """Replace G and sigma by concrete polynomials with random rational coefficients (for refutation only)."""
    rng = random.Random(seed)

    def coef() -> sp.Rational:
        return sp.Rational(rng.randint(1, 19), rng.randint(2, 7))

    cs = [coef() for _ in range(8)]

    def g(*args):
        return sum((cs[i % 8] * t**2 / 2 + cs[(i + 3) % 8] * t for i, t in enumerate(args)), sp.Integer(0))

    out = expr.replace(lambda e: isinstance(e, AppliedUndef) and e.func == G, lambda e: g(*e.args))
    out = out.replace(lambda e: isinstance(e, AppliedUndef) and e.func == SIGMA,
                      lambda e: e.args[0] ** 3 / 3 + cs[0] * e.args[0])
    return out.doit()


def _compare(direct: sp.Matrix, claimed: sp.Matrix, what: str) -> Check:
    """Entry-by-entry comparison; undefined functions are refuted with polynomial stand-ins when undecided."""
    if direct.shape != claimed.shape:
        return Check(False, f"shape {claimed.shape} of the claim differs from {direct.shape} of {what}")
    methods = set()
    for idx in range(len(direct)):
        chk = prove_equal(direct[idx], claimed[idx])
        if chk.holds is None:
            w = prove_equal(_witness(direct[idx]), _witness(claimed[idx]))
            if w.holds is False:
                r, c = divmod(idx, direct.shape[1])
                ce = {"entry": f"({r + 1},{c + 1})", **(w.counterexample or {}),
                      "stand-ins": "G(z) = sum_i (c_i z_i^2/2 + d_i z_i), sigma(t) = t^3/3 + c t (rational c_i, d_i)"}
                return Check(False, "counterexample with polynomial stand-ins for the undefined G and sigma",
                             counterexample=ce)
            return Check(None, "symbolic only (undefined functions)", f"entry {idx}: SymPy could not decide")
        if chk.holds is False:
            r, c = divmod(idx, direct.shape[1])
            return Check(False, f"entry ({r + 1},{c + 1}): {chk.method}",
                         counterexample={"entry": f"({r + 1},{c + 1})", **(chk.counterexample or {})})
        methods.add(chk.method.split(":")[0])
    how = "/".join(sorted(methods))
    return Check(True, f"element-wise: all {len(direct)} entries equal sympy.diff of the batch cost ({how})",
                 f"{what}; widths capped at {CAP}, batch m = {M_CHECK}")


# ----- the checks -----------------------------------------------------------------------------------------------------
@cache
def _layer_setup(spec: ModelSpec, widths: tuple[int, ...], l: int, mm: int):
    """Batch cost of layer l with G undefined downstream: returns (instance, env, C, direct dC/dW, dC/db, D)."""
    inst = Instance(spec, widths, mm)
    N = inst.N
    Wm, Aprev = inst.W(l), inst.units("a", l - 1)
    env = {N.W(l): Wm, N.A(l - 1): Aprev, m: mm}
    if spec.bias:
        env[N.b(l)] = inst.b(l)
    Z = explicit(z_form(N, l, spec.bias), env, {})
    s = sp.Rational(1, mm) if spec.reduction == "mean" else sp.Integer(1)
    C = s * sum((G(*inst.sample(Z, x)) for x in range(mm)), sp.Integer(0))
    # per-sample errors delta^l_x = dC_x/dz^l_x, with z^l_x as free symbols, then put back in terms of W, A, b
    zsym = inst.units("z", l)
    back = {inst.unit_sample(zsym, j, x): inst.unit_sample(Z, j, x) for j in range(widths[l]) for x in range(mm)}
    D = zsym.applyfunc(lambda e: 0)
    for x in range(mm):
        Cx = G(*inst.sample(zsym, x))
        for j in range(widths[l]):
            val = sp.diff(Cx, inst.unit_sample(zsym, j, x)).subs(back)
            if spec.layout == "columns":
                D[j, x] = val
            else:
                D[x, j] = val
    dW = Wm.applyfunc(lambda w: sp.diff(C, w))
    db = inst.b(l).applyfunc(lambda bb: sp.diff(C, bb)) if spec.bias else None
    return inst, env, s, dW, db, D


def check_claim(spec: ModelSpec, l: int, param: str, claim: MatrixExpr, *, scaled_error: bool = False) -> Check:
    """Check a claimed matrix form of nabla_W^l (``param="W"``) or nabla_b^l (``"b"``) element-wise.

    The claim may use ``W^{l}``, ``A^{l-1}``, ``Delta^{l}`` (the unscaled per-sample errors), ``E^{l}`` (the
    pre-scaled error s Delta^l, with s = 1/m for the mean) and ``m``. Returns a :class:`Check`, with a
    counterexample when the claim does not hold (e.g. an extra 1/m on top of a mean).
    """
    widths = [min(n, CAP) for n in spec.sizes]
    inst, env, s, dW, db, D = _layer_setup(spec, tuple(widths), l, M_CHECK)
    N = inst.N
    env = {**env, N.Delta(l): D, N.E(l): s * D}
    direct = dW if param == "W" else db
    if direct is None:
        raise ValueError("this model has no biases")
    claimed = explicit(claim, env, GENERAL_FUNCTIONS)
    return _compare(direct, claimed, f"dC/d{param}^{l}")


def _check_backprop(spec: ModelSpec, widths: list[int], l: int, mm: int, scale: sp.Expr | None) -> Check:
    """Delta^l (or E^l = s Delta^l when ``scale`` is given) against sympy.diff of C_x through layer l+1."""
    inst = Instance(spec, widths, mm)
    N = inst.N
    zsym = inst.units("z", l)
    Wn = inst.W(l + 1)
    env = {N.W(l + 1): Wn, N.A(l): zsym.applyfunc(SIGMA), m: mm}
    if spec.bias:
        env[N.b(l + 1)] = inst.b(l + 1)
    Znext = explicit(z_form(N, l + 1, spec.bias), env, {})
    # unscaled per-sample errors of layer l+1, as derivatives of G at z^{l+1}_x
    usym = inst.units("u", l + 1)
    back = {inst.unit_sample(usym, j, x): inst.unit_sample(Znext, j, x)
            for j in range(widths[l + 1]) for x in range(mm)}
    Dn = usym.applyfunc(lambda e: 0)
    direct = zsym.applyfunc(lambda e: 0)
    for x in range(mm):
        Cx_u = G(*inst.sample(usym, x))
        Cx_z = G(*inst.sample(Znext, x))
        for j in range(widths[l + 1]):
            pos = (j, x) if spec.layout == "columns" else (x, j)
            Dn[pos] = sp.diff(Cx_u, inst.unit_sample(usym, j, x)).subs(back)
        for j in range(widths[l]):
            pos = (j, x) if spec.layout == "columns" else (x, j)
            direct[pos] = sp.diff(Cx_z, inst.unit_sample(zsym, j, x))
    env[N.Z(l)] = zsym
    upstream = N.Delta(l + 1) if scale is None else N.E(l + 1)
    env[upstream] = Dn if scale is None else scale * Dn
    claimed = explicit(backprop_form(N, l, upstream), env, GENERAL_FUNCTIONS)
    target = direct if scale is None else scale * direct
    what = f"dC_x/dz^{l}_x" if scale is None else f"s dC_x/dz^{l}_x"
    return _compare(target, claimed, what)


def _check_output(spec: ModelSpec, widths: list[int], mm: int) -> Check:
    """Delta^L against sympy.diff of the model's real per-sample cost C_x(f(z^L_x), y_x)."""
    L, act = spec.L, spec.activations[-1]
    inst = Instance(spec, widths, mm)
    N = inst.N
    nL = widths[L]
    Zs, Ys = inst.units("z", L), inst.store(nL, mm, lambda j, x: sp.Symbol(f"y_{j + 1},{x + 1}"))
    cost = derive_cost(spec.cost)
    functions: dict[str, Callable] = {}
    if act.name == "softmax":
        def f_sample(zv):
            ex = [sp.exp(t) for t in zv]
            return [e / sum(ex) for e in ex]

        functions["softmax'^T"] = softmax_jacobian_t(spec.layout)
    else:
        res = derive_activation(act)
        f, fp = res.f_numeric(), res.fprime_numeric()

        def f_sample(zv):
            return [f.xreplace({zs: t}) for t in zv]

        functions["sigma'"] = _apply(lambda e: fp.xreplace({zs: e}))
    dC_da = cost.dC_da.subs(n_out, nL)
    functions["dC/dA"] = lambda A, Y: sp.Matrix(A.shape[0], A.shape[1], lambda r, c: dC_da.xreplace(
        {a_idx[L_sym, j_sym]: A[r, c], y_idx[j_sym]: Y[r, c]}))
    A = Zs.applyfunc(lambda e: 0)
    direct = Zs.applyfunc(lambda e: 0)
    cond: dict = {}
    for x in range(mm):
        zv, yv = inst.sample(Zs, x), inst.sample(Ys, x)
        av = f_sample(zv)
        Cx = cost.C.subs(n_out, nL).doit().xreplace(
            {**{a_idx[L_sym, q + 1]: av[q] for q in range(nL)}, **{y_idx[q + 1]: yv[q] for q in range(nL)}})
        if spec.cost == "cce":  # the fused form needs targets that sum to 1: substitute the last one by hand
            cond[yv[-1]] = 1 - sum(yv[:-1])
        for j in range(nL):
            pos = (j, x) if spec.layout == "columns" else (x, j)
            A[pos] = av[j]
            direct[pos] = sp.diff(Cx, zv[j])
    env = {N.A(L): A, N.Y(L): Ys, N.Z(L): Zs, m: mm}
    claimed = explicit(output_form(N, spec), env, functions)
    domain = {}
    if spec.cost in ("bce", "cce"):
        domain = {yy: (0.0, 0.5 if spec.cost == "cce" else 1.0) for yy in Ys}
    for idx in range(len(direct)):
        lhs, rhs = direct[idx].xreplace(cond), claimed[idx].xreplace(cond)
        chk = prove_equal(lhs, rhs, domain=domain, points=3)
        if chk.holds is not True:
            r, c = divmod(idx, direct.shape[1])
            return Check(chk.holds, f"entry ({r + 1},{c + 1}): {chk.method}", counterexample=chk.counterexample)
    how = f"the model's {act} output and {spec.cost} cost; widths capped at {CAP}, batch m = {mm}"
    if cond:
        how += "; each sample's targets sum to 1 (last one substituted)"
    return Check(True, f"element-wise: all {len(direct)} entries equal sympy.diff of each sample's cost", how)


# ----- the forms, derived in index form and read off as matrices ------------------------------------------------------
_p, _q, _j, _k, _x = sp.symbols("p q j k x", integer=True)
#: the all-ones batch vector, a symbol until the form is read off (then OneMatrix)
_ones = sp.MatrixSymbol("u", m, 1)
_MatrixElement = sp.matrices.expressions.matexpr.MatrixElement


def _entry(M: sp.MatrixSymbol, unit, sample, layout: str):
    """The (unit, sample) entry of a batch matrix stored in ``layout``."""
    return M[unit, sample] if layout == "columns" else M[sample, unit]


def _z_index(N: Names, l: int, bias: bool, unit, sample, previous: Callable | None = None, k=_k) -> sp.Expr:
    """z^l_{unit,sample} = sum_k W^l_{unit,k} a^{l-1}_{k,sample} + b^l_unit, as the layout stores W, A, b."""
    prev = previous or (lambda q, x: _entry(N.A(l - 1), q, x, N.layout))
    W, b = N.W(l), N.b(l)
    n_in = width(l - 1)
    if N.layout == "columns":
        z = sp.Sum(W[unit, k] * prev(k, sample), (k, 0, n_in - 1))
        return z + b[unit, 0] * _ones[sample, 0] if bias else z
    z = sp.Sum(prev(k, sample) * W[k, unit], (k, 0, n_in - 1))
    return z + _ones[sample, 0] * b[0, unit] if bias else z


def _pull_constants(expr: sp.Expr) -> sp.Expr:
    """Move the factors of each summand that do not depend on the summation index in front of the Sum."""

    def pull(t: sp.Sum) -> sp.Expr:
        ((v, *_),) = t.limits
        outside, inside = t.function.as_independent(v, as_Add=False)
        return outside * sp.Sum(inside, *t.limits)

    return expr.replace(lambda t: isinstance(t, sp.Sum) and len(t.limits) == 1, pull)


def _read_matrix(expr: sp.Expr, first: list) -> MatrixExpr:
    """SymPy's array converters, guarded: they drop scalar factors (1/m), so those are kept apart."""
    from sympy.tensor.array.expressions import convert_array_to_matrix, convert_indexed_to_array

    out = convert_array_to_matrix(convert_indexed_to_array(expr, first_indices=first))
    return out.parent if isinstance(out, _MatrixElement) else out


def index_to_matrix(expr: sp.Expr, first: list) -> MatrixExpr:
    """Read an index-form entry (free indices ``first``: row, column) as a matrix expression.

    Scalars are factored out first; a product of a contraction and entries carrying the same free indices is an
    element-wise product, read as a Hadamard product of the two parts.
    """
    expr = _pull_constants(expr)
    coeff, rest = expr.as_independent(*expr.atoms(_MatrixElement), as_Add=False)
    factors = sp.Mul.make_args(rest)
    sums = [f for f in factors if f.has(sp.Sum)]
    plain = [f for f in factors if not f.has(sp.Sum)]
    if sums and plain:
        return coeff * sp.HadamardProduct(_read_matrix(sp.Mul(*sums), first), _read_matrix(sp.Mul(*plain), first))
    return coeff * _read_matrix(rest, first)


def _fit(form: MatrixExpr, target: MatrixExpr) -> MatrixExpr:
    """The form with ``u`` back as the all-ones matrix, transposed if it was read off as the target's transpose."""
    form = form.xreplace({_ones: sp.OneMatrix(m, 1)})
    if form.shape != target.shape:
        form = sp.Transpose(form).doit()
    return form


@cache
def derive_gradient_form(N: Names, l: int, param: str, bias: bool, s: sp.Expr) -> tuple[sp.Expr, MatrixExpr]:
    """dC/dW^l or dC/db^l: chain rule over every unit and sample, sympy.diff of z in index form, read off.

    dC/dtheta = sum_x sum_j (dC/dz^l_{jx}) (dz^l_{jx}/dtheta), with dC/dz^l_{jx} = s Delta^l_{jx} (the batch cost
    is s sum_x C_x and only C_x depends on z^l_x). Returns (index form, matrix form).
    """
    cols = N.layout == "columns"
    n_out = width(l)
    if param == "W":
        target, first = (N.W(l)[_p, _q], [_p, _q]) if cols else (N.W(l)[_q, _p], [_q, _p])
        matrix = N.W(l)
    else:
        target, first = (N.b(l)[_p, 0], [_p]) if cols else (N.b(l)[0, _p], [_p])
        matrix = N.b(l)
    summand = _entry(N.Delta(l), _j, _x, N.layout) * sp.diff(_z_index(N, l, bias, _j, _x), target)
    index_form = (s * sp.Sum(sp.Sum(summand, (_j, 0, n_out - 1)), (_x, 0, m - 1))).doit()
    return index_form, _fit(index_to_matrix(index_form, first), matrix)


@cache
def derive_error_form(N: Names, l: int, bias: bool, upstream: sp.MatrixSymbol) -> tuple[sp.Expr, MatrixExpr]:
    """Delta^l from Delta^{l+1}: per sample, sum_k (dC_x/dz^{l+1}_{kx}) (dz^{l+1}_{kx}/dz^l_{px}), read off."""
    Z = N.Z(l)
    sigma = sp.Function("sigma")
    # unit k of layer l+1, summing over the units j of layer l
    z_next = _z_index(N, l + 1, bias, _k, _x, previous=lambda j, x: sigma(_entry(Z, j, x, N.layout)), k=_j)
    summand = _entry(upstream, _k, _x, N.layout) * sp.diff(z_next, _entry(Z, _p, _x, N.layout))
    index_form = sp.Sum(summand, (_k, 0, width(l + 1) - 1)).doit()
    S = sp.MatrixSymbol("S", *Z.shape)
    entries = index_form.replace(lambda t: isinstance(t, sp.Derivative), lambda t: _entry(S, _p, _x, N.layout))
    first = [_p, _x] if N.layout == "columns" else [_x, _p]
    form = index_to_matrix(entries, first).xreplace({S: Apply("sigma'", Z)})
    return index_form, _fit(form, N.Delta(l))


def _textbook(d: Derivation, label: str, lhs, textbook: MatrixExpr, derived: MatrixExpr) -> None:
    """The textbook form, typed in, as a claim compared with the derived one (structurally identical)."""
    same = textbook == derived
    check = Check(True, "symbolic: identical matrix expressions") if same else Check(
        False, "symbolic: the matrix expressions differ", counterexample={"derived": sp.sstr(derived)})
    d.add(Step(f"{label}.textbook", lhs, textbook, "claim", "the textbook form, compared with the derived one",
               check, (label,)))


# ----- the derivation -------------------------------------------------------------------------------------------------
def derive_batch_forms(spec: ModelSpec) -> BatchForms:
    """Derive and prove the batch forms of ``spec`` (its depth, activations, cost, reduction, layout, biases).

    The forms depend on the family and on the proof instance (widths capped at CAP), not on the name or the full
    widths: every model of a family shares one cached derivation, whose ``spec`` is that instance.
    """
    return _derive_batch_forms(spec.with_sizes([min(n, CAP) for n in spec.sizes]))


@cache
def _derive_batch_forms(spec: ModelSpec) -> BatchForms:
    N = Names(spec.layout)
    L = spec.L
    widths = [min(n, CAP) for n in spec.sizes]
    if spec.activations[-1].name == "softmax":
        widths[-1] = max(widths[-1], 2)
    s = 1 / m if spec.reduction == "mean" else sp.Integer(1)
    s_check = sp.Rational(1, M_CHECK) if spec.reduction == "mean" else sp.Integer(1)
    cols = spec.layout == "columns"
    d = Derivation(f"batch forms ({spec.reduction} over the batch, samples as {spec.layout}"
                   f"{'' if spec.bias else ', no biases'})")
    d.summary = ("each form evaluated entry by entry on a small instance (widths capped at "
                 f"{CAP}, m = {M_CHECK}) and compared with sympy.diff of the batch cost")
    Cs, x = sp.Symbol("C"), sp.Symbol("x", integer=True, positive=True)
    d.define("batch.cost", Cs, s * sp.Sum(sp.Symbol("C_x"), (x, 1, m)),
             f"the batch cost is the {spec.reduction} of the per-sample costs")
    d.define("batch.Delta", sp.Symbol("Delta^{l}_{jx}"), sp.Derivative(sp.Symbol("C_x"), sp.Symbol("z^{l}_{jx}")),
             "Delta^l stacks the per-sample, unscaled errors delta^l_x = dC_x/dz^l_x as "
             + ("columns" if cols else "rows"))
    layers: dict[int, LayerForms] = {}
    for l in range(1, L + 1):
        Zf = z_form(N, l, spec.bias)
        Af = Apply("softmax" if spec.activations[l - 1].name == "softmax" else "sigma", N.Z(l))
        d.define(f"batch.Z{l}", N.Z(l), Zf, "the layer's pre-activations, one sample per "
                 + ("column" if cols else "row"))
        d.define(f"batch.A{l}", N.A(l), Af, f"a^{l} = {spec.activations[l - 1]}(z^{l}) for every sample")
    theta, jj = sp.Symbol("theta"), sp.Symbol("j", integer=True, positive=True)
    d.axiom("batch.chain", sp.Derivative(Cs, theta),
            sp.Sum(sp.Sum(s * sp.Symbol("Delta^{l}_{jx}") * sp.Derivative(sp.Symbol("z^{l}_{jx}"), theta),
                          (jj, 1, sp.Symbol("n_l"))), (x, 1, m)),
            "multivariate chain rule over every unit j and sample x, with dC/dz^l_{jx} = s Delta^l_{jx} because "
            "only C_x depends on z^l_x (the one stated rule; everything below is computed)")
    # Delta^L
    out = output_form(N, spec)
    d.add(Step(f"batch.Delta{L}", N.Delta(L), out, "derived",
               "BP1 for the batch: the output errors derived per sample, stacked; checked against per-sample "
               "sympy.diff of the model's own cost", _check_output(spec, widths, M_CHECK), ("batch.Delta",)))
    index_note = "index form (0-based, as SymPy indexes matrices): "
    deltas = {L: out}
    for l in range(L - 1, 0, -1):
        idx, form = derive_error_form(N, l, spec.bias, N.Delta(l + 1))
        deltas[l] = form
        d.add(Step(f"batch.Delta{l}", N.Delta(l), form, "derived",
                   "BP2 for the batch: per sample, chain rule over the units k of layer l+1, sympy.diff of "
                   "z^{l+1}_{kx} in index form with respect to z^l_{px}, collapsed by doit, read as a matrix "
                   "(convert_indexed_to_array/convert_array_to_matrix); checked element-wise with sigma and C_x "
                   "undefined", _check_backprop(spec, widths, l, M_CHECK, None), (f"batch.Delta{l + 1}",),
                   note=index_note + sp.sstr(idx)))
        _textbook(d, f"batch.Delta{l}", N.Delta(l), backprop_form(N, l, N.Delta(l + 1)), form)
    grads: dict[tuple[str, int], MatrixExpr] = {}
    for l in range(L, 0, -1):
        for param in ("W", "b") if spec.bias else ("W",):
            idx, form = derive_gradient_form(N, l, param, spec.bias, s)
            grads[param, l] = form
            lhs = N.nabla_W(l) if param == "W" else N.nabla_b(l)
            what = "weight" if param == "W" else "bias"
            d.add(Step(f"batch.nabla_{param}{l}", lhs, form, "derived",
                       f"{'BP4' if param == 'W' else 'BP3'} for the batch: the chain rule above with sympy.diff of "
                       f"z^l_{{jx}} in index form with respect to every {what}, collapsed by doit, read as a matrix; "
                       "checked element-wise against sympy.diff of the batch cost",
                       check_claim(spec, l, param, form), (f"batch.Delta{l}", "batch.chain"),
                       note=index_note + sp.sstr(idx)))
            textbook = weight_form(N, l, N.Delta(l), s) if param == "W" else bias_form(N, N.Delta(l), s)
            _textbook(d, f"batch.nabla_{param}{l}", lhs, textbook, form)
    # the forms code uses: pre-scaled error, summed gradients
    d.define(f"code.E{L}", N.E(L), s * N.Delta(L) if s != 1 else N.Delta(L),
             "the pre-scaled output error (scale once, on the smallest matrix)")
    errors = {L: s * deltas[L] if s != 1 else deltas[L]}
    for l in range(L - 1, 0, -1):
        _, form = derive_error_form(N, l, spec.bias, N.E(l + 1))
        errors[l] = form
        d.add(Step(f"code.E{l}", N.E(l), form, "derived",
                   "E^l = s Delta^l: the derivation of BP2 with E^{l+1} in place of Delta^{l+1} (it is linear in "
                   "the error)", _check_backprop(spec, widths, l, M_CHECK, s_check), (f"batch.Delta{l}",),
                   note=f"checked: the right side with E^{l + 1} = s Delta^{l + 1} equals s Delta^{l}"))
    code: dict[tuple[str, int], MatrixExpr] = {}
    for l in range(L, 0, -1):
        for param in ("W", "b") if spec.bias else ("W",):
            form = grads[param, l].xreplace({N.Delta(l): N.E(l) / s}).doit()
            code[param, l] = form
            lhs = N.nabla_W(l) if param == "W" else N.nabla_b(l)
            d.add(Step(f"code.nabla_{param}{l}", lhs, form, "derived",
                       f"batch.nabla_{param}{l} with Delta^{l} = E^{l} / s substituted: a sum over the batch, "
                       "not a second mean", check_claim(spec, l, param, form), (f"code.E{l}",)))
    for l in range(1, L + 1):
        layers[l] = LayerForms(
            l=l, Z=z_form(N, l, spec.bias), A=d[f"batch.A{l}"].rhs, Delta=deltas[l],
            nabla_W=grads["W", l], nabla_b=grads.get(("b", l)), E=errors[l],
            code_W=code["W", l], code_b=code.get(("b", l)),
        )
    return BatchForms(spec, N, s, layers, d, {"widths": widths, "m": M_CHECK})
