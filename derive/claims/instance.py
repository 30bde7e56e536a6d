"""The composed model at a few random points: the true values every claim is compared with.

See :mod:`derive.claims.semantics` for what each quantity means; :class:`Instance` computes them from the composed
cost (:func:`derive.backprop.compose.compose_model`), never from BP1-BP4. A model with an L2 term (``l2=``) has the
cost C = C_0 + (lambda / 2n) sum_w w^2 (n = ``l2_n``, else the instance's batch size m): :meth:`Instance.cost` and
:meth:`Instance.dC` carry the term (dC/dw = dC_0/dw + (lambda / n) w, biases unchanged), :meth:`Instance.cost0` and
:meth:`Instance.dC0` are C_0's. Normalisation and dropout are not composed (see
:func:`derive.claims.verdicts.unsupported_blocks`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cache

import sympy as sp

from derive.backprop.compose import ProvenActivation, compose_model
from derive.backprop.compose import x as x_base
from derive.claims.semantics import DIGITS, Context, instance_spec, number
from derive.core.symbols import a as a_base
from derive.core.symbols import b as b_base
from derive.core.symbols import w as w_base
from derive.core.symbols import y as y_base
from derive.functions.costs import L as L_cost
from derive.functions.costs import derive_cost, n_out
from derive.functions.registry import ACTIVATIONS as SYM_ACTIVATIONS
from derive.functions.registry import COSTS as SYM_COSTS
from numeric.functions import TargetKind
from numeric.spec import ModelSpec

__all__ = ["Instance", "value_of"]


@dataclass
class Instance:
    """The composed model at batch size ``m`` and a few random points where everything is evaluated.

    Each derivative is taken on the cost composed with every leaf (parameter, input, target) fixed to the point's
    value except the one being differentiated (``compose_model(..., fixed=...)``): the same function, partially
    evaluated, so the expression stays small. Leaves are exact rationals; for models with a transcendental
    activation or cost they enter as 45-digit floats (the values are then 45-digit numbers, not exact).
    """

    context: Context
    m: int
    seed: int = 0
    n_points: int = 2
    spec: ModelSpec = field(init=False)
    _cache: dict = field(default_factory=dict, init=False, repr=False)
    #: values of claim sides already evaluated on this instance (kept by :mod:`derive.claims.verdicts`)
    values: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        self.spec = instance_spec(self.context.spec)
        self.skeleton = compose_model(self.spec, m=1)  # the symbols only (never differentiated)
        # exact rational arithmetic where every function is rational at rational points (registry's ``exact``)
        self.exact = all(SYM_ACTIVATIONS[a.name].exact for a in self.spec.activations) and \
            not SYM_COSTS[self.spec.cost].log_domain
        rng = random.Random(self.seed)
        self.points = [self._point(rng) for _ in range(self.n_points)]

    @property
    def L(self) -> int:
        return self.spec.L

    def width(self, l: int) -> int:
        return self.spec.sizes[l]

    def _point(self, rng: random.Random) -> dict:
        def r(lo, hi):
            return sp.Rational(round((lo + (hi - lo) * rng.random()) * 997) or 1, 997)

        pt: dict = {}
        for s in self.skeleton.theta_symbols:
            pt[s] = r(-1.0, 1.0)
            if not self.context.spec.bias and s.base == b_base:
                pt[s] = sp.Integer(0)
        target = self.spec.cost_entry.target
        for s in range(1, self.m + 1):
            for k in range(1, self.width(0) + 1):
                pt[x_base[s, k]] = r(-2.0, 2.0)
            n = self.width(self.L)
            if target is TargetKind.CLASSES:  # a probability vector: positive, summing to 1
                raw = [r(0.05, 1.0) for _ in range(n)]
                total = sum(raw)
                for j, q in enumerate(raw, start=1):
                    pt[y_base[s, j]] = q / total
            else:
                for j in range(1, n + 1):
                    pt[y_base[s, j]] = r(0.05, 0.95) if target is TargetKind.BINARY else r(-1.0, 1.0)
        pt[sp.Symbol("x", real=True)] = r(-2.0, 2.0)
        return pt

    # ----- partially evaluated compositions ----------------------------------------------------------------
    def _leaf(self, v):
        return v if self.exact else sp.Float(v, DIGITS + 5)

    def composed(self, p: int, free: tuple = (), shift: tuple | None = None):
        """The model composed at point p with the leaves in ``free`` left symbolic; ``shift=(l, j, t)`` adds t to
        z^l_j (through b^l_j, which enters nowhere else)."""
        key = ("cm", p, free, shift)
        if key not in self._cache:
            fixed = {k: self._leaf(v) for k, v in self.points[p].items() if k not in free}
            if shift is not None:
                l, j, t = shift
                fixed[b_base[l, j]] = fixed[b_base[l, j]] + t
            self._cache[key] = compose_model(self.spec, m=self.m, fixed=fixed)
        return self._cache[key]

    def moved(self, p: int, leaf: sp.Expr, t: sp.Symbol):
        """The model composed at point p (sample 1) with the leaf ``leaf`` (w^l_{jk}, b^l_j or x_k) moved by t."""
        key = ("mv", p, leaf)
        if key not in self._cache:
            fixed = {k: self._leaf(v) for k, v in self.points[p].items()}
            fixed[leaf] = fixed[leaf] + t
            self._cache[key] = compose_model(self.spec, m=1, fixed=fixed)
        return self._cache[key]

    def moved_hidden(self, p: int, l: int, j: int, t: sp.Symbol):
        """The network from layer l+1 on, composed on its own (sample 1) with its input a^l and a^l_j moved by t:
        its ``z[q]``, ``a[q]`` are z^{l+q}, a^{l+q} of the model."""
        key = ("mvh", p, l, j)
        if key not in self._cache:
            sub = ModelSpec.build(list(self.spec.sizes[l:]), [str(a) for a in self.spec.activations[l:]],
                                  self.spec.cost, "sum", self.spec.layout, True)
            fixed = self._downstream_leaves(p, l)
            for q in range(1, self.width(l) + 1):
                fixed[x_base[1, q]] = self.a(p, l, 1, q) + (t if q == j else 0)
            self._cache[key] = compose_model(sub, m=1, fixed=fixed)
        return self._cache[key]

    def _downstream_leaves(self, p: int, l: int) -> dict:
        """The parameters of layers l+1..L renumbered from 1 (for a sub-network from layer l on)."""
        fixed = {}
        for ll in range(l + 1, self.L + 1):
            off = ll - l
            for j in range(1, self.width(ll) + 1):
                fixed[b_base[off, j]] = self._leaf(self.param(p, b_base[ll, j]))
                for q in range(1, self.width(ll - 1) + 1):
                    fixed[w_base[off, j, q]] = self._leaf(self.param(p, w_base[ll, j, q]))
        return fixed

    def _derivative(self, p: int, expr_of, var, value) -> sp.Expr:
        v = sp.diff(expr_of, var).xreplace({var: value})
        if v.has(ProvenActivation):
            v = v.replace(lambda e: isinstance(e, ProvenActivation), lambda e: e.definition())
        return v if isinstance(v, sp.Rational) else number(v)

    # ----- the L2 term (Nielsen eq. 87): C = C_0 + (lambda / 2n) sum_w w^2 over the weights -------------------
    @property
    def l2_scale(self) -> sp.Expr | None:
        """lambda / n of the context's L2 term (n = l2_n, else the instance's batch size m); None without one."""
        penalty = self.context.spec.penalty
        if penalty is None:
            return None
        n = penalty.n if penalty.n is not None else self.m
        return sp.nsimplify(penalty.lam) / n

    def l2_n(self) -> int:
        penalty = self.context.spec.penalty
        return penalty.n if penalty is not None and penalty.n is not None else self.m

    def weights(self) -> list[sp.Indexed]:
        return [s for s in self.skeleton.theta_symbols if s.base == w_base]

    def cost0(self, p: int) -> sp.Expr:
        """C_0, the cost without the L2 term (the composed dense network's cost)."""
        return value_of(self.composed(p).cost)

    def cost(self, p: int) -> sp.Expr:
        """The cost C at the point (the batch cost; C_x when m = 1), with the L2 term of the context if any."""
        c0, scale = self.cost0(p), self.l2_scale
        if scale is None:
            return c0
        return value_of(c0 + scale / 2 * sum((self.points[p][w] ** 2 for w in self.weights()), sp.Integer(0)))

    def param(self, p: int, sym: sp.Expr) -> sp.Expr:
        return self.points[p].get(sym, sp.Integer(0))

    def z(self, p: int, l: int, s: int, j: int) -> sp.Expr:
        return value_of(self.composed(p).z[l][s - 1][j - 1])

    def a(self, p: int, l: int, s: int, j: int) -> sp.Expr:
        return value_of(self.composed(p).a[l][s - 1][j - 1])

    def y(self, p: int, s: int, j: int) -> sp.Expr:
        return self.points[p][y_base[s, j]]

    def dC0(self, p: int, sym: sp.Expr) -> sp.Expr:
        """∂C_0/∂θ of the batch cost without an L2 term: ``sympy.diff`` of the cost composed with θ alone left
        symbolic."""
        key = ("dC", p, sym)
        if key not in self._cache:
            cm = self.composed(p, free=(sym,))
            self._cache[key] = self._derivative(p, cm.cost, sym, self._leaf(self.points[p][sym]))
        return self._cache[key]

    def dC(self, p: int, sym: sp.Expr) -> sp.Expr:
        """∂C/∂θ of the batch cost: ∂C_0/∂θ, plus (lambda / n) w for a weight under an L2 term (the derivative of
        (lambda / 2n) w^2; biases are not regularised)."""
        v, scale = self.dC0(p, sym), self.l2_scale
        if scale is None or sym.base != w_base:
            return v
        return value_of(v + scale * self.points[p][sym])

    def delta(self, p: int, l: int, s: int, j: int) -> sp.Expr:
        """δ^l_j of sample s: ∂C_x/∂z^l_j, the derivative of the sample's cost along a shift t of z^l_j."""
        key = ("delta", p, l, s, j)
        if key not in self._cache:
            t = sp.Symbol("t")
            cm = self.composed(p, shift=(l, j, t))
            self._cache[key] = self._derivative(p, cm.per_sample_cost[s - 1], t, sp.Integer(0))
        return self._cache[key]

    @property
    def scale(self) -> sp.Rational:
        """∂C/∂C_x: 1/m for a mean over the batch, 1 for a sum."""
        return sp.Rational(1, self.m) if self.spec.reduction == "mean" else sp.Integer(1)

    def dC_da_out(self, p: int, s: int, j: int) -> sp.Expr:
        """∂C_x/∂a^L_j from the cost's definition, at sample s."""
        n = self.width(self.L)
        expr, _aj = _cost_gradient(self.spec.cost, n, j)
        table = {a_base[L_cost, k]: self.a(p, self.L, s, k) for k in range(1, n + 1)}
        table.update({y_base[k]: self._leaf(self.y(p, s, k)) for k in range(1, n + 1)})
        return value_of(expr.xreplace(table))

    def dC_dx(self, p: int, s: int, k: int) -> sp.Expr:
        """∂C_x/∂x_k of sample s: the inputs are leaves of the composed cost."""
        key = ("dx", p, s, k)
        if key not in self._cache:
            var = x_base[s, k]
            cm = self.composed(p, free=(var,))
            self._cache[key] = self._derivative(p, cm.per_sample_cost[s - 1], var, self._leaf(self.points[p][var]))
        return self._cache[key]

    def dC_da_hidden(self, p: int, l: int, s: int, k: int) -> sp.Expr:
        """∂C_x/∂a^l_k for 0 < l < L: the network from layer l+1 on, composed on its own with a^l as its input."""
        key = ("da", p, l, s, k)
        if key in self._cache:
            return self._cache[key]
        sub = ModelSpec.build(list(self.spec.sizes[l:]), [str(a) for a in self.spec.activations[l:]],
                              self.spec.cost, "sum", self.spec.layout, True)
        fixed = self._downstream_leaves(p, l)
        for q in range(1, self.width(l) + 1):
            if q != k:
                fixed[x_base[1, q]] = self.a(p, l, s, q)
        for j in range(1, self.width(self.L) + 1):
            fixed[y_base[1, j]] = self._leaf(self.y(p, s, j))
        cm = compose_model(sub, m=1, fixed=fixed)
        self._cache[key] = self._derivative(p, cm.per_sample_cost[0], x_base[1, k], self.a(p, l, s, k))
        return self._cache[key]


def value_of(v) -> sp.Expr:
    if isinstance(v, sp.Rational):
        return v
    if v.has(ProvenActivation):
        v = v.replace(lambda e: isinstance(e, ProvenActivation), lambda e: e.definition())
    return v if isinstance(v, sp.Rational) else number(v)


@cache
def _cost_gradient(cost: str, n: int, j: int):
    C = derive_cost(cost).C.subs(n_out, n).doit()
    aj = a_base[L_cost, j]
    return sp.diff(C, aj), aj
