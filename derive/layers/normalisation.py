"""Batch and layer normalisation, SymPy side: the forward as array forms, the backward derived and proven.

The SymPy half of :mod:`numeric.normalisation` (paired by ``kind``). A block z of pre-activations (columns layout:
units x samples) is normalised along one axis, the **statistics axis** (:data:`STAT_AXIS`: the samples for batch
normalisation, one mu and sigma^2 per unit; the units for layer normalisation, one per sample), then scaled and
shifted per unit:

    mu = StatSum(z) / N,  centred = z - mu,  sigma^2 = StatSum(centred^2) / N  (biased, as torch trains),
    inv_std = (sigma^2 + eps)^(-1/2),  x_hat = centred * inv_std,  y = gamma * x_hat + beta.

The backward is derived the way a textbook does it (:func:`derive_normalisation`): the local derivatives for beta,
gamma, x_hat, sigma^2 and mu, each produced by ``sympy.diff`` of the definition written out entry by entry at small
concrete sizes (:data:`SIZES`, all sizes distinct, so no axis mix-up type-checks by accident), then dC/dz by the
chain rule through mu and sigma^2, checked against ``sympy.diff`` of the fully composed cost, and finally the
compact form (:func:`backward_forms`, what the kernels print) as a claim proven equal to the chain-rule result.
For batch normalisation that is CS231n's form, gamma outside the sums. For layer normalisation gamma (per unit)
varies along the units the sums run over, so it must stay inside them: CS231n's form applied to layer normalisation
is refuted by the same check (:func:`check_dz_form`), and the layer form sums dx_hat = gamma dy instead of dy.

A cost's first derivatives through y only see G = dC/dy, so C is taken as sum_ij G_ij y_ij with a symbol G_ij per
entry. The forms are :mod:`derive.layers.norm_forms`; the layer classes :mod:`derive.layers.norm_layers`.

**How equality is decided.** Every derivative holds (sigma^2 + eps)^(-1/2); the comparisons replace it, per
statistics group g, by a positive symbol s_g (and its odd powers by powers of s_g). For one group this is the change
of variables eps = s_g^-2 - sigma_g^2, a bijection between eps > 0 and small enough s_g > 0 (the random points take
s_g in [0.05, 0.3], so eps > 0 for z in [-2, 2]); every entry compared involves one group only. Both sides are then
rational functions and :func:`~derive.core.proof.prove_equal` decides them symbolically (or exactly at rational
points): each Check says which.

:func:`derive_bias_before_norm` shows that a bias feeding batch normalisation gets the gradient 0 (the mean removes
it: dC/db = sum over the batch of dC/dz = 0). Layer normalisation has **no** such zero: its statistics run over the
units, so dC/dz sums to 0 down each sample, not along the batch, and dC/db stays nonzero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import sympy as sp

from derive.core.proof import Check, Strength, prove_equal
from derive.core.steps import Derivation, Role, Step, StepKind
from derive.layers.arrays import ArraySymbol, StatSum, count, evaluate, evaluate_forms
from derive.layers.norm_forms import (
    STAT_AXIS,
    backward_forms,
    beta,
    centred,
    chain_forms,
    dbeta,
    dgamma,
    dmu,
    dvar,
    dx_hat,
    dy,
    dz,
    eps,
    forward_forms,
    gamma,
    inv_std,
    mu,
    statistics_axis,
    var,
    x_hat,
    y,
    z,
)

__all__ = ["BIAS_SIZES", "SIZES", "check_dz_form", "derive_bias_before_norm", "derive_normalisation"]

#: the (units, samples) sizes the derivation is exhaustive at: all sizes distinct, at least 2 along each axis
SIZES = ((2, 3), (3, 4))

#: the sizes (units, previous width, samples) of the bias-before-normalisation check
BIAS_SIZES = ((2, 3, 4), (4, 2, 3))

#: s_g in [0.05, 0.3]: then eps = s_g^-2 - sigma_g^2 > 0 for z in [-2, 2] (sigma^2 <= 4), so a counterexample found
#: at a random point is a genuine one (see the module doc)
_S_DOMAIN = (0.05, 0.3)

_C = sp.Symbol("C")
_HALF = sp.Rational(1, 2)
_OVER = {"batchnorm": "the samples of the batch (one mu, sigma^2 per unit)",
         "layernorm": "the units of the layer (one mu, sigma^2 per sample)"}


# ----- one concrete instance: every array written out entry by entry -----------------------------------------------
def _matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}"))


def _column(name: str, rows: int) -> sp.Matrix:
    return sp.Matrix(rows, 1, lambda i, j: sp.Symbol(f"{name}_{i + 1}"))


def _group_matrix(name: str, shape: tuple[int, int], axis: int) -> sp.Matrix:
    """One symbol per statistics group: a column (one per unit) for axis 1, a row (one per sample) for axis 0."""
    rows, cols = shape
    if axis == 1:
        return sp.Matrix(rows, 1, lambda i, j: sp.Symbol(f"{name}_{i + 1}"))
    return sp.Matrix(1, cols, lambda i, j: sp.Symbol(f"{name}_{j + 1}"))


@dataclass(frozen=True)
class _Instance:
    """Batch or layer normalisation at one concrete size, written out from the forward forms."""

    kind: str
    shape: tuple[int, int]

    @property
    def axis(self) -> int:
        return STAT_AXIS[self.kind]

    @property
    def groups(self) -> int:
        return self.shape[1 - self.axis]

    def group(self, i: int, j: int) -> int:
        """The statistics group of entry (i, j): its unit for batch normalisation, its sample for layer."""
        return i if self.axis == 1 else j

    def representative(self, g: int) -> tuple[int, int]:
        """One entry of group g (where a per-group value is read off a broadcast matrix)."""
        return (g, 0) if self.axis == 1 else (0, g)

    def entries(self) -> list[tuple[int, int]]:
        return [(i, j) for i in range(self.shape[0]) for j in range(self.shape[1])]

    @property
    def s(self) -> list[sp.Symbol]:
        return [sp.Symbol(f"s_{g + 1}", positive=True) for g in range(self.groups)]

    @property
    def domain(self) -> dict[sp.Symbol, tuple[float, float]]:
        return {s: _S_DOMAIN for s in self.s}

    def arrays(self) -> dict[sp.Symbol, sp.Matrix]:
        rows, cols = self.shape
        return {z: _matrix("z", rows, cols), dy: _matrix("g", rows, cols), gamma: _column("gamma", rows),
                beta: _column("beta", rows)}

    def roots(self, variances: sp.Matrix) -> dict[sp.Expr, sp.Symbol]:
        """sigma_g^2 + eps -> s_g for every group, sigma_g^2 read off a broadcast (or per-group) matrix."""
        out = {}
        for g, s in enumerate(self.s):
            r, c = self.representative(g) if variances.shape == self.shape else ((g, 0) if self.axis == 1 else (0, g))
            out[variances[r, c] + eps] = s
        return out


def _rationalise(expr: sp.Expr, roots: Mapping[sp.Expr, sp.Symbol]) -> sp.Expr:
    """Every power of sigma_g^2 + eps replaced by the power of s_g = (sigma_g^2 + eps)^(-1/2) it equals."""

    def s_of(base: sp.Expr) -> sp.Symbol:
        if base in roots:
            return roots[base]
        for known, s in roots.items():
            if sp.expand(base - known) == 0:
                return s
        raise RuntimeError(f"a power of {base} that is no group's sigma^2 + eps")  # a bug here, not bad input

    out = expr.replace(lambda e: e.is_Pow and e.base.has(eps), lambda e: s_of(e.base) ** (-2 * e.exp))
    if out.has(eps):
        raise RuntimeError(f"eps left after rationalising: {out}")
    return out


def _compare(pairs: Sequence[tuple[sp.Expr, sp.Expr, str]], domain: Mapping[sp.Basic, tuple[float, float]],
             what: str) -> Check:
    """prove_equal on every (derived, form, where) pair; the weakest method decides the strength of the whole.

    A nonempty ``domain`` means the pairs were rationalised (the s_g of :func:`_rationalise`), which the Check says.
    """
    methods: list[str] = []
    strengths: list[Strength] = []
    for left, right, where in pairs:
        chk = prove_equal(left, right, domain=domain)
        if chk.holds is not True:
            strength = chk.strength or Strength.NUMERIC
            return Check(chk.holds, f"{strength.value}: {where}: {chk.method}", chk.detail,
                         counterexample=chk.counterexample, strength=strength)
        # prove_equal expands the difference first: "identical" there means the difference expands to 0
        method = chk.method.split(": ", 1)[-1]
        methods.append("the difference expands to 0" if method == "both sides identical" else method)
        strengths.append(chk.strength or Strength.NUMERIC)
    order = [Strength.NUMERIC, Strength.EXACT, Strength.SYMBOLIC]
    weakest = min(strengths, key=order.index) if strengths else Strength.SYMBOLIC
    how = ", ".join(sorted(set(methods)))
    detail = "(sigma^2 + eps)^(-1/2) = s per statistics group: a change of variables eps <-> s" if domain else ""
    return Check(True, f"{weakest.value}: every one of the {len(pairs)} {what}: {how}", detail, strength=weakest)


def _sizes_text(sizes: Sequence[tuple[int, ...]]) -> str:
    return ", ".join(str(tuple(s)) for s in sizes)


@cache
def _forward(kind: str, shape: tuple[int, int]) -> tuple[_Instance, dict[sp.Symbol, sp.Matrix], sp.Expr]:
    """The instance, every forward value written out, and C = sum_ij G_ij y_ij of the composed forward."""
    inst = _Instance(kind, shape)
    values = evaluate_forms(forward_forms(kind), inst.arrays(), shape, stat_axis=inst.axis)
    cost = sp.Add(*[values[dy][i, j] * values[y][i, j] for i, j in inst.entries()])
    return inst, values, cost


@cache
def _direct_dz(kind: str, shape: tuple[int, int]) -> sp.Matrix:
    """sympy.diff of the composed cost by every z_ij, rationalised (the independent witness for dC/dz)."""
    inst, values, cost = _forward(kind, shape)
    roots = inst.roots(values[var])
    Z = values[z]
    # only the terms holding z_ij can have a nonzero derivative by it (a third of them at (3, 4)): 3x faster
    return sp.Matrix(*shape, lambda i, j: _rationalise(sp.diff(_terms_with(cost, Z[i, j]), Z[i, j]), roots))


def _terms_with(expr: sp.Expr, x: sp.Symbol) -> sp.Expr:
    return sp.Add(*[t for t in sp.Add.make_args(expr) if t.has(x)])


@cache
def _chain_dz(kind: str, shape: tuple[int, int]) -> sp.Matrix:
    """The chain-rule dC/dz (:func:`chain_forms`) written out at the forward values, rationalised."""
    inst, values, _ = _forward(kind, shape)
    out = evaluate_forms(chain_forms(kind), values, shape, stat_axis=inst.axis)
    roots = inst.roots(values[var])
    return out[dz].applyfunc(lambda e: _rationalise(e, roots))


def check_dz_form(kind: str, form: sp.Expr) -> Check:
    """Is ``form`` (an array form for dC/dz) equal to the chain-rule result, every entry at every size of SIZES?

    The proof behind the claim ``<kind>.dz.compact``, open to any candidate (a planted wrong form is refuted here).
    """
    statistics_axis(kind)
    pairs = []
    for shape in SIZES:
        inst, values, _ = _forward(kind, shape)
        roots = inst.roots(values[var])
        candidate = evaluate(form, values, shape, stat_axis=inst.axis)
        chain = _chain_dz(kind, shape)
        pairs += [(chain[i, j], _rationalise(candidate[i, j], roots), f"entry ({i + 1},{j + 1}) at {shape}")
                  for i, j in inst.entries()]
    return _compare(pairs, _domain(kind), f"entries at (units, samples) = {_sizes_text(SIZES)}")


def _domain(kind: str) -> dict[sp.Symbol, tuple[float, float]]:
    out: dict[sp.Symbol, tuple[float, float]] = {}
    for shape in SIZES:
        out.update(_Instance(kind, shape).domain)
    return out


# ----- the local derivatives, each by sympy.diff of its definition ----------------------------------------------------
def _param_grads(kind: str) -> tuple[Check, Check, Check]:
    """dC/dbeta, dC/dgamma and dC/dx_hat from y = gamma x_hat + beta, x_hat an array of free symbols."""
    beta_pairs, gamma_pairs, xhat_pairs = [], [], []
    for shape in SIZES:
        inst = _Instance(kind, shape)
        env = inst.arrays()
        env[x_hat] = _matrix("xhat", *shape)
        ys = evaluate(gamma * x_hat + beta, env, shape, stat_axis=inst.axis)
        cost = sp.Add(*[env[dy][i, j] * ys[i, j] for i, j in inst.entries()])
        forms = evaluate_forms([*backward_forms(kind)[:2], chain_forms(kind)[0]], env, shape, stat_axis=inst.axis)
        for u in range(shape[0]):
            beta_pairs.append((sp.diff(cost, env[beta][u, 0]), forms[dbeta][u, 0], f"unit {u + 1} at {shape}"))
            gamma_pairs.append((sp.diff(cost, env[gamma][u, 0]), forms[dgamma][u, 0], f"unit {u + 1} at {shape}"))
        xhat_pairs += [(sp.diff(cost, env[x_hat][i, j]), forms[dx_hat][i, j], f"entry ({i + 1},{j + 1}) at {shape}")
                       for i, j in inst.entries()]
    sizes = _sizes_text(SIZES)
    return (_compare(beta_pairs, {}, f"units at (units, samples) = {sizes}"),
            _compare(gamma_pairs, {}, f"units at (units, samples) = {sizes}"),
            _compare(xhat_pairs, {}, f"entries at (units, samples) = {sizes}"))


@dataclass(frozen=True)
class _Staged:
    """x_hat as a function of z, mu and sigma^2 held as free symbols (mu, sigma^2 one per group), and D = dC/dx_hat."""

    inst: _Instance
    Z: sp.Matrix
    M: sp.Matrix
    V: sp.Matrix
    D: sp.Matrix

    @classmethod
    def at(cls, kind: str, shape: tuple[int, int]) -> _Staged:
        inst = _Instance(kind, shape)
        return cls(inst, _matrix("z", *shape), _group_matrix("mu", shape, inst.axis),
                   _group_matrix("v", shape, inst.axis), _matrix("d", *shape))

    def run(self, forms: Sequence[tuple[ArraySymbol, sp.Expr]]) -> dict[sp.Symbol, sp.Matrix]:
        env = {z: self.Z, mu: self.M, var: self.V, dx_hat: self.D}
        return evaluate_forms(forms, env, self.inst.shape, stat_axis=self.inst.axis)

    def group_symbol(self, M: sp.Matrix, g: int) -> sp.Symbol:
        return M[g, 0] if self.inst.axis == 1 else M[0, g]



def _through_stats(kind: str) -> dict[str, Check]:
    """dC/dsigma^2, dx_hat/dmu, dsigma^2/dmu and dC/dmu by sympy.diff, mu and sigma^2 free before they are tied."""
    pairs: dict[str, list] = {"dvar": [], "dxhat_dmu": [], "dvar_dmu": [], "dmu": []}
    chain = dict(chain_forms(kind))
    for shape in SIZES:
        st = _Staged.at(kind, shape)
        inst = st.inst
        free = st.run([(centred, z - mu), (inv_std, (var + eps) ** -_HALF), (x_hat, centred * inv_std)])
        cost = sp.Add(*[st.D[i, j] * free[x_hat][i, j] for i, j in inst.entries()])
        roots_free = inst.roots(st.V)
        dvar_form = st.run([(centred, z - mu), (inv_std, (var + eps) ** -_HALF), (dvar, chain[dvar])])
        for g in range(inst.groups):
            r, c = inst.representative(g)
            v_g, mu_g = st.group_symbol(st.V, g), st.group_symbol(st.M, g)
            pairs["dvar"].append((_rationalise(sp.diff(cost, v_g), roots_free),
                                  _rationalise(dvar_form[dvar][r, c], roots_free), f"group {g + 1} at {shape}"))
            for i, j in inst.entries():
                if inst.group(i, j) == g:
                    pairs["dxhat_dmu"].append((_rationalise(sp.diff(free[x_hat][i, j], mu_g), roots_free),
                                               _rationalise(-free[inv_std][i, j], roots_free),
                                               f"entry ({i + 1},{j + 1}) at {shape}"))
        # sigma^2 as the function of z and mu it is: its derivative by mu, and the total dC/dmu through it
        tied = evaluate_forms([(centred, z - mu), (var, StatSum(centred**2) / count)], {z: st.Z, mu: st.M}, shape,
                              stat_axis=inst.axis)
        share = evaluate(-2 * StatSum(centred) / count, tied, shape, stat_axis=inst.axis)
        tied = evaluate_forms([(inv_std, (var + eps) ** -_HALF), (x_hat, centred * inv_std)],
                              {**tied, dx_hat: st.D}, shape, stat_axis=inst.axis)
        total = sp.Add(*[st.D[i, j] * tied[x_hat][i, j] for i, j in inst.entries()])
        staged = evaluate_forms([(dvar, chain[dvar]), (dmu, chain[dmu])], tied, shape, stat_axis=inst.axis)
        roots_tied = inst.roots(tied[var])
        for g in range(inst.groups):
            r, c = inst.representative(g)
            mu_g = st.group_symbol(st.M, g)
            pairs["dvar_dmu"].append((sp.diff(tied[var][r, c], mu_g), share[r, c], f"group {g + 1} at {shape}"))
            pairs["dmu"].append((_rationalise(sp.diff(total, mu_g), roots_tied),
                                 _rationalise(staged[dmu][r, c], roots_tied), f"group {g + 1} at {shape}"))
    sizes = _sizes_text(SIZES)
    domain = _domain(kind)
    return {
        "dvar": _compare(pairs["dvar"], domain, f"groups at (units, samples) = {sizes}"),
        "dxhat_dmu": _compare(pairs["dxhat_dmu"], domain, f"entries at (units, samples) = {sizes}"),
        "dvar_dmu": _compare(pairs["dvar_dmu"], {}, f"groups at (units, samples) = {sizes}"),
        "dmu": _compare(pairs["dmu"], domain, f"groups at (units, samples) = {sizes}"),
    }


def _at_mean(kind: str) -> tuple[Check, Check]:
    """StatSum(centred) = 0 once mu is the mean, and so dC/dmu loses its share through sigma^2."""
    zero_pairs, mu_pairs = [], []
    chain = chain_forms(kind)
    for shape in SIZES:
        inst, values, _ = _forward(kind, shape)
        roots = inst.roots(values[var])
        sums = evaluate(StatSum(centred), values, shape, stat_axis=inst.axis)
        staged = evaluate_forms(chain[:3], values, shape, stat_axis=inst.axis)
        short = evaluate(-StatSum(dx_hat) * inv_std, staged, shape, stat_axis=inst.axis)
        for g in range(inst.groups):
            r, c = inst.representative(g)
            zero_pairs.append((sums[r, c], sp.Integer(0), f"group {g + 1} at {shape}"))
            mu_pairs.append((_rationalise(staged[dmu][r, c], roots), _rationalise(short[r, c], roots),
                             f"group {g + 1} at {shape}"))
    sizes = _sizes_text(SIZES)
    return (_compare(zero_pairs, {}, f"groups at (units, samples) = {sizes}"),
            _compare(mu_pairs, _domain(kind), f"groups at (units, samples) = {sizes}"))


def _dz_check(kind: str) -> Check:
    """The chain-rule dC/dz against sympy.diff of the fully composed cost, every entry."""
    pairs = []
    for shape in SIZES:
        inst = _Instance(kind, shape)
        direct, chain = _direct_dz(kind, shape), _chain_dz(kind, shape)
        pairs += [(direct[i, j], chain[i, j], f"entry ({i + 1},{j + 1}) at {shape}") for i, j in inst.entries()]
    return _compare(pairs, _domain(kind), f"entries at (units, samples) = {_sizes_text(SIZES)}")


def _d(f: sp.Basic, x: sp.Basic) -> sp.Derivative:
    return sp.Derivative(f, x, evaluate=False)


def _step(d: Derivation, label: str, lhs: sp.Basic, rhs: sp.Basic, check: Check, justification: str,
          depends: Sequence[str], note: str = "") -> None:
    d.add(Step(label, lhs, rhs, StepKind.DERIVED, justification, check, tuple(depends), note))


@cache
def derive_normalisation(kind: str) -> Derivation:
    """The backward of batch or layer normalisation from its definition, step by step (see the module doc)."""
    axis = statistics_axis(kind)
    name = {"batchnorm": "batch normalisation", "layernorm": "layer normalisation"}[kind]
    sizes = _sizes_text(SIZES)
    d = Derivation(f"{name}: the backward derived from the definition", role=Role.NORMALISATION, subject=kind,
                   summary=f"statistics over {_OVER[kind]}, StatSum along axis {axis}; every derivative by "
                           f"sympy.diff at (units, samples) = {sizes}, every entry compared")
    k = kind
    stat = f"StatSum adds up along axis {axis}, over {_OVER[kind]}; N is the number of entries it adds"
    why = {mu: ("the mean", stat), centred: ("z centred on its mean", ""),
           var: ("the biased variance (divides by N, as torch trains)", ""),
           inv_std: ("one over the standard deviation, eps keeping it finite", ""),
           x_hat: ("z normalised", ""), y: ("scaled and shifted per unit", "")}
    for sym, form in forward_forms(kind):
        d.define(f"{k}.{sym.name}", sym, form, why[sym][0], note=why[sym][1])
    i, j = sp.symbols("i j", integer=True, positive=True)
    dyb, yb = sp.IndexedBase("dy"), sp.IndexedBase("y")
    d.define(f"{k}.cost", _C, sp.Sum(dyb[i, j] * yb[i, j], (i, 1, sp.Symbol("n")), (j, 1, sp.Symbol("m"))),
             "a cost with gradient dy = dC/dy (its first derivatives through y are those of every such "
             "cost)")
    grads = backward_forms(kind)
    chain = chain_forms(kind)
    beta_chk, gamma_chk, xhat_chk = _param_grads(kind)
    how = f"sympy.diff of C with y = gamma x_hat + beta written out at (units, samples) = {sizes}"
    _step(d, f"{k}.dbeta", _d(_C, beta), grads[1][1], beta_chk, how, (f"{k}.y", f"{k}.cost"))
    _step(d, f"{k}.dgamma", _d(_C, gamma), grads[0][1], gamma_chk, how, (f"{k}.y", f"{k}.cost"))
    _step(d, f"{k}.dx_hat", _d(_C, x_hat), chain[0][1], xhat_chk, how, (f"{k}.y", f"{k}.cost"))
    stats = _through_stats(kind)
    _step(d, f"{k}.dvar", _d(_C, var), chain[1][1], stats["dvar"],
          "sympy.diff of C through x_hat = centred (sigma^2 + eps)^(-1/2), sigma^2 one free symbol per group",
          (f"{k}.x_hat", f"{k}.dx_hat"))
    _step(d, f"{k}.dx_hat_dmu", _d(x_hat, mu), -inv_std, stats["dxhat_dmu"],
          "sympy.diff of x_hat = (z - mu)(sigma^2 + eps)^(-1/2) by mu, sigma^2 held fixed (the direct path)",
          (f"{k}.x_hat",))
    _step(d, f"{k}.dvar_dmu", _d(var, mu), -2 * StatSum(centred) / count, stats["dvar_dmu"],
          "sympy.diff of sigma^2 = StatSum((z - mu)^2) / N by mu", (f"{k}.var",))
    _step(d, f"{k}.dmu", _d(_C, mu), chain[2][1], stats["dmu"],
          "directly (through x_hat) and through sigma^2: sympy.diff of C with sigma^2 the function of z and mu it is",
          (f"{k}.dx_hat_dmu", f"{k}.dvar_dmu", f"{k}.dvar"))
    zero_chk, mu_chk = _at_mean(kind)
    _step(d, f"{k}.centred_sum", StatSum(centred), sp.Integer(0), zero_chk,
          "the centred values sum to 0 once mu is their mean: written out at the forward values", (f"{k}.centred",))
    _step(d, f"{k}.dmu.mean", _d(_C, mu), -StatSum(dx_hat) * inv_std, mu_chk,
          "the share through sigma^2 vanishes (StatSum(centred) = 0)", (f"{k}.dmu", f"{k}.centred_sum"))
    _step(d, f"{k}.dz", _d(_C, z), chain[3][1], _dz_check(kind),
          "chain rule through x_hat, sigma^2 and mu (dx_hat/dz = inv_std, dsigma^2/dz = 2 centred / N, dmu/dz = 1/N);"
          " checked against sympy.diff of C composed with the whole forward, by every z_ij",
          (f"{k}.dx_hat", f"{k}.dvar", f"{k}.dmu"))
    compact = ("CS231n's compact form" if axis == 1 else "the compact form (gamma inside the sums: it varies along "
               "the units they run over)")
    d.add(Step(f"{k}.dz.compact", _d(_C, z), grads[2][1], StepKind.CLAIM,
               f"{compact}, in forward quantities only, compared with the chain-rule result",
               check_dz_form(kind, grads[2][1]), (f"{k}.dz",)))
    return d


# ----- a bias feeding batch normalisation -----------------------------------------------------------------------------
@cache
def derive_bias_before_norm() -> Derivation:
    """With z = W a + b feeding batch normalisation, dC/db = 0 identically, because dC/dz sums to 0 over the batch.

    Layer normalisation has no such zero (its dC/dz sums to 0 down each sample, over the units, not over the
    batch), so this derivation is about batch normalisation only.
    """
    kind = "batchnorm"
    d = Derivation("a bias before batch normalisation gets no gradient", role=Role.NORMALISATION,
                   subject="bias_before_batchnorm",
                   summary=f"sympy.diff at (units, samples) = {_sizes_text(SIZES)} and (units, previous width, "
                           f"samples) = {_sizes_text(BIAS_SIZES)}")
    n, k, m = sp.symbols("n k m", integer=True, positive=True)
    W, A, b = sp.MatrixSymbol("W", n, k), sp.MatrixSymbol("A", k, m), sp.MatrixSymbol("b", n, 1)
    d.define("bias_bn.z", z, W * A + b * sp.OneMatrix(1, m), "the dense layer feeding batch normalisation")
    pairs = []
    for shape in SIZES:
        direct = _direct_dz(kind, shape)
        for u in range(shape[0]):
            pairs.append((sp.Add(*direct.row(u)), sp.Integer(0), f"unit {u + 1} at {shape}"))
    _step(d, "bias_bn.dz_sum", StatSum(dz), sp.Integer(0),
          _compare(pairs, _domain(kind), f"units at (units, samples) = {_sizes_text(SIZES)}"),
          "sum over the batch of sympy.diff(C, z_ij) (for batch normalisation StatSum is the batch sum): every "
          "term of the compact form sums to 0, as StatSum(x_hat) = 0",
          ("batchnorm.dz",))
    zero = []
    for units, width, samples in BIAS_SIZES:
        Wm, Am, bm = _matrix("w", units, width), _matrix("a", width, samples), _column("b", units)
        env = {**_Instance(kind, (units, samples)).arrays(), z: Wm * Am + bm * sp.ones(1, samples)}
        values = evaluate_forms(forward_forms(kind), env, (units, samples), stat_axis=STAT_AXIS[kind])
        cost = sp.Add(*[env[dy][i, j] * values[y][i, j] for i in range(units) for j in range(samples)])
        zero += [(sp.diff(cost, bm[u, 0]), sp.Integer(0), f"b_{u + 1} at {(units, width, samples)}")
                 for u in range(units)]
    exactly = all(raw == 0 for raw, _, _ in zero)
    _step(d, "bias_bn.db", _d(_C, b), sp.Integer(0),
          _compare(zero, {}, f"bias entries at (units, previous width, samples) = {_sizes_text(BIAS_SIZES)}"),
          "sympy.diff of C composed with z = W a + b and batch normalisation, by every b_j: dC/db = BatchSum(dz) "
          "= StatSum(dz) = 0", ("bias_bn.z", "bias_bn.dz_sum"),
          note=("sympy.diff returns exactly 0 for every entry: " if exactly else "")
          + "the mean removes b (z - mu does not depend on it). A bias before batch normalisation is redundant "
            "(beta takes its place); under layer normalisation it is not")
    return d
