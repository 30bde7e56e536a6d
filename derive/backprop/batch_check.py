"""The batch forms checked element-wise on a small instance, no axiom.

On an instance with widths capped at :data:`CAP` and batch size :data:`M_CHECK`, the parameters, inputs and errors
are scalar symbols; the batch cost C = s sum_x C_x is built with the per-sample cost downstream of layer l an
undefined function G (and sigma undefined), so a result holds for every differentiable cost and activation;
``sympy.diff`` differentiates it entry by entry, and each entry is compared with the matrix form evaluated on the
same symbols (:func:`derive.core.proof.prove_equal`). When the symbolic route cannot decide, the claim is re-checked
with polynomial stand-ins for G and sigma, which can refute it (a counterexample for one G refutes a claim about
every G) but never proves it. The output error Delta^L is checked with the model's *real* output activation and cost.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import cache

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.matrices.expressions import MatrixExpr

from derive.backprop.batch_names import Names, m
from derive.backprop.batch_nodes import Fn, explicit
from derive.backprop.batch_textbook import backprop_form, layer_at, output_form, softmax_jacobian_t, z_form
from derive.core.proof import Check, prove_equal
from derive.core.symbols import a as a_idx
from derive.core.symbols import y as y_idx
from derive.functions.activations import derive_activation, zs
from derive.functions.costs import L as L_sym
from derive.functions.costs import derive_cost, n_out
from derive.functions.costs import unit_j as j_sym
from numeric.functions import TargetKind
from numeric.spec import ModelSpec

__all__ = ["CAP", "M_CHECK", "Instance", "check_claim", "check_error", "check_output"]

#: Width cap and batch size of the instance every form is proven on.
CAP = 2
M_CHECK = 2


class Instance:
    """Scalar symbols for one layer's parameters and activations, stored in the spec's layout."""

    def __init__(self, spec: ModelSpec, widths: list[int], mm: int):
        self.spec, self.widths, self.m = spec, widths, mm
        self.N = Names(spec.layout)

    def store(self, rows: int, cols: int, fn: Callable[[int, int], sp.Expr]) -> sp.Matrix:
        """A (rows, cols) matrix in the columns sense (unit, sample), stored in the spec's layout."""
        M = sp.Matrix(rows, cols, fn)
        return M if self.spec.layout.columns else M.T

    def position(self, j: int, x: int) -> tuple[int, int]:
        """Where entry (unit j, sample x) is stored."""
        return (j, x) if self.spec.layout.columns else (x, j)

    def unit_sample(self, M: sp.Matrix, j: int, x: int) -> sp.Expr:
        return M[self.position(j, x)]

    def sample(self, M: sp.Matrix, x: int) -> list[sp.Expr]:
        return list(M[:, x]) if self.spec.layout.columns else list(M[x, :])

    def W(self, l: int, prefix: str = "w") -> sp.Matrix:
        n, k = self.widths[l], self.widths[l - 1]
        return self.store(n, k, lambda j, q: sp.Symbol(f"{prefix}^{l}_{j + 1}{q + 1}"))

    def b(self, l: int) -> sp.Matrix:
        return self.store(self.widths[l], 1, lambda j, _: sp.Symbol(f"b^{l}_{j + 1}"))

    def units(self, name: str, l: int) -> sp.Matrix:
        return self.store(self.widths[l], self.m, lambda j, x: sp.Symbol(f"{name}^{l}_{j + 1},{x + 1}"))

    def forward(self, l: int, A_prev: sp.Matrix) -> tuple[dict, sp.Matrix]:
        """Z^l of this instance from the spec's layer, with A^{l-1} given; returns (env, Z)."""
        N = self.N
        env = {N.W(l): self.W(l), N.A(l - 1): A_prev, m: self.m}
        if self.spec.bias:
            env[N.b(l)] = self.b(l)
        return env, explicit(z_form(N, layer_at(self.spec, l)), env, {})


def _apply(fn: Callable[[sp.Expr], sp.Expr]) -> Callable[[sp.Matrix], sp.Matrix]:
    return lambda M: M.applyfunc(fn)


SIGMA = sp.Function("sigma")
G = sp.Function("G")
_t = sp.Dummy("t")


def _sigma_prime(e: sp.Expr) -> sp.Expr:
    return sp.Subs(sp.Derivative(SIGMA(_t), _t), _t, e).doit()


GENERAL_FUNCTIONS = {Fn.FORWARD.value: _apply(SIGMA), Fn.DERIVATIVE.value: _apply(_sigma_prime)}


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


def _entry_name(idx: int, cols: int) -> str:
    r, c = divmod(idx, cols)
    return f"({r + 1},{c + 1})"


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
                ce = {"entry": _entry_name(idx, direct.shape[1]), **(w.counterexample or {}),
                      "stand-ins": "G(z) = sum_i (c_i z_i^2/2 + d_i z_i), sigma(t) = t^3/3 + c t (rational c_i, d_i)"}
                return Check(False, "counterexample with polynomial stand-ins for the undefined G and sigma",
                             counterexample=ce)
            return Check(None, "symbolic only (undefined functions)", f"entry {idx}: SymPy could not decide")
        if chk.holds is False:
            where = _entry_name(idx, direct.shape[1])
            return Check(False, f"entry {where}: {chk.method}",
                         counterexample={"entry": where, **(chk.counterexample or {})})
        methods.add(chk.method.split(":")[0])
    how = "/".join(sorted(methods))
    return Check(True, f"element-wise: all {len(direct)} entries equal sympy.diff of the batch cost ({how})",
                 f"{what}; widths capped at {CAP}, batch m = {M_CHECK}")


# ----- the checks -----------------------------------------------------------------------------------------------------
@cache
def _layer_setup(spec: ModelSpec, widths: tuple[int, ...], l: int, mm: int):
    """Batch cost of layer l with G undefined downstream: returns (instance, env, s, direct dC/dW, dC/db, D)."""
    inst = Instance(spec, list(widths), mm)
    env, Z = inst.forward(l, inst.units("a", l - 1))
    s = sp.Rational(1, mm) if spec.reduction == "mean" else sp.Integer(1)
    C = s * sum((G(*inst.sample(Z, x)) for x in range(mm)), sp.Integer(0))
    # per-sample errors delta^l_x = dC_x/dz^l_x, with z^l_x as free symbols, then put back in terms of W, A, b
    zsym = inst.units("z", l)
    back = {inst.unit_sample(zsym, j, x): inst.unit_sample(Z, j, x) for j in range(widths[l]) for x in range(mm)}
    D = zsym.applyfunc(lambda e: 0)
    for x in range(mm):
        Cx = G(*inst.sample(zsym, x))
        for j in range(widths[l]):
            D[inst.position(j, x)] = sp.diff(Cx, inst.unit_sample(zsym, j, x)).subs(back)
    dW = env[inst.N.W(l)].applyfunc(lambda w: sp.diff(C, w))
    db = env[inst.N.b(l)].applyfunc(lambda bb: sp.diff(C, bb)) if spec.bias else None
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


def check_error(spec: ModelSpec, widths: list[int], l: int, mm: int, scale: sp.Expr | None) -> Check:
    """Delta^l (or E^l = s Delta^l when ``scale`` is given) against sympy.diff of C_x through layer l+1."""
    inst = Instance(spec, widths, mm)
    N = inst.N
    zsym = inst.units("z", l)
    env, Znext = inst.forward(l + 1, zsym.applyfunc(SIGMA))
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
            Dn[inst.position(j, x)] = sp.diff(Cx_u, inst.unit_sample(usym, j, x)).subs(back)
        for j in range(widths[l]):
            direct[inst.position(j, x)] = sp.diff(Cx_z, inst.unit_sample(zsym, j, x))
    env[N.Z(l)] = zsym
    upstream = N.Delta(l + 1) if scale is None else N.E(l + 1)
    env[upstream] = Dn if scale is None else scale * Dn
    claimed = explicit(backprop_form(N, l, upstream), env, GENERAL_FUNCTIONS)
    target = direct if scale is None else scale * direct
    what = f"dC_x/dz^{l}_x" if scale is None else f"s dC_x/dz^{l}_x"
    return _compare(target, claimed, what)


def _output_functions(spec: ModelSpec, n_L: int) -> tuple[Callable, dict[str, Callable]]:
    """The output activation per sample and the explicit functions of the output form (model's own f and C)."""
    act = spec.activations[-1]
    functions: dict[str, Callable] = {}
    if not act.entry.elementwise:
        def f_sample(zv):
            ex = [sp.exp(t) for t in zv]
            return [e / sum(ex) for e in ex]

        functions[Fn.VJP.value] = softmax_jacobian_t(spec.layout)
    else:
        res = derive_activation(act)
        f, fp = res.f_numeric(), res.fprime_numeric()

        def f_sample(zv):
            return [f.xreplace({zs: t}) for t in zv]

        functions[Fn.DERIVATIVE.value] = _apply(lambda e: fp.xreplace({zs: e}))
    dC_da = derive_cost(spec.cost).dC_da.subs(n_out, n_L)
    functions[Fn.COST_GRADIENT.value] = lambda A, Y: sp.Matrix(A.shape[0], A.shape[1], lambda r, c: dC_da.xreplace(
        {a_idx[L_sym, j_sym]: A[r, c], y_idx[j_sym]: Y[r, c]}))
    return f_sample, functions


def check_output(spec: ModelSpec, widths: list[int], mm: int) -> Check:
    """Delta^L against sympy.diff of the model's real per-sample cost C_x(f(z^L_x), y_x)."""
    L = spec.L
    inst = Instance(spec, widths, mm)
    N = inst.N
    nL = widths[L]
    Zs, Ys = inst.units("z", L), inst.store(nL, mm, lambda j, x: sp.Symbol(f"y_{j + 1},{x + 1}"))
    cost = derive_cost(spec.cost)
    f_sample, functions = _output_functions(spec, nL)
    target = spec.cost_entry.target
    A = Zs.applyfunc(lambda e: 0)
    direct = Zs.applyfunc(lambda e: 0)
    cond: dict = {}
    for x in range(mm):
        zv, yv = inst.sample(Zs, x), inst.sample(Ys, x)
        av = f_sample(zv)
        Cx = cost.C.subs(n_out, nL).doit().xreplace(
            {**{a_idx[L_sym, q + 1]: av[q] for q in range(nL)}, **{y_idx[q + 1]: yv[q] for q in range(nL)}})
        if target is TargetKind.CLASSES:  # the fused form needs targets that sum to 1: substitute the last one
            cond[yv[-1]] = 1 - sum(yv[:-1])
        for j in range(nL):
            A[inst.position(j, x)] = av[j]
            direct[inst.position(j, x)] = sp.diff(Cx, zv[j])
    claimed = explicit(output_form(N, spec), {N.A(L): A, N.Y(L): Ys, N.Z(L): Zs, m: mm}, functions)
    domain = {} if target is TargetKind.REAL else {
        yy: (0.0, 0.5 if target is TargetKind.CLASSES else 1.0) for yy in Ys}
    for idx in range(len(direct)):
        chk = prove_equal(direct[idx].xreplace(cond), claimed[idx].xreplace(cond), domain=domain, points=3)
        if chk.holds is not True:
            return Check(chk.holds, f"entry {_entry_name(idx, direct.shape[1])}: {chk.method}",
                         counterexample=chk.counterexample)
    how = f"the model's {spec.activations[-1]} output and {spec.cost} cost; widths capped at {CAP}, batch m = {mm}"
    if cond:
        how += "; each sample's targets sum to 1 (last one substituted)"
    return Check(True, f"element-wise: all {len(direct)} entries equal sympy.diff of each sample's cost", how)
