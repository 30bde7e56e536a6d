"""BP1-BP4 at small concrete widths, produced by SymPy's own multivariate chain rule: no axiom.

The network is composed symbolically with σ and C *undefined* functions (so the result holds for every
differentiable activation and cost): z^l_j = Σ_k w^l_{jk} a^{l-1}_k + b^l_j + ε^l_j (the dense layer's forward,
:meth:`derive.layers.dense.DenseSym.forward_at`, plus ε), a^l_j = σ(z^l_j),
C = C(a^L_1, .., a^L_n). The perturbations ε^l_j (set to 0 after differentiating) make the error a derivative
SymPy can take: δ^l_j = ∂C/∂z^l_j = ∂C/∂ε^l_j (Nielsen's demon adding Δz^l_j). Then ``sympy.diff`` of the whole
composed C, with respect to every ε, every b and every w, is compared with the BP forms built from those results:

* BP1: δ^L_j = ∂C/∂a^L_j · σ'(z^L_j)
* BP2: δ^l_j = Σ_k w^{l+1}_{kj} δ^{l+1}_k · σ'(z^l_j)   (δ^{l+1} also from sympy.diff of the composed C)
* BP3: ∂C/∂b^l_j = δ^l_j
* BP4: ∂C/∂w^l_{jk} = a^{l-1}_k δ^l_j

exhaustively (every l, j, k) at the spec's widths capped at 3 (see :func:`derive.backprop.model.fixed_width_cap`).
σ is a function with no definition whose derivative is another undefined function σ' (:data:`sigma_fw`); SymPy
writes ∂C/∂a^L_j as ``Derivative(C(..), σ(..))`` (or a ``Subs`` for one output); these are renamed to C_j(..) (a
faithful renaming), every
such atom becomes one unknown, and the difference must expand to 0 (symbolic proof). A difference that does not
expand to 0 is evaluated with a concrete σ and C (polynomials) at random rational points: a nonzero value is a
counterexample.

This module does not use the model's real activations or cost (see :mod:`derive.backprop.end_to_end`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import sympy as sp
from sympy.core.function import AppliedUndef

from derive.core.proof import Check
from derive.core.steps import Derivation, Role, Step
from derive.core.symbols import a, b, delta, sigma, w
from derive.layers.dense import DenseSym
from numeric.spec import ModelSpec

__all__ = ["CAP", "CLAIMS", "FixedWidthNet", "compose_undefined", "derive_fixed_width", "sigma_prime"]

CAP = 3
eps = sp.IndexedBase("epsilon")
C_f = sp.Function("C")
_sigma_p = sp.Function("sigma'")


def _sigma_fdiff(self, argindex=1):
    if argindex != 1:
        raise sp.ArgumentIndexError(self, argindex)
    return _sigma_p(self.args[0])


#: σ with no definition; its derivative is another undefined function σ'. SymPy's chain rule (Function's
#: _eval_derivative: fdiff times the derivative of the argument) does the work, as with an undefined σ, but without
#: building Subs(Derivative(σ(ξ), ξ), ξ, e) objects, which SymPy names by printing their arguments (measured:
#: composing and differentiating 3-3-3-3-1 took 18 s with Subs, 3 s with this).
sigma_fw = type("sigma", (sp.Function,), {"nargs": 1, "fdiff": _sigma_fdiff, "__module__": __name__})


@dataclass
class FixedWidthNet:
    """The composed network with undefined σ and C, and SymPy's derivatives of C (ε set to 0)."""

    sizes: tuple[int, ...]
    bias: bool
    z: list[list[sp.Expr]]  # z[l][j-1], l = 1..L (z[0] empty)
    a: list[list[sp.Expr]]  # a[l][j-1]; a[0] = a[0, k] symbols (the input)
    cost: sp.Expr
    d_eps: dict[tuple[int, int], sp.Expr]  # (l, j) -> ∂C/∂ε^l_j at ε = 0, i.e. δ^l_j
    d_b: dict[tuple[int, int], sp.Expr]
    d_w: dict[tuple[int, int, int], sp.Expr]
    dC_da: list[sp.Expr]  # ∂C/∂a^L_j as SymPy writes it, at ε = 0

    @property
    def L(self) -> int:
        return len(self.sizes) - 1


@lru_cache(maxsize=16)
def compose_undefined(sizes: tuple[int, ...], bias: bool = True) -> FixedWidthNet:
    """Compose C(a^L) through every layer with σ, C undefined; differentiate with respect to every ε, b, w."""
    L = len(sizes) - 1
    zs: list[list[sp.Expr]] = [[]]
    acts: list[list[sp.Expr]] = [[a[0, k] for k in range(1, sizes[0] + 1)]]
    for l in range(1, L + 1):
        layer = DenseSym(l, sizes[l - 1], sizes[l], bias)
        zl = [sp.Add(zj, eps[l, j]) for j, zj in enumerate(layer.forward_at(acts[l - 1]), start=1)]
        zs.append(zl)
        acts.append([sigma_fw(v) for v in zl])
    cost = C_f(*acts[L])
    zero = {eps[l, j]: 0 for l in range(1, L + 1) for j in range(1, sizes[l] + 1)}

    def d(var):
        return sp.diff(cost, var).xreplace(zero)

    d_eps = {(l, j): d(eps[l, j]) for l in range(1, L + 1) for j in range(1, sizes[l] + 1)}
    d_b = {(l, j): d(b[l, j]) for l in range(1, L + 1) for j in range(1, sizes[l] + 1)} if bias else {}
    d_w = {(l, j, k): d(w[l, j, k]) for l in range(1, L + 1) for j in range(1, sizes[l] + 1)
           for k in range(1, sizes[l - 1] + 1)}
    aL = acts[L]
    # ∂C/∂a^L_j: sympy.diff of C with respect to its j-th argument (plain symbols), then evaluated at a^L
    slots = sp.symbols(f"A1:{len(aL) + 1}")
    at_aL = dict(zip(slots, [v.xreplace(zero) for v in aL], strict=True))
    dC_da = [canonical(sp.diff(C_f(*slots), slots[j])).xreplace(at_aL) for j in range(len(aL))]
    return FixedWidthNet(tuple(sizes), bias, [[v.xreplace(zero) for v in zl] for zl in zs],
                         [[v.xreplace(zero) for v in al] for al in acts], cost.xreplace(zero), d_eps, d_b, d_w, dC_da)


def canonical(expr: sp.Expr) -> sp.Expr:
    """Rename SymPy's forms of σ' and ∂C/∂a_j to σ'(e) and C_j(...), so that equal things look equal."""

    def is_sigma_p(e):
        return (isinstance(e, sp.Subs) and isinstance(e.expr, sp.Derivative) and e.expr.expr.func == sigma) or (
            isinstance(e, sp.Derivative) and isinstance(e.expr, AppliedUndef) and e.expr.func == sigma)

    def sigma_p(e):
        return _sigma_p(e.point[0]) if isinstance(e, sp.Subs) else _sigma_p(e.expr.args[0])

    def is_dC(e):
        inner = e.expr if isinstance(e, (sp.Subs, sp.Derivative)) else None
        if isinstance(e, sp.Subs):
            return isinstance(inner, sp.Derivative) and isinstance(inner.expr, AppliedUndef) and inner.expr.func == C_f
        return isinstance(e, sp.Derivative) and isinstance(inner, AppliedUndef) and inner.func == C_f

    def dC_j(e):
        if isinstance(e, sp.Subs):
            inner = e.expr
            args = list(inner.expr.args)
            pos = args.index(inner.variables[0])
            point = [dict(zip(e.variables, e.point, strict=True)).get(v, v) for v in args]
            return sp.Function(f"C_{pos + 1}")(*point)
        pos = list(e.expr.args).index(e.variables[0])
        return sp.Function(f"C_{pos + 1}")(*e.expr.args)

    # Subs first: a bottom-up pass would otherwise rename the Derivative inside a Subs and leave the Subs.
    expr = expr.replace(lambda e: isinstance(e, sp.Subs) and is_sigma_p(e), sigma_p)
    expr = expr.replace(lambda e: isinstance(e, sp.Subs) and is_dC(e), dC_j)
    expr = expr.replace(is_sigma_p, sigma_p)
    return expr.replace(is_dC, dC_j)


def _atoms(exprs: list[sp.Expr]) -> dict:
    table: dict = {}
    for e in exprs:
        for node in sp.preorder_traversal(e):
            if isinstance(node, (AppliedUndef, sigma_fw)) and node not in table:
                table[node] = sp.Symbol(f"U{len(table)}")
    return table


def _outermost_xreplace(e: sp.Expr, table: dict) -> sp.Expr:
    return e.xreplace(table)  # xreplace matches a node before its children: outermost atoms win


def structurally_equal(lhs: sp.Expr, rhs: sp.Expr) -> bool:
    """True when lhs - rhs expands to 0 with every σ(..), σ'(..), C_j(..) an independent unknown (a proof)."""
    left, right = canonical(lhs), canonical(rhs)
    if left == right:
        return True
    table = _atoms([left, right])
    return sp.expand(_outermost_xreplace(left, table) - _outermost_xreplace(right, table)) == 0


def _concrete_check(lhs: sp.Expr, rhs: sp.Expr, n_out: int, seed: int = 0) -> Check:
    """Evaluate both sides with a concrete σ and C (polynomials) at a random rational point."""
    t = sp.Symbol("t")
    rng = random.Random(seed)
    poly_sigma = sp.Lambda(t, t + t**2 / 3 - t**3 / 7)
    avars = sp.symbols(f"A1:{n_out + 2}")[:n_out]
    weights = [sp.Rational(rng.randint(1, 9), rng.randint(1, 9)) for _ in avars]
    poly_C = sp.Lambda(tuple(avars), sum(c * v**2 for c, v in zip(weights, avars, strict=True)) + sp.prod(avars))
    left, right = canonical(lhs), canonical(rhs)
    # numbers first (exact rationals), then the concrete functions: the expanded polynomials would be huge
    variables = sorted((left - right).atoms(sp.Indexed), key=sp.default_sort_key)
    point = {v: sp.Rational(rng.randint(-9, 9) or 1, rng.randint(2, 9)) for v in variables}
    left, right = left.xreplace(point), right.xreplace(point)
    funcs = {_sigma_p: sp.Lambda(t, sp.diff(poly_sigma(t), t)), sigma: poly_sigma, sigma_fw: poly_sigma,
             C_f: poly_C}
    for pos in range(n_out):
        funcs[sp.Function(f"C_{pos + 1}")] = sp.Lambda(tuple(avars), sp.diff(poly_C(*avars), avars[pos]))
    for f, lam in funcs.items():
        left, right = left.subs(f, lam), right.subs(f, lam)
    lv, rv = sp.nsimplify(left.doit()), sp.nsimplify(right.doit())
    if lv != rv:
        ce = {sp.sstr(k): str(v) for k, v in point.items()}
        ce.update({"lhs": f"{float(lv):.12g}", "rhs": f"{float(rv):.12g}", "sigma(t)": sp.sstr(poly_sigma(t)),
                   "C(a)": sp.sstr(poly_C(*avars))})
        return Check(False, "not identical; counterexample with a concrete sigma and C at a random rational point "
                            "(exact arithmetic)", counterexample=ce)
    return Check(None, "not identical after expansion; no counterexample found with a concrete sigma and C")


#: Textbook forms as functions of the computed net (claims, never derived): (net, l, j, k) -> expression.
CLAIMS: dict[str, Callable] = {
    "BP1": lambda net, l, j, k: net.dC_da[j - 1] * sigma_prime(net.z[net.L][j - 1]),
    "BP2": lambda net, l, j, k: sp.Add(*[w[l + 1, kk, j] * net.d_eps[(l + 1, kk)]
                                          for kk in range(1, net.sizes[l + 1] + 1)]) * sigma_prime(net.z[l][j - 1]),
    "BP3": lambda net, l, j, k: net.d_eps[(l, j)],
    "BP4": lambda net, l, j, k: net.a[l - 1][k - 1] * net.d_eps[(l, j)],
}


def sigma_prime(e: sp.Expr) -> sp.Expr:
    """σ'(e), as SymPy's chain rule writes it for :data:`sigma_fw` (for claims written by hand, e.g. in tests)."""
    return _sigma_p(e)


def _cases(net: FixedWidthNet, label: str):
    L, n = net.L, net.sizes
    if label == "BP1":
        return [(L, j, None, net.d_eps[(L, j)]) for j in range(1, n[L] + 1)]
    if label == "BP2":
        return [(l, j, None, net.d_eps[(l, j)]) for l in range(1, L) for j in range(1, n[l] + 1)]
    if label == "BP3":
        return [(l, j, None, net.d_b[(l, j)]) for l in range(1, L + 1) for j in range(1, n[l] + 1)]
    return [(l, j, k, net.d_w[(l, j, k)]) for l in range(1, L + 1) for j in range(1, n[l] + 1)
            for k in range(1, n[l - 1] + 1)]


_LHS = {"BP1": delta[sp.Symbol("L"), sp.Symbol("j")],
        "BP2": delta[sp.Symbol("l"), sp.Symbol("j")],
        "BP3": sp.Derivative(sp.Symbol("C"), b[sp.Symbol("l"), sp.Symbol("j")], evaluate=False),
        "BP4": sp.Derivative(sp.Symbol("C"), w[sp.Symbol("l"), sp.Symbol("j"), sp.Symbol("k")], evaluate=False)}
_WHAT = {"BP1": "sympy.diff of the composed C with respect to eps^L_j",
         "BP2": "sympy.diff with respect to eps^l_j, against the BP2 form built from sympy.diff w.r.t. eps^(l+1)",
         "BP3": "sympy.diff of the composed C with respect to b^l_j, against the one w.r.t. eps^l_j",
         "BP4": "sympy.diff of the composed C with respect to w^l_jk, against a^(l-1)_k times the one w.r.t. eps^l_j"}
_SHOWN = {"BP1": lambda: sp.Derivative(sp.Symbol("C"), a[sp.Symbol("L"), sp.Symbol("j")], evaluate=False)
          * sp.Derivative(sigma(sp.Symbol("z^L_j")), sp.Symbol("z^L_j")),
          "BP2": lambda: sp.Sum(w[sp.Symbol("l") + 1, sp.Symbol("k"), sp.Symbol("j")]
                                * delta[sp.Symbol("l") + 1, sp.Symbol("k")], (sp.Symbol("k"), 1, sp.Symbol("n_(l+1)")))
          * sp.Derivative(sigma(sp.Symbol("z^l_j")), sp.Symbol("z^l_j")),
          "BP3": lambda: delta[sp.Symbol("l"), sp.Symbol("j")],
          "BP4": lambda: a[sp.Symbol("l") - 1, sp.Symbol("k")] * delta[sp.Symbol("l"), sp.Symbol("j")]}


def derive_fixed_width(spec: ModelSpec, *, cap: int = CAP, claims: Mapping[str, Callable] | None = None,
                       shown: Mapping[str, sp.Expr] | None = None) -> Derivation:
    """BP1-BP4 at the spec's widths capped at ``cap``, exhaustively (module doc).

    ``claims`` replaces a textbook form by a function ``(net, l, j, k) -> expression`` (planted wrong claims in
    tests); ``shown`` the expression printed for it.
    """
    sizes = tuple(min(n, cap) for n in spec.sizes)
    if not claims and not shown:
        return _fixed_cached(sizes, spec.bias)
    return _fixed(sizes, spec.bias, claims, shown)


@lru_cache(maxsize=16)
def _fixed_cached(sizes: tuple[int, ...], bias: bool) -> Derivation:
    return _fixed(sizes, bias, None, None)


def _fixed(sizes: tuple[int, ...], bias: bool, claims, shown) -> Derivation:
    net = compose_undefined(tuple(sizes), bool(bias))
    table = {**CLAIMS, **(claims or {})}
    d = Derivation(f"BP1-BP4 at widths {'-'.join(map(str, sizes))} by SymPy's own chain rule (sigma, C undefined; "
                   "no axiom)",
                   summary="every l, j, k; delta^l_j = dC/deps^l_j with z^l_j + eps^l_j, eps = 0 afterwards",
                   role=Role.FIXED_WIDTH, subject="-".join(map(str, sizes)))
    d.define("fixed.compose", sp.Symbol("C"), sp.Symbol(f"C(a^{net.L})"),
             f"z^l = W^l a^(l-1) + b^l + eps^l, a^l = sigma(z^l), C = C(a^{net.L}) composed at widths "
             f"{'-'.join(map(str, sizes))}" + ("" if bias else " (no biases)"))
    for label in ("BP1", "BP2", "BP3", "BP4"):
        if label == "BP3" and not bias:
            continue
        cases = _cases(net, label)
        if not cases:  # BP2 needs two layers
            continue
        check = None
        for l, j, k, derived in cases:
            claim = table[label](net, l, j, k)
            if structurally_equal(derived, claim):
                continue
            check = _concrete_check(derived, claim, sizes[-1])
            where = {"l": str(l), "j": str(j)} | ({"k": str(k)} if k else {})
            check.counterexample = {**where, **(check.counterexample or {})}
            break
        if check is None:
            check = Check(True, f"symbolic: identical after expansion in all {len(cases)} cases (every l, j"
                                + (", k" if label == "BP4" else "") + ")")
        rhs = (shown or {}).get(label, _SHOWN[label]())
        d.add(Step(f"fixed.{label}", _LHS[label], rhs, "claim", _WHAT[label], check, ("fixed.compose",)))
    return d
