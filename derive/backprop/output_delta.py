"""The output error δ^L_j = ∂C_x/∂z^L_j for a (output activation, cost) pair, derived.

Element-wise activations (BP1): a^L_j depends on z^L_j alone, so sympy.diff of C_x(f(z^L)) gives
δ^L_j = ∂C_x/∂a^L_j · f'(z^L_j); it is checked against that product of the two derived factors.

Softmax is not element-wise: a^L_i depends on every z^L_j, so δ^L_j = Σ_i ∂C_x/∂a^L_i ∂a^L_i/∂z^L_j goes through the
full Jacobian, at a concrete width (exhaustively, every j).

Where a textbook fused form exists (δ^L = a − y for sigmoid+bce, softmax+cce given Σ_i y_i = 1, identity+quadratic)
it is a claim compared against the derived δ^L.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from derive.core.proof import Check, prove_equal
from derive.core.steps import Derivation, Role, Step
from derive.core.symbols import a, delta, y, z
from derive.functions.activations import derive_activation, derive_softmax, zs
from derive.functions.costs import L, derive_cost, n_out, unit_j
from numeric.functions import COSTS, TargetKind
from numeric.spec import ActSpec

__all__ = ["FUSED", "OutputDelta", "derive_output_delta"]

#: (activation, cost) pairs whose δ^L has the textbook form a − y (a claim, checked), and the condition on y.
FUSED = {
    ("sigmoid", "bce"): "",
    ("softmax", "cce"): "the targets of each sample sum to 1 (one-hot or a probability vector)",
    ("identity", "quadratic"): "",
}

SOFTMAX_WIDTH = 3


@dataclass
class OutputDelta:
    """δ^L for one pair: ``delta_L`` in terms of z^L_j, y_j (element-wise) or per unit at width 3 (softmax)."""

    act: ActSpec
    cost: str
    delta_L: sp.Expr | list[sp.Expr]
    fused: bool
    condition: str
    derivation: Derivation


@cache
def derive_output_delta(act: ActSpec, cost: str) -> OutputDelta:
    """delta^L for the pair (``act`` output, ``cost``): BP1 for an element-wise activation, else the Jacobian."""
    if not act.entry.elementwise:
        return _softmax_delta(act, cost)
    d = Derivation(f"output error delta^L for {act} output and {cost} cost", role=Role.OUTPUT_ERROR,
                   subject=(str(act), cost))
    f = derive_activation(act)
    c = derive_cost(cost)
    zj, aj, yj = z[L, unit_j], a[L, unit_j], y[unit_j]
    f_at = f.f.xreplace({zs: zj})
    fprime_at = f.fprime.xreplace({zs: zj})
    d.define("out.forward", aj, f_at, f"a^L_j = {act}(z^L_j)")
    bp1 = (c.dC_da.xreplace({aj: f_at}) * fprime_at)
    labels = COSTS[cost].target is not TargetKind.REAL  # targets in [0, 1]
    domain = {zj: (-3.0, 3.0), yj: (0.0, 1.0)} if labels else {zj: (-3.0, 3.0)}
    if f.f.has(sp.Piecewise):
        raw, check, how = _delta_written_out(f, c, fprime_at, domain)
    else:
        k = c.C.limits[0][0]
        C_of_z = c.C.xreplace({a[L, k]: f.f.xreplace({zs: z[L, k]})})
        raw = sp.diff(C_of_z, zj).doit()
        raw = raw.replace(lambda e: isinstance(e, sp.Piecewise) and len(e.args) == 2 and e.args[1][0] == 0
                          and e.args[1][1] is sp.true and e.args[0][1].has(n_out), lambda e: e.args[0][0])
        check = prove_equal(raw, bp1, domain=domain)
        how = "sympy.diff of C_x composed with the activation, with respect to z^L_j"
    if raw.has(sp.Heaviside):
        raw = raw.replace(lambda e: isinstance(e, sp.Heaviside), lambda e: sp.Heaviside(e.args[0], 0))
    d.add(Step("out.delta", sp.Derivative(sp.Symbol("C_x"), zj), raw, "derived", how, check,
               ("out.forward", f"{cost}.diff", f"{act.name}.diff"),
               note="checked against dC/da^L_j * f'(z^L_j) (BP1) built from the two derived factors"))
    fused = (act.name, cost) in FUSED
    if fused:
        d.claim("out.fused", delta[L, unit_j], aj - yj, raw, "textbook fused form delta^L = a^L - y",
                depends=("out.delta",), substitutions={aj: f_at}, domain=domain)
    return OutputDelta(act, cost, raw, fused, FUSED.get((act.name, cost), ""), d)


def _delta_written_out(f, c, fprime_at, domain, width: int = 3):
    """delta^L for a piecewise activation, with the cost's sum written out at ``width`` outputs.

    Summing Piecewise terms over a symbolic range sends SymPy's Sum.doit into unbounded recursion (eval_sum
    keeps splitting the range), so the sum is expanded term by term; n stays symbolic inside the terms (mse).
    Every unit j = 1..width is differentiated and checked; unit 1's result, renamed to j, is the general form
    because every term of the sum has the same shape.
    """
    k = c.C.limits[0][0]
    term = c.C.function
    explicit = sum(term.xreplace({k: q}).xreplace({a[L, q]: f.f.xreplace({zs: z[L, q]})})
                   for q in range(1, width + 1))
    aj, zj, yj = a[L, unit_j], z[L, unit_j], y[unit_j]
    check = None
    raw = None
    for q in range(1, width + 1):
        direct = sp.diff(explicit, z[L, q])
        at_q = {zj: z[L, q], yj: y[q]}
        bp1_q = (c.dC_da.xreplace({aj: f.f.xreplace({zs: z[L, q]})}) * fprime_at).xreplace(at_q)
        chk = prove_equal(direct, bp1_q, domain={z[L, q]: domain[zj], **({y[q]: domain[yj]} if yj in domain else {})})
        if chk.holds is not True:
            check = Check(chk.holds, f"unit j = {q}: {chk.method}", counterexample=chk.counterexample)
            break
        if q == 1:
            raw = direct.xreplace({z[L, 1]: zj, y[1]: yj})
        check = Check(True, f"every j = 1..{width} equals dC/da^L_j * f'(z^L_j); unit {q}: {chk.method}")
    how = f"sympy.diff of C_x composed with the activation, the sum written out at width {width}"
    return raw if raw is not None else direct, check, how


def _softmax_delta(act: ActSpec, cost: str) -> OutputDelta:
    n = SOFTMAX_WIDTH
    sm = derive_softmax(n)
    c = derive_cost(cost)
    d = Derivation(f"output error delta^L for softmax output and {cost} cost (width {n}, full Jacobian)",
                   role=Role.OUTPUT_ERROR, subject=(str(act), cost))
    ys = [y[j] for j in range(1, n + 1)]
    a_sub = {a[L, k]: sm.s[k - 1] for k in range(1, n + 1)}
    C_concrete = c.C.subs(n_out, n).doit().xreplace(a_sub)
    deltas = []
    ok = True
    for j in range(1, n + 1):
        direct = sp.diff(C_concrete, sm.z[j - 1])
        dC_da = [c.dC_da.subs({unit_j: i, n_out: n}).xreplace(a_sub) for i in range(1, n + 1)]
        chain = sum(dC_da[i] * sm.jacobian[i, j - 1] for i in range(n))
        chk = prove_equal(direct, chain, domain={yi: (0.0, 1.0) for yi in ys})
        ok = ok and chk.holds is True
        deltas.append(direct)
    i = sp.Symbol("i", integer=True, positive=True)
    jacobian_sum = sp.Sum(sp.Derivative(sp.Symbol("C_x"), a[L, i], evaluate=False)
                          * sp.Derivative(a[L, i], z[L, unit_j], evaluate=False), (i, 1, n_out))
    d.add(Step("out.delta", delta[L, unit_j], jacobian_sum, "derived",
               f"sympy.diff of C_x(softmax(z^L)) for every j = 1..{n}, compared with the sum over the full "
               "Jacobian (a_i depends on every z_j)",
               Check(ok, f"every j = 1..{n}: direct derivative equals the Jacobian sum"), ("softmax.jacobian_width",)))
    fused = (act.name, cost) in FUSED
    if fused:
        # Σ_i y_i = 1 is a condition, substituted by hand: y_n = 1 - Σ_{i<n} y_i.
        cond = {ys[-1]: 1 - sum(ys[:-1])}
        bad = None
        for j in range(1, n + 1):
            chk = prove_equal(deltas[j - 1].xreplace(cond), (sm.s[j - 1] - ys[j - 1]).xreplace(cond),
                              domain={yi: (0.0, 0.5) for yi in ys})
            if chk.holds is not True:
                bad = chk
                break
        rest = " + ".join(f"y_{q}" for q in range(1, n))
        check = bad or Check(True, f"every j = 1..{n}, with y_{n} = 1 - ({rest}) substituted")
        d.add(Step("out.fused", delta[L, unit_j], a[L, unit_j] - y[unit_j], "claim",
                   "textbook fused form delta^L = a^L - y, given that the targets sum to 1", check, ("out.delta",),
                   note=FUSED[(act.name, cost)]))
    return OutputDelta(act, cost, deltas, fused, FUSED.get((act.name, cost), ""), d)
