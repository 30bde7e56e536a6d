"""BP1-BP4 for every width, derived in index form: the multivariate chain rule is the one stated axiom.

SymPy cannot differentiate an undefined function of a vector of symbolic length, so the chain rule

    ∂C/∂u = Σ_k ∂C/∂v_k · ∂v_k/∂u        (C depends on u only through v_1 .. v_N)

is stated once (``Derivation.axiom``) and *instantiated* (v = a^L, z^{l+1}, z^l). Everything else is computed by
SymPy from the definitions z^l_j = Σ_k w^l_{jk} a^{l-1}_k + b^l_j (the dense layer's forward in index form,
:meth:`derive.layers.dense.DenseSym.forward`) and a^l_j = σ(z^l_j), with ``IndexedBase`` quantities, symbolic widths
n_l, ``Sum`` and ``KroneckerDelta`` (docs/conventions.md § Deriving: ``doit``, ``deltasummation``, the first
``Piecewise`` branch):

* ∂a^L_k/∂z^L_j = 1{j=k} σ'(z^L_k), ∂z^{l+1}_k/∂z^l_j = w^{l+1}_{kj} σ'(z^l_j), ∂z^l_i/∂b^l_j = 1{i=j},
  ∂z^l_i/∂w^l_{jk} = 1{i=j} a^{l-1}_k: ``sympy.diff`` of the definitions;
* the collapse of each chain-rule sum over its Kronecker delta.

The results BP1, BP1a (vector form), BP2, BP3, BP4 are **claims** (the textbook forms, typed in as claims only),
compared with the derived expressions. How a comparison is made (:func:`check_index_claim`):

1. *symbolic, all widths*: constant factors are pulled out of every ``Sum`` and the difference must expand to 0;
2. *instantiated*: at several concrete widths (non-square included) and every index value, the sums are done, each
   undefined-function atom (σ'(z^l_2), ∂C/∂a^L_1, ...) becomes an independent unknown, and both sides are compared
   exactly at random rational points. A disagreement is a counterexample (shown with the widths and indices), so a
   wrong claim (BP4 without a^{l-1}, BP2 without the transpose, BP1 without σ') is reported as not holding.

σ and C are undefined functions here: the result holds for every differentiable activation and cost. This module
does not know about a particular model (see :mod:`derive.backprop.fixed_width` and :mod:`derive.backprop.end_to_end`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from functools import lru_cache

import sympy as sp
from sympy.concrete.delta import deltasummation
from sympy.core.function import AppliedUndef

from derive.backprop.sums import pull_constants
from derive.core.proof import Check, prove_equal
from derive.core.steps import Derivation, Role, Step
from derive.core.symbols import a, b, delta, sigma, w, z
from derive.functions.activations import first_branch
from derive.layers.dense import DenseSym

__all__ = [
    "CLAIMS",
    "C",
    "L",
    "check_index_claim",
    "dC",
    "derive_default_rule",
    "derive_general_rule",
    "i",
    "j",
    "k",
    "l",
    "n_L",
    "n_l",
    "n_next",
    "n_prev",
    "sigma_prime",
]

l = sp.Symbol("l", integer=True, positive=True)
L = sp.Symbol("L", integer=True, positive=True)
i, j, k, q = sp.symbols("i j k q", integer=True, positive=True)
n_prev = sp.Symbol("n_(l-1)", integer=True, positive=True)
n_l = sp.Symbol("n_l", integer=True, positive=True)
n_next = sp.Symbol("n_(l+1)", integer=True, positive=True)
n_L = sp.Symbol("n_L", integer=True, positive=True)
#: the cost, as a name: ∂C/∂x is an (unevaluated) Derivative of this symbol
C = sp.Symbol("C")
_u = sp.Symbol("u")
_v = sp.IndexedBase("v")
_N = sp.Symbol("N", integer=True, positive=True)
_dC = sp.Function("dC")  # ∂C/∂X as an opaque function of X while sums are done


def dC(x: sp.Expr) -> sp.Derivative:
    """∂C/∂x, unevaluated (C is an undefined function of everything downstream of x)."""
    return sp.Derivative(C, x, evaluate=False)


def sigma_prime(arg: sp.Expr) -> sp.Expr:
    """σ'(arg) as SymPy writes it for an undefined σ."""
    return sp.diff(sigma(arg), arg)


#: Textbook forms, typed in as claims only: label -> (lhs, rhs, free index ranges for instantiation).
CLAIMS: dict[str, tuple[sp.Expr, sp.Expr, dict]] = {
    "BP1": (delta[L, j], dC(a[L, j]) * sigma_prime(z[L, j]), {j: n_L}),
    "BP2": (delta[l, j], sp.Sum(w[l + 1, k, j] * delta[l + 1, k], (k, 1, n_next)) * sigma_prime(z[l, j]),
            {j: n_l}),
    "BP3": (dC(b[l, j]), delta[l, j], {j: n_l}),
    "BP4": (dC(w[l, j, k]), a[l - 1, k] * delta[l, j], {j: n_l, k: n_prev}),
}

#: concrete widths (n_(l-1), n_l, n_(l+1), n_L) at which every index-form result is instantiated; non-square W.
WIDTHS = ((1, 1, 1, 1), (2, 3, 2, 2), (3, 2, 3, 3))


# ----- checking index-form results ---------------------------------------------------------------------------
def _opaque_derivatives(expr: sp.Expr) -> sp.Expr:
    """∂C/∂X -> dC(X), so that doit() keeps it (C is a plain symbol: its derivative would be 0)."""
    return expr.replace(lambda e: isinstance(e, sp.Derivative) and e.expr == C, lambda e: _dC(e.variables[0]))


def _atomize(exprs: list[sp.Expr], table: dict) -> list[sp.Expr]:
    """Each undefined-function atom (σ(..), σ'(..), dC(..)) becomes one independent unknown, shared across exprs."""

    def atoms(e):
        return [x for x in sp.preorder_traversal(e) if isinstance(x, (sp.Derivative, AppliedUndef, sp.Subs))]

    for e in exprs:
        for x in atoms(e):
            if x not in table and not any(x.has(t) for t in table if t != x and x != t and x.has(t)):
                table.setdefault(x, sp.Symbol(f"U{len(table)}"))
    return [e.xreplace(table) for e in exprs]


def instantiate(expr: sp.Expr, widths: Mapping, indices: Mapping) -> sp.Expr:
    """The index-form expression at concrete widths and index values, sums done, first Piecewise branches."""
    e = _opaque_derivatives(expr).subs({**widths, **indices})
    for _ in range(3):
        e = first_branch(e.doit())
        if not e.has(sp.Sum):
            break
    return e


def check_index_claim(derived: sp.Expr, claim: sp.Expr, ranges: Mapping, *, widths=WIDTHS) -> Check:
    """Compare a derived index-form expression with a claim (see the module doc for the two methods)."""
    symbolic = sp.expand(pull_constants(derived) - pull_constants(claim)) == 0
    n_checked = 0
    for ws in widths:
        wmap = dict(zip((n_prev, n_l, n_next, n_L), ws, strict=True))
        free = sorted(ranges, key=sp.default_sort_key)
        for values in itertools.product(*[range(1, int(ranges[s].subs(wmap)) + 1) for s in free]):
            imap = dict(zip(free, values, strict=True))
            lhs_c = instantiate(derived, wmap, imap)
            rhs_c = instantiate(claim, wmap, imap)
            table: dict = {}
            lhs_a, rhs_a = _atomize([lhs_c, rhs_c], table)
            chk = prove_equal(lhs_a, rhs_a)
            n_checked += 1
            if chk.holds is not True:
                where = {str(s): str(v) for s, v in {**wmap, **imap}.items()}
                names = {str(v): sp.sstr(x) for x, v in table.items()}
                ce = {**where, **(chk.counterexample or {})}
                # the layer symbols stay symbolic (w[l + 1, 1, 2] is one unknown): not part of the counterexample
                ce = {names.get(key, key): val for key, val in ce.items() if key not in ("l", "L")}
                return Check(False, f"counterexample at concrete widths ({chk.method})", counterexample=ce)
    inst = f"instantiated at widths {', '.join('-'.join(map(str, ws)) for ws in widths)}: {n_checked} cases agree"
    if symbolic:
        return Check(True, "symbolic: equal for all widths (constants pulled out of the sums, difference expands "
                           "to 0)", inst + " exactly")
    return Check(True, "exact at concrete widths only: " + inst,
                 "no symbolic all-widths proof was found; evidence at the listed widths")


# ----- the derivation -------------------------------------------------------------------------------------------
def _concrete_diff_check(general: sp.Expr, definition_at: callable, var_at: callable, ranges: dict) -> Check:
    """Cross-check a derivative computed in index form: at concrete widths, diff the instantiated definition."""
    for ws in WIDTHS:
        wmap = dict(zip((n_prev, n_l, n_next, n_L), ws, strict=True))
        free = sorted(ranges, key=sp.default_sort_key)
        for values in itertools.product(*[range(1, int(ranges[s].subs(wmap)) + 1) for s in free]):
            imap = dict(zip(free, values, strict=True))
            concrete = sp.diff(definition_at(wmap, imap), var_at(imap))
            general_c = instantiate(general, wmap, imap)
            if sp.expand(concrete - general_c) != 0:
                return Check(False, "differs from sympy.diff at concrete widths",
                             counterexample={**{str(s): str(v) for s, v in {**wmap, **imap}.items()},
                                             "index form": sp.sstr(general_c), "concrete": sp.sstr(concrete)})
    return Check(True, "symbolic: equals sympy.diff of the definition instantiated at widths "
                       + ", ".join("-".join(map(str, ws)) for ws in WIDTHS) + " for every index")


def _collapse(expr: sp.Expr) -> sp.Expr:
    """Collapse Sum(... KroneckerDelta ...) with deltasummation; keep the first Piecewise branch."""

    def one(s: sp.Sum) -> sp.Expr:
        if not s.function.has(sp.KroneckerDelta) or len(s.limits) != 1:
            return s
        return first_branch(deltasummation(s.function, s.limits[0]))

    return expr.replace(lambda e: isinstance(e, sp.Sum), one)


def _collapse_check(summed: sp.Expr, collapsed: sp.Expr, ranges: dict) -> Check:
    """deltasummation is the all-widths step; the instantiation at concrete widths cross-checks it."""
    inst = check_index_claim(summed, collapsed, ranges)
    if inst.holds is not True:
        return inst
    return Check(True, "symbolic: the sum over the Kronecker delta evaluated (all widths; the surviving index "
                       "is a unit index, so the case where it lies in range applies)", inst.method.split(": ", 1)[-1])


def _instance_check(step_rhs: sp.Expr, rebuilt: sp.Expr, how: str) -> Check:
    if rebuilt == step_rhs:
        return Check(True, f"symbolic: identical to the axiom with {how}")
    return Check(False, "not an instance of the axiom",
                 counterexample={"instance": sp.sstr(rebuilt), "step": sp.sstr(step_rhs)})


def _claim(d: Derivation, label: str, derived_label: str, claims: Mapping) -> Step:
    lhs, rhs, ranges = claims[label]
    derived = d[derived_label].rhs
    check = check_index_claim(derived, rhs, ranges)
    return d.add(Step(label, lhs, rhs, "claim", "textbook form, compared with the derived result", check,
                      (derived_label,)))


@lru_cache(maxsize=8)
def _derive_cached(claim_items: tuple) -> Derivation:
    return _build(dict(claim_items))


def derive_general_rule(claims: Mapping[str, sp.Expr] | None = None) -> Derivation:
    """The all-widths derivation of BP1-BP4 (module doc). ``claims`` replaces textbook right-hand sides (tests).

    With the textbook claims the result does not depend on any model: it is shipped derived
    (:mod:`derive.backprop.shipped`) and served when the shipped copy is current, else derived here.
    """
    if not claims:
        return _shipped_or_derived()
    table = dict(CLAIMS)
    for label, rhs in (claims or {}).items():
        if label not in table:
            raise ValueError(f"unknown claim {label!r}; one of {', '.join(CLAIMS)}")
        table[label] = (table[label][0], rhs, table[label][2])
    items = tuple((key, table[key]) for key in CLAIMS)
    try:
        return _derive_cached(tuple((key, (v[0], v[1], tuple(v[2].items()))) for key, v in items))
    except TypeError:  # unhashable claim: build uncached
        return _build(table)


@lru_cache(maxsize=1)
def _shipped_or_derived() -> Derivation:
    from derive.core import shipped

    hit = shipped.load(__name__, "general_rule", Derivation)
    return hit if hit is not None else derive_default_rule()


def derive_default_rule() -> Derivation:
    """The all-widths rule with the textbook claims, always derived (what :mod:`derive.backprop.shipped` ships)."""
    return _derive_cached(tuple((key, (v[0], v[1], tuple(v[2].items()))) for key, v in CLAIMS.items()))


#: layer l (n_(l-1) -> n_l units) and layer l+1 (n_l -> n_(l+1)), at symbolic index and widths
LAYER = DenseSym(l, n_prev, n_l)
NEXT_LAYER = DenseSym(l + 1, n_l, n_next)


def _build(claim_items: Mapping) -> Derivation:
    claims = {key: (v[0], v[1], dict(v[2])) for key, v in claim_items.items()}
    d = Derivation(
        "BP1-BP4 for every width (index form; sigma and C undefined; the chain rule is the one axiom)",
        summary="widths n_l symbolic, units 1-based; sigma and C stand for any differentiable activation and cost",
        role=Role.GENERAL_RULE, subject=LAYER.kind,
    )
    z_def = LAYER.forward(j, lambda kk: a[l - 1, kk], k)
    d.define("z.def", z[l, j], z_def, "weighted input of unit j in layer l")
    d.define("a.def", a[l, j], sigma(z[l, j]), "activation of unit j in layer l")
    d.define("delta.def", delta[l, j], dC(z[l, j]), "the error of unit j in layer l")
    chain = sp.Sum(dC(_v[k]) * sp.Derivative(_v[k], _u, evaluate=False), (k, 1, _N))
    d.axiom("chain", dC(_u), chain,
            "multivariate chain rule: C depends on u only through v_1..v_N (stated, not computed: SymPy cannot "
            "differentiate an undefined function of a vector of symbolic length)")
    local = _local_derivatives(d, z_def)
    _bp1(d, chain, local["da_dz"], claims)
    _bp2(d, chain, local["dz_next_dz"], claims)
    _bp3_bp4(d, chain, local, claims)
    return d


def _local_derivatives(d: Derivation, z_def: sp.Expr) -> dict[str, sp.Expr]:
    """da^L/dz^L, dz^(l+1)/dz^l, dz^l/db^l, dz^l/dw^l: sympy.diff of the definitions, each cross-checked."""
    da_dz = first_branch(sp.diff(sigma(z[L, k]), z[L, j]).doit())
    d.add(Step("da_dz", sp.Derivative(a[L, k], z[L, j], evaluate=False), da_dz, "derived",
               "differentiating a^L_k = sigma(z^L_k) with respect to z^L_j",
               _concrete_diff_check(da_dz, lambda wm, im: sigma(z[L, im[k]]), lambda im: z[L, im[j]],
                                    {j: n_L, k: n_L}), ("a.def",)))
    z_next = NEXT_LAYER.forward(k, lambda ii: sigma(z[l, ii]), i)
    d.add(Step("z_next", z[l + 1, k], z_next, "derived",
               "the definition of z at layer l+1, with a^l_i = sigma(z^l_i) substituted",
               _z_next_check(z_def, z_next), ("z.def", "a.def")))
    dz_next = first_branch(sp.diff(z_next, z[l, j]).doit())
    d.add(Step("dz_next_dz", sp.Derivative(z[l + 1, k], z[l, j], evaluate=False), dz_next, "derived",
               "differentiating z^(l+1)_k with respect to z^l_j; the Kronecker delta collapses the sum",
               _concrete_diff_check(dz_next, lambda wm, im: z_next.subs({**wm, k: im[k]}).doit(),
                                    lambda im: z[l, im[j]], {j: n_l, k: n_next}), ("z_next",)))
    dz_db = first_branch(sp.diff(z_def.xreplace({j: i}), b[l, j]).doit())
    d.add(Step("dz_db", sp.Derivative(z[l, i], b[l, j], evaluate=False), dz_db, "derived",
               "differentiating the definition of z^l_i with respect to b^l_j",
               _concrete_diff_check(dz_db, lambda wm, im: z_def.xreplace({j: i}).subs({**wm, i: im[i]}).doit(),
                                    lambda im: b[l, im[j]], {i: n_l, j: n_l}), ("z.def",)))
    dz_dw = first_branch(sp.diff(z_def.xreplace({j: i, k: q}), w[l, j, k]).doit())
    d.add(Step("dz_dw", sp.Derivative(z[l, i], w[l, j, k], evaluate=False), dz_dw, "derived",
               "differentiating the definition of z^l_i with respect to w^l_jk; the sum over q collapses",
               _concrete_diff_check(dz_dw, lambda wm, im: z_def.xreplace({j: i, k: q}).subs({**wm, i: im[i]}).doit(),
                                    lambda im: w[l, im[j], im[k]], {i: n_l, j: n_l, k: n_prev}), ("z.def",)))
    return {"da_dz": da_dz, "dz_next_dz": dz_next, "dz_db": dz_db, "dz_dw": dz_dw}


def _chain_instance(chain: sp.Expr, u: sp.Expr, N: sp.Expr, v, extra: Mapping | None = None) -> sp.Expr:
    """The chain-rule axiom with u, N and v_k -> v(k) substituted."""
    return chain.xreplace({_u: u, _N: N, **(extra or {})}).replace(
        lambda e: isinstance(e, sp.Indexed) and e.base == _v, lambda e: v(e.indices[0]))


def _bp1(d: Derivation, chain: sp.Expr, da_dz: sp.Expr, claims: Mapping) -> None:
    bp1_chain = sp.Sum(dC(a[L, k]) * sp.Derivative(a[L, k], z[L, j], evaluate=False), (k, 1, n_L))
    d.add(Step("BP1.chain", delta[L, j], bp1_chain, "derived", "the chain rule with u = z^L_j, v = a^L",
               _instance_check(bp1_chain, _chain_instance(chain, z[L, j], n_L, lambda kk: a[L, kk]),
                               "u = z^L_j, v_k = a^L_k, N = n_L"), ("chain", "delta.def")))
    bp1_sub = sp.Sum(dC(a[L, k]) * da_dz, (k, 1, n_L))
    d.derive("BP1.substitute", delta[L, j], bp1_sub,
             "substituting the derivative of a^L_k with respect to z^L_j", expected=bp1_chain.replace(
        lambda e: isinstance(e, sp.Derivative) and e.expr == a[L, k], lambda e: da_dz), depends=("BP1.chain", "da_dz"))
    bp1 = _collapse(bp1_sub)
    d.add(Step("BP1.collapse", delta[L, j], bp1, "derived", "the Kronecker delta collapses the sum over k",
               _collapse_check(bp1_sub, bp1, {j: n_L}), ("BP1.substitute",)))
    _claim(d, "BP1", "BP1.collapse", claims)
    d.add(_bp1_vector(bp1))


def _bp2(d: Derivation, chain: sp.Expr, dz_next: sp.Expr, claims: Mapping) -> None:
    bp2_chain = sp.Sum(dC(z[l + 1, k]) * sp.Derivative(z[l + 1, k], z[l, j], evaluate=False), (k, 1, n_next))
    d.add(Step("BP2.chain", delta[l, j], bp2_chain, "derived", "the chain rule with u = z^l_j, v = z^(l+1)",
               _instance_check(bp2_chain, _chain_instance(chain, z[l, j], n_next, lambda kk: z[l + 1, kk]),
                               "u = z^l_j, v_k = z^(l+1)_k, N = n_{l+1}"),
               ("chain", "delta.def")))
    bp2 = sp.Sum(delta[l + 1, k] * dz_next, (k, 1, n_next))
    d.derive("BP2.substitute", delta[l, j], bp2, ("substituting the derivative of z^(l+1)_k with respect to z^l_j, and "
              "dC/dz^{l+1}_k = delta^(l+1)_k"),
             expected=bp2_chain.replace(lambda e: isinstance(e, sp.Derivative) and e.expr == z[l + 1, k],
                                        lambda e: dz_next).xreplace({dC(z[l + 1, k]): delta[l + 1, k]}),
             depends=("BP2.chain", "dz_next_dz", "delta.def"))
    _claim(d, "BP2", "BP2.substitute", claims)


def _bp3_bp4(d: Derivation, chain: sp.Expr, local: Mapping[str, sp.Expr], claims: Mapping) -> None:
    """BP3 and BP4 for every parameter of the layer (b^l_j, w^l_jk), the same four steps each."""
    for label, param, local_name, ranges, name in (("BP3", LAYER.b.entry(j), "dz_db", {j: n_l}, "b^l_j"),
                                                   ("BP4", LAYER.W.entry(j, k), "dz_dw", {j: n_l, k: n_prev},
                                                    "w^l_{jk}")):
        ch = sp.Sum(dC(z[l, i]) * sp.Derivative(z[l, i], param, evaluate=False), (i, 1, n_l))
        d.add(Step(f"{label}.chain", dC(param), ch, "derived",
                   f"the chain rule with u = {name}, v = z^l",
                   _instance_check(ch, _chain_instance(chain, param, n_l, lambda ii: z[l, ii], {k: i}),
                                   f"u = {name}, v_i = z^l_i, N = n_l"),
                   ("chain", "delta.def")))
        derivative = local[local_name]
        sub = sp.Sum(delta[l, i] * derivative, (i, 1, n_l))
        expected = ch.replace(lambda e: isinstance(e, sp.Derivative) and e.expr == z[l, i],
                              lambda e, derivative=derivative: derivative).xreplace({dC(z[l, i]): delta[l, i]})
        d.derive(f"{label}.substitute", dC(param), sub,
                 f"substituting the derivative of z^l_i with respect to {name}, and dC/dz^l_i = delta^l_i",
                 expected=expected, depends=(f"{label}.chain",))
        collapsed = _collapse(sub)
        d.add(Step(f"{label}.collapse", dC(param), collapsed, "derived", "the Kronecker delta collapses the sum over i",
                   _collapse_check(sub, collapsed, ranges), (f"{label}.substitute",)))
        _claim(d, label, f"{label}.collapse", claims)


def _z_next_check(z_def: sp.Expr, z_next: sp.Expr) -> Check:
    """z_next is z.def moved to layer l+1 (unit k, summation index i) with a^l_i replaced by sigma(z^l_i)."""
    moved = NEXT_LAYER.forward(k, lambda ii: a[l, ii], i)
    rebuilt = z_def.xreplace({k: i}).xreplace({j: k}).subs({l: l + 1, n_prev: n_l})
    if rebuilt != moved:
        return Check(False, "the definition of z at layer l+1 is not what was substituted",
                     counterexample={"z.def at l+1": sp.sstr(rebuilt), "used": sp.sstr(moved)})
    if moved.xreplace({a[l, i]: sigma(z[l, i])}) != z_next:
        return Check(False, "substitution a = sigma(z) does not give z_next")
    return Check(True, "symbolic: the definition of z with l -> l+1, then a^l_i -> sigma(z^l_i) (identical trees)")


def _bp1_vector(bp1: sp.Expr) -> Step:
    """BP1a: delta^L = nabla_a C (.) sigma'(z^L), checked entry by entry at widths 1..4 against BP1."""
    lhs = sp.MatrixSymbol("delta^L", n_L, 1)
    rhs = sp.HadamardProduct(sp.MatrixSymbol("nabla_a C", n_L, 1), sp.MatrixSymbol("sigma'(z^L)", n_L, 1))
    check = Check(True, "symbolic: every entry of the Hadamard product equals BP1, widths n_L = 1..4")
    for width in range(1, 5):
        grad = sp.Matrix(width, 1, lambda r, _c: dC(a[L, r + 1]))
        sp_ = sp.Matrix(width, 1, lambda r, _c: sigma_prime(z[L, r + 1]))
        had = sp.matrix_multiply_elementwise(grad, sp_)
        for r in range(width):
            entry = instantiate(bp1, {n_L: width}, {j: r + 1})
            if sp.expand(_opaque_derivatives(had[r, 0]) - entry) != 0:
                check = Check(False, "entry differs from BP1", counterexample={"n_L": str(width), "j": str(r + 1)})
                break
    return Step("BP1a", lhs, rhs, "claim", "vector form of BP1 (Hadamard product), compared entry by entry",
                check, ("BP1.collapse",))
