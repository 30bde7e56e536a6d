"""Costs, each defined once as a SymPy expression, with ∂C/∂a derived for every output width.

A cost is defined per sample on the output layer, in index form over n outputs (``Sum`` over k = 1..n), so the
derivative ∂C/∂a^L_j comes out of ``sympy.diff`` for *all* widths at once; it is cross-checked by instantiating the
index form at width 3 and differentiating there, and the textbook form (a_j − y_j, (a_j − y_j)/(a_j(1 − a_j)), ...)
is a claim compared against it.

bce is not written down: it is **derived** as the negative log of the Bernoulli likelihood a^y (1 − a)^{1−y}.
The batch reduction (mean or sum over samples) belongs to the batch forms of the backprop derivation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from derive.core.proof import Check, Strength, prove_equal
from derive.core.steps import Derivation, Role, Step
from derive.core.symbols import a, y
from derive.functions.activations import first_branch
from derive.functions.registry import COSTS, SymCost

__all__ = ["CostResult", "L", "derive_cost", "n_out", "unit_j"]

L = sp.Symbol("L", integer=True, positive=True)
n_out = sp.Symbol("n", integer=True, positive=True)
unit_j = sp.Symbol("j", integer=True, positive=True)
_k = sp.Symbol("k", integer=True, positive=True)
C_x = sp.Symbol("C_x")

#: a in (0, 1) and y in [0, 1] where logs appear; other costs take any real values
_PROB_DOMAIN = {"a": (0.05, 0.95), "y": (0.0, 1.0)}

@dataclass
class CostResult:
    """A cost with its derivation: ``C`` (index form, all widths) and ``dC_da`` in terms of a^L_j, y_j, n."""

    name: str
    C: sp.Expr
    dC_da: sp.Expr
    claim: sp.Expr
    derivation: Derivation

    def domain(self) -> dict:
        """Intervals for random checks: probabilities for the log costs."""
        if not COSTS[self.name].log_domain:
            return {}
        aj, yj = a[L, unit_j], y[unit_j]
        return {aj: _PROB_DOMAIN["a"], yj: _PROB_DOMAIN["y"]}


def _sum(term: sp.Expr) -> sp.Expr:
    return sp.Sum(term, (_k, 1, n_out))


@cache
def derive_cost(name: str) -> CostResult:
    """Derive ∂C_x/∂a^L_j for the named cost (see module doc)."""
    if name not in COSTS:
        raise ValueError(f"unknown cost {name!r}")
    entry = COSTS[name]
    ak, yk = a[L, _k], y[_k]
    aj, yj = a[L, unit_j], y[unit_j]
    d = Derivation(f"{name} cost and its derivative", role=Role.COST, subject=name)
    if entry.likelihood is not None:
        term = _derive_from_likelihood(d, entry, ak, yk)
        what = "the negative log-likelihood above, summed over the n independent outputs"
    else:
        term = entry.term(ak, yk, n_out)
        what = "definition (per sample, n outputs)"
    C = _sum(term)
    d.define(f"{name}.def", C_x, C, what)
    raw = first_branch(sp.diff(C, aj).doit())
    raw = sp.simplify(first_branch(raw.doit())) if raw.has(sp.Sum) else raw
    d.add(Step(f"{name}.diff", sp.Derivative(C_x, aj), raw, "derived",
               "differentiated the index-form definition; the Kronecker delta collapses the sum",
               _check_at_width(C, raw, entry), (f"{name}.def",)))
    claim = entry.derivative_claim(aj, yj, n_out)
    domain = {aj: _PROB_DOMAIN["a"], yj: _PROB_DOMAIN["y"]} if entry.log_domain else None
    d.claim(f"{name}.dC_da", sp.Derivative(C_x, aj), claim, raw, "textbook form of the derivative",
            depends=(f"{name}.diff",), domain=domain)
    return CostResult(name, C, raw, claim, d)


def _derive_from_likelihood(d: Derivation, entry: SymCost, ak: sp.Expr, yk: sp.Expr) -> sp.Expr:
    """A cost as the negative log-likelihood of its targets: bce is -ln(a^y (1-a)^(1-y)) = -[y ln a + (1-y) ln(1-a)]."""
    name = entry.name
    P = sp.Symbol("P_k")
    likelihood = entry.likelihood(ak, yk)
    d.define(f"{name}.likelihood", P, likelihood, entry.likelihood_text)
    nll = -sp.log(likelihood)
    c_k = sp.Symbol("C_k")
    d.define(f"{name}.nll", c_k, nll, "the cost of output k is the negative log-likelihood")
    ap = sp.Symbol("a_p", positive=True)
    yp = sp.Symbol("y_p", positive=True)
    # ln(x^y) = y ln x needs x > 0: expand with positive stand-ins, then restore the indexed names
    expanded = sp.expand_log(nll.xreplace({ak: ap, yk: yp}), force=True).xreplace({ap: ak, yp: yk})
    domain = {ak: _PROB_DOMAIN["a"], yk: _PROB_DOMAIN["y"]}
    d.add(Step(f"{name}.expand", c_k, expanded, "derived",
               "log rules ln(xy) = ln x + ln y, ln(x^p) = p ln x (0 < a < 1)",
               _log_rule_check(nll, expanded, ak, yk, domain), (f"{name}.nll",)))
    if entry.textbook is None:
        return expanded
    textbook = entry.textbook(ak, yk)
    d.claim(f"{name}.textbook", c_k, textbook, expanded, f"the textbook form of {entry.long_name}",
            depends=(f"{name}.expand",), domain=domain)
    return textbook


def _log_rule_check(nll: sp.Expr, expanded: sp.Expr, ak: sp.Expr, yk: sp.Expr, domain: dict) -> Check:
    """Prove the log rules symbolically under the stated domain 0 < a < 1, y real.

    ln(x^p) = p ln x holds for x > 0 and real p, so the step is replaced onto positive stand-ins for a and 1 - a
    (and a real y), where SymPy's log expansion applies without ``force``; numerical evidence on the original
    domain remains only if that does not decide it.
    """
    a_pos, b_pos = sp.Symbol("a_pos", positive=True), sp.Symbol("b_pos", positive=True)
    y_real = sp.Symbol("y_real", real=True)
    stand_ins = {ak: a_pos, 1 - ak: b_pos, yk: y_real}
    left, right = nll.xreplace(stand_ins), expanded.xreplace(stand_ins)
    if not left.has(ak) and not right.has(ak):
        chk = prove_equal(left, right, domain={a_pos: _PROB_DOMAIN["a"], b_pos: _PROB_DOMAIN["a"],
                                               y_real: _PROB_DOMAIN["y"]})
        if chk.holds is True and chk.strength is Strength.SYMBOLIC:
            how = chk.method.removeprefix("symbolic: ")
            return Check(True, f"symbolic: log expansion under a > 0, 1 - a > 0, y real ({how})",
                         "assumes 0 < a < 1 (so a and 1 - a are positive) and real y: a and 1 - a replaced by "
                         "positive symbols", strength=Strength.SYMBOLIC)
    return prove_equal(nll, expanded, domain=domain)


def _check_at_width(C: sp.Expr, raw: sp.Expr, entry: SymCost, width: int = 3) -> Check:
    """Instantiate the index-form cost at n = width, differentiate there, compare with the all-widths result."""
    for j in range(1, width + 1):
        concrete = C.subs(n_out, width).doit()
        direct = sp.diff(concrete, a[L, j])
        general = raw.subs({unit_j: j, n_out: width})
        domain = {a[L, k]: _PROB_DOMAIN["a"] for k in range(1, width + 1)} if entry.log_domain else {}
        domain.update({y[k]: _PROB_DOMAIN["y"] for k in range(1, width + 1)} if entry.log_domain else {})
        chk = prove_equal(general, direct, domain=domain)
        if chk.holds is not True:
            return Check(False, f"instantiated at n = {width}, output {j}: {chk.method}",
                         counterexample=chk.counterexample)
    return Check(True, f"instantiated at n = {width}: equals the derivative taken at that width, every output")
