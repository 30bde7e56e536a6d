"""BP1-BP4 at small concrete widths, produced by SymPy's own multivariate chain rule: no axiom.

Layer by layer, σ and C *undefined* functions (so the result holds for every differentiable activation and cost).
For each layer l the fragment SymPy differentiates is (:func:`compose_layer`):

* the layer's input a^{l-1}_k: free symbols (any values; a^0 = x is the net's input);
* z^l_j = Σ_k w^l_{jk} a^{l-1}_k + b^l_j + ε^l_j (the dense layer's forward,
  :meth:`derive.layers.dense.DenseSym.forward_at`, plus ε), a^l_j = σ(z^l_j);
* below the output, the next layer z^{l+1}_i = Σ_j w^{l+1}_{ij} a^l_j + b^{l+1}_i + ε^{l+1}_i and the **rest of the
  network** C = G(z^{l+1}_1, .., z^{l+1}_n), G an undefined function; at the output C = C(a^L_1, .., a^L_n).

In a feed-forward net the cost depends on layer l (its input, parameters and ε^l) only through z^{l+1}: C is
G_l(z^{l+1}) for G_l the composition of the later layers and the cost, so an identity that holds for *every*
differentiable G holds for the network, at every layer. The perturbations ε^l_j (set to 0 after differentiating)
make the error a derivative SymPy can take: δ^l_j = ∂C/∂z^l_j = ∂C/∂ε^l_j (Nielsen's demon adding Δz^l_j), and
δ^{l+1}_i = ∂C/∂ε^{l+1}_i is SymPy's derivative of G. Then ``sympy.diff`` of C with respect to every ε, b and w is
compared with the BP forms built from those results:

* BP1: δ^L_j = ∂C/∂a^L_j · σ'(z^L_j)
* BP2: δ^l_j = Σ_k w^{l+1}_{kj} δ^{l+1}_k · σ'(z^l_j)   (δ^{l+1} also from sympy.diff of the same C)
* BP3: ∂C/∂b^l_j = δ^l_j
* BP4: ∂C/∂w^l_{jk} = a^{l-1}_k δ^l_j

exhaustively (every l, j, k) at the spec's widths capped at 3 (see :func:`derive.backprop.model.fixed_width_cap`).
Composing the whole net instead (the earlier form of this module) grows as the product of the widths with depth
(every σ(z^l) holds the whole net below it): 8 layers of width 2 took 102 s; a fragment has a fixed size, so the
work is linear in depth and fragments of equal widths cost the same.
σ is a function with no definition whose derivative is another undefined function σ' (:data:`sigma_fw`); SymPy
writes ∂C/∂a^L_j (and ∂G/∂z^{l+1}_i) as ``Derivative(C(..), σ(..))`` (or a ``Subs``); these are renamed to
C_j(..), G_i(..) (a faithful renaming), every such atom becomes one unknown, and the difference must expand to 0
(symbolic proof). A difference that does not expand to 0 is evaluated with a concrete σ, C and G (polynomials) at
random rational points: a nonzero value is a counterexample.

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

__all__ = ["CAP", "CLAIMS", "LayerFragment", "compose_layer", "derive_fixed_width", "fragments", "l_sym", "sigma_prime"]

CAP = 3
eps = sp.IndexedBase("epsilon")
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


def _outer(name: str) -> type:
    """An undefined function of several arguments whose i-th partial derivative is the undefined ``name_i``.

    The same renaming :func:`canonical` applies to SymPy's ``Subs(Derivative(C(ξ..), ξ_i), ξ, e)``, done where the
    derivative is taken (the Subs objects cost 0.3 s per layer to build).
    """

    def fdiff(self, argindex=1):
        return sp.Function(f"{name}_{argindex}")(*self.args)

    return type(name, (sp.Function,), {"fdiff": fdiff, "__module__": __name__})


#: the cost as a function of the output activations
C_f = _outer("C")
#: the rest of the network below the output: any differentiable function of the next layer's pre-activations
G_f = _outer("G")


#: the layer index of every fragment: one proof covers every layer of the same widths (module doc)
l_sym = sp.Symbol("l", integer=True, positive=True)


@dataclass
class LayerFragment:
    """Layer l (index :data:`l_sym`, symbolic) with the rest of the net undefined, and SymPy's derivatives of C.

    ``widths`` are (n_{l-1}, n_l, n_{l+1}), n_{l+1} None at the output. Read as the claims read them, by book layer
    index: ``sizes[l]``, ``z[l][j-1]``, ``a[l-1][k-1]``, ``d_eps[(l, j)]`` and, below the output, ``sizes[l+1]``,
    ``d_eps[(l+1, i)]`` (δ^{l+1}_i, SymPy's derivative of G); everything at ε = 0.
    """

    widths: tuple[int, int, int | None]
    bias: bool
    sizes: dict[sp.Expr, int]
    z: dict[sp.Expr, list[sp.Expr]]
    a: dict[sp.Expr, list[sp.Expr]]
    cost: sp.Expr
    d_eps: dict[tuple[sp.Expr, int], sp.Expr]
    d_b: dict[tuple[sp.Expr, int], sp.Expr]
    d_w: dict[tuple[sp.Expr, int, int], sp.Expr]
    dC_da: list[sp.Expr]  # ∂C/∂a^L_j as SymPy writes it, at ε = 0 (the output fragment only)

    @property
    def output(self) -> bool:
        return self.widths[2] is None

    @property
    def L(self) -> sp.Expr:
        """The output layer's index (the output fragment's own layer)."""
        if not self.output:
            raise AttributeError("a fragment below the output has no output layer")
        return l_sym

    @property
    def n_outer(self) -> int:
        """How many arguments the outer undefined function (G, or C at the output) takes."""
        return self.widths[1] if self.output else int(self.widths[2])


def _next_layer(n_l: int, n_next: int, bias: bool, acts: list[sp.Expr]) -> tuple[list[sp.Expr], sp.Expr]:
    """z^{l+1} over a^l (plus ε^{l+1}) and C = G(z^{l+1}): the rest of the net as an undefined function."""
    layer = DenseSym(l_sym + 1, n_l, n_next, bias)
    z_next = [sp.Add(zi, eps[l_sym + 1, i]) for i, zi in enumerate(layer.forward_at(acts), start=1)]
    return z_next, G_f(*z_next)


@lru_cache(maxsize=64)
def compose_layer(widths: tuple[int, int, int | None], bias: bool = True) -> LayerFragment:
    """The fragment of a layer of widths (n_{l-1}, n_l, n_{l+1} or None), differentiated by every ε, b, w of it."""
    l = l_sym
    n_prev, n_l, n_next = widths
    a_prev = [a[l - 1, k] for k in range(1, n_prev + 1)]
    layer = DenseSym(l, n_prev, n_l, bias)
    z_l = [sp.Add(zj, eps[l, j]) for j, zj in enumerate(layer.forward_at(a_prev), start=1)]
    acts = [sigma_fw(v) for v in z_l]
    z_next, cost = ([], C_f(*acts)) if n_next is None else _next_layer(n_l, n_next, bias, acts)
    units = [(l, j) for j in range(1, n_l + 1)] + [(l + 1, i) for i in range(1, len(z_next) + 1)]
    zero = {eps[u]: 0 for u in units}

    def d(var):
        return sp.diff(cost, var).xreplace(zero)

    d_eps = {u: d(eps[u]) for u in units}
    d_b = {(l, j): d(b[l, j]) for j in range(1, n_l + 1)} if bias else {}
    d_w = {(l, j, k): d(w[l, j, k]) for j in range(1, n_l + 1) for k in range(1, n_prev + 1)}
    dC_da: list[sp.Expr] = []
    if n_next is None:  # ∂C/∂a^L_j: sympy.diff of C with respect to its j-th argument (plain symbols), then at a^L
        slots = sp.symbols(f"A1:{len(acts) + 1}")
        at_aL = dict(zip(slots, [v.xreplace(zero) for v in acts], strict=True))
        dC_da = [canonical(sp.diff(C_f(*slots), slots[j])).xreplace(at_aL) for j in range(len(acts))]
    sizes = {l - 1: n_prev, l: n_l} | ({} if n_next is None else {l + 1: n_next})
    z_out = {l: [v.xreplace(zero) for v in z_l]} | ({l + 1: [v.xreplace(zero) for v in z_next]} if z_next else {})
    return LayerFragment(widths, bias, sizes, z_out, {l - 1: a_prev, l: [v.xreplace(zero) for v in acts]},
                         cost.xreplace(zero), d_eps, d_b, d_w, dC_da)


def fragments(sizes: tuple[int, ...]) -> dict[tuple[int, int, int | None], list[int]]:
    """The width patterns (n_{l-1}, n_l, n_{l+1} or None) of a net's layers, each with the layers that have it."""
    L = len(sizes) - 1
    out: dict[tuple[int, int, int | None], list[int]] = {}
    for layer in range(1, L + 1):
        out.setdefault((sizes[layer - 1], sizes[layer], sizes[layer + 1] if layer < L else None), []).append(layer)
    return out


def canonical(expr: sp.Expr) -> sp.Expr:
    """Rename SymPy's forms of σ', ∂C/∂a_j and ∂G/∂z_i to σ'(e), C_j(...) and G_i(...): equal things look equal."""

    def is_sigma_p(e):
        return (isinstance(e, sp.Subs) and isinstance(e.expr, sp.Derivative) and e.expr.expr.func == sigma) or (
            isinstance(e, sp.Derivative) and isinstance(e.expr, AppliedUndef) and e.expr.func == sigma)

    def sigma_p(e):
        return _sigma_p(e.point[0]) if isinstance(e, sp.Subs) else _sigma_p(e.expr.args[0])

    def is_partial(e):
        inner = e.expr if isinstance(e, (sp.Subs, sp.Derivative)) else None
        if isinstance(e, sp.Subs):
            return isinstance(inner, sp.Derivative) and inner.expr.func in _OUTER
        return isinstance(e, sp.Derivative) and inner.func in _OUTER

    def partial_j(e):
        if isinstance(e, sp.Subs):
            inner = e.expr
            args = list(inner.expr.args)
            pos = args.index(inner.variables[0])
            point = [dict(zip(e.variables, e.point, strict=True)).get(v, v) for v in args]
            return sp.Function(f"{inner.expr.func}_{pos + 1}")(*point)
        pos = list(e.expr.args).index(e.variables[0])
        return sp.Function(f"{e.expr.func}_{pos + 1}")(*e.expr.args)

    # Subs first: a bottom-up pass would otherwise rename the Derivative inside a Subs and leave the Subs.
    expr = expr.replace(lambda e: isinstance(e, sp.Subs) and is_sigma_p(e), sigma_p)
    expr = expr.replace(lambda e: isinstance(e, sp.Subs) and is_partial(e), partial_j)
    expr = expr.replace(is_sigma_p, sigma_p)
    return expr.replace(is_partial, partial_j)


#: the functions C(a^L) and G(z^{l+1}) whose partial derivatives :func:`canonical` renames (also SymPy's own C)
_OUTER = (C_f, G_f, sp.Function("C"), sp.Function("G"))


def _atoms(exprs: list[sp.Expr]) -> dict:
    table: dict = {}
    for e in exprs:
        for node in sp.preorder_traversal(e):
            if isinstance(node, (AppliedUndef, sigma_fw, C_f, G_f)) and node not in table:
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


def _concrete_check(lhs: sp.Expr, rhs: sp.Expr, n_outer: int, seed: int = 0) -> Check:
    """Evaluate both sides with a concrete σ, C and G (polynomials of ``n_outer`` arguments) at a random point."""
    t = sp.Symbol("t")
    rng = random.Random(seed)
    poly_sigma = sp.Lambda(t, t + t**2 / 3 - t**3 / 7)
    avars = sp.symbols(f"A1:{n_outer + 2}")[:n_outer]
    weights = [sp.Rational(rng.randint(1, 9), rng.randint(1, 9)) for _ in avars]
    poly_C = sp.Lambda(tuple(avars), sum(c * v**2 for c, v in zip(weights, avars, strict=True)) + sp.prod(avars))
    left, right = canonical(lhs), canonical(rhs)
    # numbers first (exact rationals), then the concrete functions: the expanded polynomials would be huge
    variables = sorted((left - right).atoms(sp.Indexed), key=sp.default_sort_key)
    point = {v: sp.Rational(rng.randint(-9, 9) or 1, rng.randint(2, 9)) for v in variables}
    left, right = left.xreplace(point), right.xreplace(point)
    funcs = {_sigma_p: sp.Lambda(t, sp.diff(poly_sigma(t), t)), sigma: poly_sigma, sigma_fw: poly_sigma,
             C_f: poly_C, G_f: poly_C, _OUTER[2]: poly_C, _OUTER[3]: poly_C}
    for pos in range(n_outer):
        for outer in ("C", "G"):
            funcs[sp.Function(f"{outer}_{pos + 1}")] = sp.Lambda(tuple(avars), sp.diff(poly_C(*avars), avars[pos]))
    for f, lam in funcs.items():
        left, right = left.subs(f, lam), right.subs(f, lam)
    lv, rv = sp.nsimplify(left.doit()), sp.nsimplify(right.doit())
    if lv != rv:
        ce = {sp.sstr(k): str(v) for k, v in point.items()}
        ce.update({"lhs": f"{float(lv):.12g}", "rhs": f"{float(rv):.12g}", "sigma(t)": sp.sstr(poly_sigma(t)),
                   "C(a), G(z)": sp.sstr(poly_C(*avars))})
        return Check(False, "not identical; counterexample with a concrete sigma, C and G at a random rational point "
                            "(exact arithmetic)", counterexample=ce)
    return Check(None, "not identical after expansion; no counterexample found with a concrete sigma, C and G")


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


def _cases(frag: LayerFragment, label: str):
    """(l, j, k, SymPy's derivative) for every case of ``label`` in one fragment (l the symbolic layer index)."""
    l, n = l_sym, frag.sizes
    if label == "BP1":
        return [(l, j, None, frag.d_eps[(l, j)]) for j in range(1, n[l] + 1)] if frag.output else []
    if label == "BP2":
        return [] if frag.output else [(l, j, None, frag.d_eps[(l, j)]) for j in range(1, n[l] + 1)]
    if label == "BP3":
        return [(l, j, None, frag.d_b[(l, j)]) for j in range(1, n[l] + 1)]
    return [(l, j, k, frag.d_w[(l, j, k)]) for j in range(1, n[l] + 1) for k in range(1, n[l - 1] + 1)]


_LHS = {"BP1": delta[sp.Symbol("L"), sp.Symbol("j")],
        "BP2": delta[sp.Symbol("l"), sp.Symbol("j")],
        "BP3": sp.Derivative(sp.Symbol("C"), b[sp.Symbol("l"), sp.Symbol("j")], evaluate=False),
        "BP4": sp.Derivative(sp.Symbol("C"), w[sp.Symbol("l"), sp.Symbol("j"), sp.Symbol("k")], evaluate=False)}
_WHAT = {"BP1": "sympy.diff of C(a^L) composed over the output layer with respect to eps^L_j",
         "BP2": "sympy.diff of G(z^(l+1)) composed over layers l, l+1 with respect to eps^l_j, against the BP2 form "
                "built from sympy.diff of the same C w.r.t. eps^(l+1)",
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
    patterns = fragments(tuple(sizes))
    frags = [(compose_layer(widths, bool(bias)), layers) for widths, layers in patterns.items()]
    table = {**CLAIMS, **(claims or {})}
    widths = "-".join(map(str, sizes))
    d = Derivation(f"BP1-BP4 at widths {widths} by SymPy's own chain rule (sigma, C undefined; no axiom)",
                   summary="every l, j, k, layer by layer; delta^l_j = dC/deps^l_j with z^l_j + eps^l_j, eps = 0 "
                           "afterwards; below the output C = G(z^(l+1)), G any differentiable function",
                   role=Role.FIXED_WIDTH, subject=widths)
    d.define("fixed.compose", sp.Symbol("C"), sp.Symbol(f"G(z^(l+1)), C(a^{len(sizes) - 1})"),
             f"at widths {widths}" + ("" if bias else " (no biases)") + ", for each layer l: a^(l-1) free, "
             "z^l = W^l a^(l-1) + b^l + eps^l, a^l = sigma(z^l); below the output z^(l+1) = W^(l+1) a^l + b^(l+1) "
             "+ eps^(l+1) and C = G(z^(l+1)) with G undefined (in a feed-forward net C depends on layer l only "
             "through z^(l+1)); at the output C = C(a^L). Layers of equal widths (n_{l-1}, n_l, n_{l+1}) share one "
             f"computation with the layer index l symbolic: {len(patterns)} for {len(sizes) - 1} layers")
    for label in ("BP1", "BP2", "BP3", "BP4"):
        if label == "BP3" and not bias:
            continue
        cases = [(frag, layers, _cases(frag, label)) for frag, layers in frags]
        if not any(found for _, _, found in cases):  # BP2 needs two layers
            continue
        d.add(Step(f"fixed.{label}", _LHS[label], (shown or {}).get(label, _SHOWN[label]()), "claim", _WHAT[label],
                   _check_cases(cases, table[label], label == "BP4"), ("fixed.compose",)))
    return d


def _check_cases(cases: list, claim: Callable, with_k: bool) -> Check:
    """Every case symbolically; the first one that does not expand to 0 is evaluated for a counterexample."""
    for frag, layers, found in cases:
        for l, j, k, derived in found:
            rhs = claim(frag, l, j, k)
            if structurally_equal(derived, rhs):
                continue
            check = _concrete_check(derived, rhs, frag.n_outer)
            where = {"l": ", ".join(map(str, layers)), "j": str(j)} | ({"k": str(k)} if k else {})
            check.counterexample = {**where, **(check.counterexample or {})}
            return check
    total = sum(len(layers) * len(found) for _, layers, found in cases)
    return Check(True, f"symbolic: identical after expansion in all {total} cases (every l, j"
                       + (", k" if with_k else "") + f"; {len(cases)} width patterns, each with l symbolic)")
