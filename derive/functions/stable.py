"""The stable, closed forms a generated kernel prints, each proven equal to the raw form it replaces.

Lambdifying a raw derivative is not safe in floating point (docs/conventions.md: d/dz of 1/(1+e^{-z}) is NaN at
z = -1000, softplus overflows at z = 1000). A kernel prints instead, for each element-wise piece, a form this module
proves equal to the derived one, as recorded :class:`~derive.core.steps.Derivation` steps:

* the forward activation in a form that cannot overflow: sigmoid as (1 + tanh(z/2))/2, softplus with masks on
  the sign of z (ELU and the ReLUs branch by definition);
* sigma' *from the forward value* a = sigma(z): a(1 - a), 1 - a^2, ... (compared with the derived sigma');
* bce after a sigmoid: C = softplus(z) - y z, softplus as z + log1p(e^{-z}) where z > 0 and log1p(e^{z}) elsewhere;
* softmax with the max subtracted, and cce after softmax as y (LSE(z) - z) with a max-shifted log-sum-exp;
* dC/da of the remaining costs, where no fusion applies.

Branches are ``Piecewise`` on ``z > 0``; the kernel printer turns them into masks on ``z.real`` (never
``np.where``, which evaluates both branches), so every form stays analytic and complex step works through the
kernel. Each branch is proven on its own half line: z is replaced by t and by -t with t > 0, so SymPy's
assumptions decide ``Max`` and ``Piecewise``, and the value at z = 0 is compared exactly. Identities between
logarithms are proven by comparing exp of both sides (exp is injective on the reals).

This module proves forms; :mod:`derive.codegen.kernel` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp
from sympy.codegen.cfunctions import log1p
from sympy.core.sympify import _sympify

from derive.core.proof import Check, prove_equal
from derive.core.steps import Derivation, Role, Step
from derive.core.symbols import a as a_idx
from derive.core.symbols import y as y_idx
from derive.functions.activations import derive_activation, derive_softmax, zs
from derive.functions.costs import L as L_sym
from derive.functions.costs import derive_cost, n_out
from derive.functions.costs import unit_j as j_sym
from derive.functions.registry import ACTIVATIONS, COSTS, stable_softplus
from numeric.spec import ActSpec, ModelSpec

__all__ = ["Piece", "StableForms", "derive_stable_forms", "piece_name", "stable_activation", "stable_cost"]

z = zs
a = sp.Symbol("a", real=True)
y = sp.Symbol("y", real=True)
lse = sp.Symbol("lse", real=True)
n_units = sp.Symbol("n_out", integer=True, positive=True)
_t = sp.Symbol("t", positive=True)


@dataclass
class Piece:
    """One element-wise function of the kernel: ``name(args) = expr`` (``expr`` is what is printed)."""

    name: str
    args: tuple[sp.Symbol, ...]
    expr: sp.Expr
    doc: str


@dataclass
class StableForms:
    """The pieces of one model family and the derivation that proves them."""

    pieces: dict[str, Piece]
    derivation: Derivation

    @property
    def holds(self) -> bool:
        return self.derivation.holds


def _as_logs(e: sp.Expr) -> sp.Expr:
    return e.replace(lambda q: isinstance(q, log1p), lambda q: sp.log(1 + q.args[0]))


def prove_on_real_line(raw: sp.Expr, form: sp.Expr, var: sp.Symbol = z) -> Check:
    """Prove ``raw == form`` for every real ``var``: on var = t > 0, on var = -t, and exactly at var = 0.

    ``log1p(u)`` is read as its definition ln(1 + u). A difference of logarithms that does not simplify is
    compared through exp of both sides.
    """
    raw, form = _sympify(raw), _sympify(form)  # strict: SymPy objects only, never text
    methods = []
    for side, value in (("z > 0", _t), ("z < 0", -_t)):
        lhs = sp.piecewise_fold(_as_logs(raw).xreplace({var: value}))
        rhs = sp.piecewise_fold(_as_logs(form).xreplace({var: value}))
        note = ""
        if lhs.has(sp.tanh) or rhs.has(sp.tanh):
            lhs, rhs, note = lhs.rewrite(sp.exp), rhs.rewrite(sp.exp), " (tanh rewritten with exp)"
        chk = prove_equal(lhs, rhs, domain={_t: (0.05, 4.0)})
        if note:
            chk = Check(chk.holds, chk.method + note, chk.detail, chk.counterexample)
        if chk.holds is True and not chk.proven and (lhs.has(sp.log) or rhs.has(sp.log)):
            via_exp = prove_equal(sp.expand(sp.exp(lhs)), sp.expand(sp.exp(rhs)), domain={_t: (0.05, 4.0)})
            if via_exp.proven:
                chk = Check(True, f"{via_exp.method} (exp of both sides; exp is injective on the reals)")
        if chk.holds is not True:
            return Check(chk.holds, f"{side}: {chk.method}", counterexample=chk.counterexample)
        methods.append(f"{side}: {chk.method}")
    at0 = prove_equal(_as_logs(raw).xreplace({var: 0}), _as_logs(form).xreplace({var: 0}))
    if at0.holds is not True:
        return Check(at0.holds, f"z = 0: {at0.method}", counterexample=at0.counterexample)
    return Check(True, "; ".join(methods) + "; z = 0: exact")


# ----- activations ----------------------------------------------------------------------------------------------------
# The forward form each kernel prints and sigma' written with the forward value a are registry fields
# (derive.functions.registry): SymActivation.stable_forward and .from_forward.


def piece_name(act: ActSpec) -> str:
    """The kernel's function name for an activation: ``sigmoid``, ``leaky_relu_0_01``."""
    # str(act) keeps every digit that identifies the parameter: two parameters never share a function name
    return str(act).replace(":", "_").replace(".", "_").replace("-", "m").replace("+", "")


def _param(act: ActSpec):
    return None if act.param is None else sp.nsimplify(act.param)


@cache
def stable_activation(act: ActSpec) -> tuple[Piece, Piece, Derivation]:
    """The forward piece ``f(z)`` and the derivative piece ``f'(z, a)`` of an element-wise activation, proven."""
    res = derive_activation(act)
    al = _param(act)
    d = Derivation(f"{act}: the forms the kernel prints", role=Role.STABLE_FORMS, subject=act.name)
    f_def, fp_derived = res.f_numeric(), res.fprime_numeric()
    entry = ACTIVATIONS[act.name]
    make = entry.stable_forward
    f_form = make(z, al) if make else f_def
    label = piece_name(act)
    d.add(Step(f"{label}.kernel", sp.Function(label)(z), f_form, "derived",
               "stable form: a mask on the sign of z keeps every exponential bounded" if make else
               "the definition, printed as it is",
               prove_on_real_line(f_def, f_form), (f"{label}.def",)))
    fp_form = entry.from_forward(z, a, al)
    d.add(Step(f"{label}.prime_kernel", sp.Derivative(sp.Function(label)(z), z), fp_form, "claim",
               "the derivative written with the forward value a = f(z), compared with the derived f'",
               _prove_with_forward(fp_derived, fp_form, f_def), (f"{label}.diff",)))
    fwd = Piece(label, (z,), f_form, f"{act}(z), proven equal to its definition")
    prime = Piece(f"{label}_prime", (z, a), fp_form, f"{act}'(z) from the forward value a = {act}(z)")
    return fwd, prime, d


def _prove_with_forward(derived: sp.Expr, form: sp.Expr, f_def: sp.Expr) -> Check:
    """Prove derived(z) == form(z, a = f(z)) on the real line."""
    return prove_on_real_line(derived, form.xreplace({a: f_def}))


# ----- costs ----------------------------------------------------------------------------------------------------------
def _softmax(d: Derivation, n: int = 3) -> dict[str, Piece]:
    """softmax with the max subtracted, and its Jacobian-transpose product s (g - s.g), at width n."""
    sm = derive_softmax(n)
    c = sp.Symbol("c", real=True)
    zv = sm.z
    shifted = [sp.exp(t - c) / sum(sp.exp(u - c) for u in zv) for t in zv]
    ok = all(sp.cancel(sp.expand(sh - s)) == 0 for sh, s in zip(shifted, sm.s, strict=True))
    d.add(Step("softmax.shift", sp.Symbol("s_j(z - c)"), sp.Symbol("s_j(z)"), "derived",
               "softmax is unchanged by subtracting any c from every z (the kernel uses c = max_k z_k)",
               Check(ok, f"symbolic: cancel, every j = 1..{n}" if ok else "symbolic: difference does not cancel"),
               ("softmax.def",)))
    # the error of a softmax layer without a fused cost: (J^T g)_j = sum_i g_i ds_i/dz_j = s_j (g_j - sum_k s_k g_k)
    g = list(sp.symbols(f"g_1:{n + 1}", real=True))
    dot = sp.Symbol("dot", real=True)
    form = a * (sp.Symbol("g", real=True) - dot)
    bad = None
    for j in range(n):
        raw = sum(g[i] * sm.jacobian[i, j] for i in range(n))
        mine = form.xreplace({a: sm.s[j], sp.Symbol("g", real=True): g[j], dot: sum(sm.s[k] * g[k] for k in range(n))})
        chk = prove_equal(raw, mine)
        if chk.holds is not True:
            bad = chk
            break
    check = bad or Check(True, f"every j = 1..{n} equals the sum over the derived Jacobian ({chk.method})")
    d.add(Step("softmax.vjp", sp.Symbol("(J^T g)_j"), form, "derived",
               "J^T g for J the derived softmax Jacobian, with dot = sum_k s_k g_k", check,
               ("softmax.jacobian_width",)))
    return {
        "softmax_numerator": Piece("softmax_shifted", (z, c), sp.exp(z - c),
                                   "The numerators exp(z - c) of the shifted softmax"),
        "softmax_vjp": Piece("softmax_vjp_term", (a, sp.Symbol("g", real=True), dot), form,
                             "One unit of J^T g for a softmax layer: s (g - dot), dot = sum_k s_k g_k"),
    }


def _cce_softmax(d: Derivation, n: int = 3) -> Piece:
    """cce after softmax as y_j (LSE(z) - z_j), with a max-shifted log-sum-exp, at width n."""
    sm = derive_softmax(n)
    c = sp.Symbol("c", real=True)
    zv = sm.z
    lse_raw = sp.log(sum(sp.exp(t) for t in zv))
    lse_shift = c + sp.log(sum(sp.exp(t - c) for t in zv))
    chk = prove_equal(sp.expand(sp.exp(lse_raw)), sp.expand(sp.exp(lse_shift)))
    chk = Check(chk.holds, f"{chk.method} (exp of both sides)", chk.detail, chk.counterexample)
    d.add(Step("lse.shift", sp.Function("LSE")(*zv), lse_shift, "derived",
               "log-sum-exp with the max subtracted: every exponent <= 0, the largest term is exactly 1", chk))
    # cce after softmax: -y_j ln s_j = y_j (LSE(z) - z_j) for every j (exp of both sides: 1/s_j = e^{LSE - z_j})
    cost = derive_cost("cce")
    yv = [y_idx[j] for j in range(1, n + 1)]
    raw = cost.C.subs(n_out, n).doit().xreplace(
        {**{a_idx[L_sym, j]: sm.s[j - 1] for j in range(1, n + 1)}})
    fused = sum(yv[j] * (lse_raw - zv[j]) for j in range(n))
    ok_terms = all(
        prove_equal(sp.expand(sp.exp(-sp.log(sm.s[j]))), sp.expand(sp.exp(lse_raw - zv[j]))).proven
        for j in range(n))
    whole = prove_equal(raw, fused, domain={yy: (0.0, 1.0) for yy in yv})
    check = Check(ok_terms and whole.holds is True,
                  f"each term: -ln s_j = LSE(z) - z_j proven through exp (symbolic); the sum: {whole.method}",
                  counterexample=whole.counterexample)
    d.add(Step("cce.softmax_fused", sp.Symbol("C_x"), fused, "derived",
               f"cce composed with softmax: -sum_j y_j ln s_j = sum_j y_j (LSE(z) - z_j) (width {n})", check,
               ("cce.def", "softmax.def")))
    return Piece("cce_from_lse", (z, y, lse), y * (lse - z), "One unit's cce cost after softmax, y (LSE(z) - z)")


def _bce_sigmoid(d: Derivation) -> Piece:
    """bce after a sigmoid output: -[y ln s + (1-y) ln(1-s)] = softplus(z) - y z, softplus split on the sign."""
    cost = derive_cost("bce")
    term = cost.C.subs(n_out, 1).doit().xreplace({a_idx[L_sym, 1]: 1 / (1 + sp.exp(-z)), y_idx[1]: y})
    form = stable_softplus(z) - y * z
    # linear in y: prove the coefficient of y^0 and of y^1 separately (each a log identity)
    raw0, raw1 = term.xreplace({y: 0}), sp.expand(term.xreplace({y: 1}) - term.xreplace({y: 0}))
    f0, f1 = form.xreplace({y: 0}), sp.expand(form.xreplace({y: 1}) - form.xreplace({y: 0}))
    c0, c1 = prove_on_real_line(raw0, f0), prove_on_real_line(raw1, f1)
    lin = prove_equal(sp.diff(term, y, 2), sp.Integer(0))
    ok = c0.holds is True and c1.holds is True and lin.holds is True
    bad = next((c for c in (c0, c1, lin) if c.holds is not True), None)
    check = Check(True, f"linear in y ({lin.method}); y^0 part: {c0.method}; y^1 part: {c1.method}") if ok else \
        Check(bad.holds, bad.method, counterexample=bad.counterexample)
    d.add(Step("bce.sigmoid_fused", sp.Symbol("C_x"), form, "derived",
               "bce composed with sigmoid, written as softplus(z) - y z with softplus split on the sign of z",
               check, ("bce.textbook", "sigmoid.def")))
    return Piece("bce_from_z", (z, y), form, "One unit's bce cost after a sigmoid, from z: softplus(z) - y z")


def _plain_cost(d: Derivation, name: str) -> tuple[Piece, Piece]:
    """The per-unit cost term and dC/da for costs without a fused form (proven against the derivation)."""
    cost = derive_cost(name)
    aj, yj = a_idx[L_sym, j_sym], y_idx[j_sym]
    entry = COSTS[name]
    term = entry.textbook(a, y) if entry.textbook else entry.term(a, y, n_units)
    deriv = cost.dC_da.xreplace({aj: a, yj: y, n_out: n_units})
    dom = {a: (0.05, 0.95), y: (0.0, 1.0)} if entry.log_domain else None
    chk = prove_equal(sp.diff(term, a), deriv, domain=dom)
    d.add(Step(f"{name}.kernel_da", sp.Derivative(sp.Symbol("C_x"), a), deriv, "derived",
               f"dC/da from the derivation ({name}.diff), renamed to the kernel's a, y and n_out; checked against "
               "sympy.diff of the per-unit term the kernel prints", chk, (f"{name}.diff",)))
    return (Piece(f"{name}_term", (a, y), term, f"One unit's {name} cost"),
            Piece(f"{name}_da", (a, y), deriv, f"dC/da for the {name} cost"))


#: the fused forms proven for an (cost, output activation) pair: computed from z, no ln of a rounded probability
_FUSED = {("cce", "softmax"): _cce_softmax, ("bce", "sigmoid"): _bce_sigmoid}


@cache
def stable_cost(cost: str, out: ActSpec) -> tuple[dict[str, Piece], Derivation]:
    """The cost pieces for ``cost`` after output activation ``out``: fused where a fused form is proven."""
    d = Derivation(f"{cost} after {out}: the forms the kernel prints", role=Role.STABLE_FORMS, subject=cost)
    pieces = {} if out.entry.elementwise else _softmax(d)
    fused = _FUSED.get((cost, out.name))
    if fused is not None:
        return {**pieces, "cost_term": fused(d)}, d
    term, deriv = _plain_cost(d, cost)
    return {**pieces, "cost_term": term, "cost_da": deriv}, d


@cache
def derive_stable_forms(spec: ModelSpec) -> StableForms:
    """Every piece a kernel for ``spec``'s family prints, with one derivation proving them all."""
    d = Derivation(f"stable and closed forms for the kernel ({spec.act_text} / {spec.cost})", role=Role.STABLE_FORMS)
    pieces: dict[str, Piece] = {}
    for act in dict.fromkeys(spec.activations):
        if not act.entry.elementwise:
            continue
        fwd, prime, sub = stable_activation(act)
        pieces[fwd.name], pieces[prime.name] = fwd, prime
        d.extend(sub)
    cost_pieces, sub = stable_cost(spec.cost, spec.activations[-1])
    pieces.update(cost_pieces)
    d.extend(sub)
    return StableForms(pieces, d)
