"""Activations, each defined once as a SymPy expression of z, with derivatives derived from the definition.

For an element-wise activation f the derivation is:

1. **definition** f(z) (the entry of :data:`derive.functions.registry.ACTIVATIONS`: the only place an activation is
   written down);
2. **derived** f'(z) = ``sympy.diff`` of the definition, proven equal to the limit of the difference quotient
   (f(z + h) − f(z))/h as h → 0 where SymPy takes that limit (smooth definitions); where the definition branches on
   the sign of z (ReLU, leaky ReLU, ELU: ``Max``/``Piecewise``) SymPy's limit cannot pass the branch, and the
   derivative is cross-checked against a 60-digit central difference instead (numerical evidence, said so);
3. where the derivative has a step (ReLU), the **convention** f'(0) = 0: SymPy's ``Heaviside(z)`` (H(0) = 1/2) is
   rewritten once, here, to ``Heaviside(z, 0)`` and checked equal to the raw derivative away from the kink;
4. a **claim**: the textbook closed form (σ' = σ(1 − σ), tanh' = 1 − tanh², ...), typed in as a claim only and
   compared against the derived f'.

Softmax is vector valued: its Jacobian is derived entry by entry at a concrete width (exhaustively) and in index
form for every width, and compared with the claim ∂s_i/∂z_j = s_i(1{i=j} − s_j), i.e. diag(s) − s sᵀ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import sympy as sp

from derive.core.proof import Check, prove_equal
from derive.core.steps import Derivation, Role
from derive.functions.registry import ACTIVATIONS, alpha, sigma_f
from numeric.spec import ActSpec

__all__ = [
    "ActivationResult",
    "SoftmaxResult",
    "alpha",
    "check_derivative",
    "derive_activation",
    "derive_activation_fresh",
    "derive_softmax",
    "difference_quotient_check",
    "shipped_activations",
    "sigma_f",
]

zs = sp.Symbol("z", real=True)

@dataclass
class ActivationResult:
    """An element-wise activation with its derivation. ``f``, ``fprime`` are expressions in :data:`zs`."""

    act: ActSpec
    f: sp.Expr
    fprime_raw: sp.Expr
    fprime: sp.Expr
    closed: sp.Expr
    closed_subs: dict
    derivation: Derivation
    kinks: tuple[float, ...] = ()

    @property
    def param_subs(self) -> dict:
        """Substitution {alpha: value} that fixes the activation's parameter (empty if it has none)."""
        return {} if self.act.param is None else {alpha: sp.nsimplify(self.act.param)}

    def f_numeric(self) -> sp.Expr:
        """f(z) with the parameter's value substituted."""
        return self.f.xreplace(self.param_subs)

    def fprime_numeric(self) -> sp.Expr:
        """f'(z) (after the kink convention) with the parameter's value substituted."""
        return self.fprime.xreplace(self.param_subs)


@dataclass
class SoftmaxResult:
    """Softmax at a concrete width ``n``: definition, derived Jacobian, and the claim diag(s) - s s^T."""

    n: int
    z: list[sp.Symbol]
    s: list[sp.Expr]
    jacobian: sp.Matrix
    derivation: Derivation
    s_symbols: list[sp.Symbol] = field(default_factory=list)


def check_derivative(
    f: sp.Expr, var: sp.Symbol, derived: sp.Expr, *, points: int = 4, seed: int = 1, avoid: tuple[float, ...] = ()
) -> Check:
    """Cross-check a derived derivative against a 60-digit central difference of ``f`` at random points.

    An independent witness for ``sympy.diff``: h = 1e-15 at 60 digits leaves a truncation error ~1e-30.
    """
    import random

    rng = random.Random(seed)
    h = sp.Rational(1, 10**15)
    for _ in range(points):
        x0 = sp.Rational(round((-3 + 6 * rng.random()) * 997), 997)
        if any(abs(float(x0) - k) < 1e-2 for k in avoid):
            x0 += sp.Rational(1, 7)
        others = {s: sp.Rational(1, 3) for s in f.free_symbols - {var}}
        fd = (f.xreplace({var: x0 + h, **others}) - f.xreplace({var: x0 - h, **others})) / (2 * h)
        fd_val = sp.N(fd, 60)
        an_val = sp.N(derived.xreplace({var: x0, **others}), 60)
        if abs(fd_val - an_val) > sp.Float(10) ** -18 * max(1, abs(an_val)):
            return Check(False, "60-digit central difference disagrees",
                         counterexample={str(var): f"{float(x0):.6g}", "derived": f"{float(an_val):.12g}",
                                         "central difference": f"{float(fd_val):.12g}"})
    return Check(True, f"numeric: agrees with a 60-digit central difference at {points} points")


@cache
def derive_activation(act: ActSpec) -> ActivationResult:
    """Derive f' for an element-wise activation from its definition (see module doc).

    The derivations of the registry's activations (default parameters) do not depend on a model: they are shipped
    derived (:mod:`derive.backprop.shipped`) and served when the shipped copy is current, else derived here.
    """
    hit = _shipped().get(act)
    return hit if isinstance(hit, ActivationResult) else derive_activation_fresh(act)


@cache
def _shipped() -> dict:
    from derive.core import shipped

    # shipped beside the module that uses these derivations for a model (derive.backprop is where bpv packages
    # its artefacts); keyed on that module's imports, which include this one
    return shipped.load("derive.backprop.model_functions", "activations", dict) or {}


def shipped_activations() -> dict[ActSpec, ActivationResult]:
    """Every element-wise activation of the registry, default parameter, always derived (what is shipped)."""
    out = {}
    for name, entry in ACTIVATIONS.items():
        if entry.definition is not None and entry.closed_form is not None:
            act = ActSpec.parse(name)
            out[act] = derive_activation_fresh(act)
    return out


def derive_activation_fresh(act: ActSpec) -> ActivationResult:
    """:func:`derive_activation`, always derived (never the shipped copy)."""
    name = act.name
    entry = ACTIVATIONS[name]
    if entry.definition is None or entry.closed_form is None:
        raise ValueError(f"{name} is vector valued: use derive_softmax(n)")
    z = zs
    al = alpha if act.param is not None else None
    f = entry.definition(z, al)
    fname = entry.function
    d = Derivation(f"{act} derivative from its definition", role=Role.ACTIVATION, subject=name)
    d.define(f"{name}.def", fname(z), f, "definition")
    raw = sp.diff(f, z)
    kinks = act.entry.kinks
    d.add(_derived_step(f"{name}.diff", fname, z, raw, difference_quotient_check(f, z, raw, kinks)))
    fprime = raw
    if raw.has(sp.Heaviside):
        # the convention f'(0) = 0 at a kink, as PyTorch has it: SymPy's H(0) = 1/2 rewritten to H(z, 0), here only
        fprime = raw.replace(lambda e: isinstance(e, sp.Heaviside), lambda e: sp.Heaviside(e.args[0], 0))
        agree = prove_equal(fprime, raw)  # random points never hit z = 0 exactly
        d.convention(
            f"{name}.convention", sp.Derivative(fname(z), z), fprime, agree,
            f"convention {entry.symbol}'(0) = 0 (as PyTorch): the unit step H(z), whose value at 0 is open (1/2 "
            "by default), taken with H(0) = 0",
            note=f"equal to the raw derivative for every z != 0; at z = 0 {entry.symbol} has a kink and any value in "
                 "[0, 1] is a subgradient",
        )
    claim, subs = entry.closed_form(z, al)
    d.claim(
        f"{name}.closed", sp.Derivative(fname(z), z), claim, fprime,
        "textbook closed form, compared against the derived derivative", substitutions=subs,
        depends=(f"{name}.diff",),
    )
    return ActivationResult(act, f, raw, fprime, claim, subs, d, kinks)


#: the definitions whose difference quotient SymPy's limit cannot take: they branch on the sign of z
_BRANCHES = (sp.Max, sp.Min, sp.Piecewise, sp.Heaviside, sp.Abs)


def difference_quotient_check(f: sp.Expr, var: sp.Symbol, derived: sp.Expr, kinks: tuple[float, ...] = ()) -> Check:
    """The derived f' against the definition of the derivative: lim_{h -> 0} (f(z + h) - f(z))/h, symbolically.

    A proof that does not reuse the differentiation rules that produced ``derived``. Where the definition branches
    on the sign of z, or the limit is not found, the 60-digit central difference stands in (numerical evidence,
    with the reason in the method text).
    """
    if f.has(*_BRANCHES):
        numeric = check_derivative(f, var, derived, avoid=kinks)
        reason = ("the definition branches on the sign of z, and the limit of the difference quotient cannot be "
                  "taken through a branch of unknown sign")
        return Check(numeric.holds, f"{numeric.method} ({reason})", counterexample=numeric.counterexample)
    h = sp.Symbol("h", real=True)
    try:
        limit = sp.limit((f.subs(var, var + h) - f) / h, h, 0, dir="+-")
    except (NotImplementedError, ValueError):
        limit = None
    if limit is None or limit.has(sp.Limit, sp.oo, -sp.oo, sp.zoo, sp.nan):
        numeric = check_derivative(f, var, derived, avoid=kinks)
        return Check(numeric.holds, f"{numeric.method} (SymPy does not find the limit of the difference quotient)",
                     counterexample=numeric.counterexample)
    chk = prove_equal(limit, derived)
    if chk.holds and chk.proven:
        return Check(True, "symbolic: the limit of the difference quotient (f(z + h) - f(z))/h as h -> 0, taken "
                           "from the definition, minus the derived derivative simplifies to 0")
    return Check(chk.holds, f"the limit of the difference quotient against the derived derivative: {chk.method}",
                 counterexample=chk.counterexample, strength=chk.strength)


def _derived_step(label, fname, z, raw, check):
    from derive.core.steps import Step

    return Step(label, sp.Derivative(fname(z), z), raw, "derived", "differentiated the definition", check,
                depends=(label.replace(".diff", ".def"),))


@cache
def derive_softmax(n: int = 3) -> SoftmaxResult:
    """Softmax s_i = e^{z_i} / sum_k e^{z_k}: Jacobian derived at width ``n`` and in index form for all widths."""
    if n < 2:
        raise ValueError("softmax needs at least 2 units")
    z = list(sp.symbols(f"z_1:{n + 1}", real=True))
    total = sum(sp.exp(zk) for zk in z)
    s = [sp.exp(zi) / total for zi in z]
    s_sym = list(sp.symbols(f"s_1:{n + 1}", positive=True))
    d = Derivation(f"softmax Jacobian (width {n} exhaustively; all widths in index form)", role=Role.SOFTMAX,
                   subject="softmax")
    i, j, k = sp.symbols("i j k", integer=True, positive=True)
    nn = sp.Symbol("n", integer=True, positive=True)
    zi = _OutputLayer(sp.IndexedBase("z"))
    s_i = _OutputLayer(sp.IndexedBase("a"))
    S = sp.Sum(sp.exp(zi[k]), (k, 1, nn))
    d.define("softmax.def", s_i[i], sp.exp(zi[i]) / S, "definition (all widths n): a^L = softmax(z^L)")

    jac = sp.Matrix(n, n, lambda r, c: sp.diff(s[r], z[c]))

    # ----- all widths: index form ----------------------------------------------------------------------------
    raw = first_branch(sp.diff(sp.exp(zi[i]) / S, zi[j]).doit())
    d.add(_index_step(raw, jac, z, zi, i, j, nn, s_i))
    total_sym = sp.Symbol("S", positive=True)
    as_total = raw.subs(S, total_sym)
    claim = s_i[i] * (sp.KroneckerDelta(i, j) - s_i[j])
    claim_total = (sp.exp(zi[i]) / total_sym) * (sp.KroneckerDelta(i, j) - sp.exp(zi[j]) / total_sym)
    ok_all = Check(True, "symbolic: difference reduces to 0 by cancel (sum replaced by a symbol S)") if sp.cancel(
        sp.together(as_total - claim_total)) == 0 else Check(False, "symbolic: difference does not reduce to 0")
    d.add(_claim_step("softmax.jacobian_claim", sp.Derivative(s_i[i], zi[j], evaluate=False), claim, ok_all,
                      "textbook form s_i (1{i=j} - s_j), i.e. diag(s) - s s^T, against the derived index form"))

    # ----- concrete width n, every entry ----------------------------------------------------------------------
    claim_m = sp.diag(*s_sym) - sp.Matrix(s_sym) * sp.Matrix(s_sym).T
    subs = dict(zip(s_sym, s, strict=True))
    bad = None
    for r in range(n):
        for c in range(n):
            chk = prove_equal(jac[r, c], claim_m[r, c], substitutions=subs)
            if chk.holds is not True:
                bad = (r, c, chk)
                break
        if bad:
            break
    if bad:
        r, c, chk = bad
        check = Check(False, f"entry ({r + 1},{c + 1}): {chk.method}", counterexample=chk.counterexample)
    else:
        check = Check(True, f"every one of the {n * n} entries proven equal (symbolic, cross-checked numerically)")
    J = sp.MatrixSymbol(f"J_{n}", n, n)
    d.add(_claim_step("softmax.jacobian_width", J, claim_m, check,
                      f"differentiated every entry at width {n}, compared with diag(s) - s s^T"))
    return SoftmaxResult(n, z, s, jac, d, s_sym)


def _index_step(raw, jac, z, zi, i, j, nn, s_i):
    """The index-form derivative, cross-checked by instantiating it at the concrete width entry by entry."""
    from derive.core.steps import Step

    n = jac.shape[0]
    to_concrete = {zi[q]: z[q - 1] for q in range(1, n + 1)}
    check = Check(True, f"instantiated at n = {n}: every entry equals the derivative taken at that width")
    for r in range(1, n + 1):
        for c in range(1, n + 1):
            entry = raw.subs({nn: n, i: r, j: c}).doit().xreplace(to_concrete)
            chk = prove_equal(entry, jac[r - 1, c - 1])
            if chk.holds is not True:
                check = Check(False, f"instantiated at n = {n}, entry ({r},{c}): {chk.method}",
                              counterexample=chk.counterexample)
                break
        if check.holds is False:
            break
    return Step("softmax.diff", sp.Derivative(s_i[i], zi[j], evaluate=False), raw, "derived",
                "differentiated the definition in index form; the Kronecker delta collapses the sum", check,
                ("softmax.def",))


class _OutputLayer:
    """``base[i]`` -> base[L, i]: the output layer's units, printed z^L_i."""

    L = sp.Symbol("L", integer=True, positive=True)

    def __init__(self, base: sp.IndexedBase):
        self.base = base

    def __getitem__(self, i):
        return self.base[self.L, i]


def first_branch(expr: sp.Expr) -> sp.Expr:
    """Replace every Piecewise by its first branch.

    SymPy guards index-form results with range conditions such as ``j <= n`` (sympy #13993); the indices of a
    derivation are valid unit indices by construction, so the first branch is the one that applies.
    """
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[0][0])


def _claim_step(label, lhs, rhs, check, justification):
    from derive.core.steps import Step

    return Step(label, lhs, rhs, "claim", justification, check)
