"""L2 regularisation and the SGD update, SymPy side: the gradient of the penalty and weight decay, derived.

The SymPy half of :mod:`numeric.penalty` (paired by ``kind``). :func:`derive_l2` differentiates
C = C_0 + (lambda / 2n) sum_{j,k} (w^l_{jk})^2 in index form with symbolic widths (Nielsen eq. 87), C_0 an undefined
function: dC/dw = dC_0/dw + (lambda / n) w, and dC/db = dC_0/db (biases are not regularised). C_0 depends on every
weight and bias; a partial derivative holds all the others fixed, so C_0 is written as a function of the entries it is
differentiated by. :func:`derive_sgd_update` substitutes that gradient into w -> w - eta dC/dw and collects it into
Nielsen's weight-decay form (eq. 93), (1 - eta lambda / n) w - eta dC_0/dw.

Comparisons with an undefined C_0 replace each of its derivatives by a free symbol: C_0 is arbitrary, so its
derivative at a point can be any number, and an identity that holds for every value of that symbol holds for every
C_0 (and a counterexample at some value is one for some C_0). This makes planted wrong forms refutable, where
``prove_equal`` alone can only leave an undefined function undecided.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

import sympy as sp

from derive.core.proof import Check, prove_equal
from derive.core.steps import Derivation, Role, Step, StepKind
from derive.core.symbols import b as b_base
from derive.core.symbols import l as layer
from derive.core.symbols import w as w_base
from derive.functions.activations import first_branch
from derive.layers.arrays import ArraySymbol
from numeric.errors import BadInput

__all__ = ["L2Sym", "W", "b", "check_gradient_form", "derive_l2", "derive_sgd_update", "eta", "gradient_forms", "lam",
           "n_train", "nabla0_W", "nabla_W", "nabla_b", "update_forms"]

W = ArraySymbol("W")
#: dC_0/dW, the gradient of the unregularised cost (batch-averaged)
nabla0_W = ArraySymbol("nabla0_W")
nabla_W = ArraySymbol("nabla_W")
b = ArraySymbol("b")
nabla_b = ArraySymbol("nabla_b")
eta = ArraySymbol("eta")
lam = sp.Symbol("lambda", nonnegative=True)
n_train = sp.Symbol("n", positive=True, integer=True)

#: the widths the index-form result is instantiated at, as a cross-check (all distinct)
SIZES = ((2, 3), (3, 2))

_j, _k, _p, _q, _r = sp.symbols("j k p q r", integer=True, positive=True)
_n_out, _n_in = sp.symbols("n_l n_lm1", integer=True, positive=True)
_C = sp.Symbol("C")
_C0 = sp.Function("C_0")
#: the new values after one step
_W_new, _b_new = sp.Symbol("W'"), sp.Symbol("b'")


def gradient_forms() -> list[tuple[ArraySymbol, sp.Expr]]:
    """dC/dW with the L2 term (derived by :func:`derive_l2`); the bias gradient is dC_0/db unchanged."""
    return [(nabla_W, nabla0_W + lam / n_train * W)]


def update_forms(l2: bool) -> list[tuple[ArraySymbol, sp.Expr]]:
    """One SGD step, nabla the batch-averaged gradient: with L2 the derived weight-decay form (Nielsen eq. 93)."""
    rule = (1 - eta * lam / n_train) * W - eta * nabla0_W if l2 else W - eta * nabla_W
    return [(W, rule), (b, b - eta * nabla_b)]


def _cost(p: Any, q: Any, r: Any) -> sp.Expr:
    """C = C_0 + (lambda / 2n) sum_{j,k} (w^l_{jk})^2, C_0 as a function of w^l_{pq} and b^l_r (the others fixed)."""
    c0 = _C0(w_base[layer, p, q], b_base[layer, r])
    return c0 + lam / (2 * n_train) * sp.Sum(w_base[layer, _j, _k] ** 2, (_j, 1, _n_out), (_k, 1, _n_in))


def _same(derived: sp.Expr, claimed: sp.Expr) -> Check:
    """prove_equal with every derivative of C_0 replaced by a free symbol (see the module doc)."""
    both = sp.Tuple(derived, claimed)
    derivs = sorted(both.atoms(sp.Derivative), key=sp.default_sort_key)
    free = {dv: sp.Symbol(f"g_{i}") for i, dv in enumerate(derivs)}
    check = prove_equal(derived.xreplace(free), claimed.xreplace(free))
    if derivs:
        check.detail = (check.detail + "; " if check.detail else "") + "each derivative of C_0 a free symbol"
    return check


@cache
def _index_gradients() -> tuple[sp.Expr, sp.Expr]:
    """dC/dw^l_{pq} and dC/db^l_r in index form (symbolic widths), range guards resolved (first branch)."""
    cost = _cost(_p, _q, _r)
    dw = first_branch(first_branch(sp.diff(cost, w_base[layer, _p, _q]).doit()))
    db = first_branch(first_branch(sp.diff(cost, b_base[layer, _r]).doit()))
    return dw, db


def _instantiated(raw: sp.Expr, entry: sp.Indexed) -> Check:
    """The index-form result against sympy.diff of the cost written out at each of SIZES, every entry.

    Entry (p, q) differentiates by w^l_pq or b^l_p (r = p), C_0 taken as a function of those two.
    """
    count = 0
    for rows, cols in SIZES:
        for p in range(1, rows + 1):
            for q in range(1, cols + 1):
                at = {_p: p, _q: q, _r: p}
                written = _cost(p, q, p).subs({_n_out: rows, _n_in: cols}).doit()
                chk = _same(sp.diff(written, entry.subs(at)), raw.subs(at))
                if chk.holds is not True:
                    return Check(chk.holds, f"entry ({p},{q}) at widths {(rows, cols)}: {chk.method}",
                                 counterexample=chk.counterexample, strength=chk.strength)
                count += 1
    sizes = ", ".join(str(s) for s in SIZES)
    return Check(True, f"symbolic: instantiated at (n_l, n_(l-1)) = {sizes}, each of the {count} entries equals "
                       "sympy.diff of the written-out cost")


def check_gradient_form(form: sp.Expr) -> Check:
    """Is ``form`` (an array form for dC/dW in W, nabla0_W, lambda, n) the derived gradient, at every entry?"""
    dw, _ = _index_gradients()
    w_pq = w_base[layer, _p, _q]
    dc0 = sp.Derivative(_C0(w_pq, b_base[layer, _r]), w_pq)
    return _same(dw, form.xreplace({W: w_pq, nabla0_W: dc0}))


@cache
def derive_l2() -> Derivation:
    """The gradient of the L2-regularised cost, in index form for every width (see the module doc)."""
    d = Derivation("L2 regularisation: the gradient derived from the cost", role=Role.REGULARISATION, subject="l2",
                   summary="index form, symbolic widths; instantiated at (n_l, n_(l-1)) = "
                           + ", ".join(str(s) for s in SIZES))
    d.define("l2.cost", _C, _cost(_p, _q, _r),
             "Nielsen eq. 87, the weights of layer l (other layers' terms do not hold w^l); C_0 an undefined function",
             note="C_0 depends on every weight and bias; it is written as a function of the entries it is "
                  "differentiated by, the others being held fixed")
    dw, db = _index_gradients()
    w_pq, b_r = w_base[layer, _p, _q], b_base[layer, _r]
    d.add(Step("l2.dw", sp.Derivative(_C, w_pq, evaluate=False), dw, StepKind.DERIVED,
               "sympy.diff by one weight w^l_pq, doit of the KroneckerDelta sums (range guards: first branch)",
               _instantiated(dw, w_pq), ("l2.cost",)))
    d.add(Step("l2.db", sp.Derivative(_C, b_r, evaluate=False), db, StepKind.DERIVED,
               "sympy.diff by one bias b^l_r: the penalty holds no bias, so biases are not regularised",
               _instantiated(db, b_r), ("l2.cost",)))
    form = gradient_forms()[0][1]
    d.add(Step("l2.gradient", nabla_W, form, StepKind.CLAIM,
               "Nielsen's form dC/dw = dC_0/dw + (lambda / n) w, every entry, every width",
               check_gradient_form(form), ("l2.dw",)))
    return d


@cache
def derive_sgd_update(l2: bool) -> Derivation:
    """One SGD step; with L2 the derived gradient substituted and collected into weight decay (Nielsen eq. 93)."""
    d = Derivation(f"the SGD update{' with L2 regularisation (weight decay)' if l2 else ''}", role=Role.UPDATE,
                   subject="sgd+l2" if l2 else "sgd")
    d.define("sgd.w", _W_new, W - eta * nabla_W,
             "gradient descent (Nielsen eqs. 20-21): nabla_W the batch-averaged gradient, eta the learning rate")
    d.define("sgd.b", _b_new, b - eta * nabla_b, "the same step for the biases (never regularised: l2.db)" if l2 else
             "the same step for the biases")
    if not l2:
        return d
    rule = W - eta * nabla_W
    gradient = dict(gradient_forms())
    substituted = rule.xreplace(gradient)
    d.derive("sgd.w.substituted", _W_new, substituted, "the derived gradient substituted (l2.gradient)",
             expected=rule.xreplace({nabla_W: gradient[nabla_W]}), depends=("sgd.w", "l2.gradient"))
    collected = sp.collect(sp.expand(substituted), W)
    d.derive("sgd.w.collected", _W_new, collected, "expanded and collected in W", expected=substituted,
             depends=("sgd.w.substituted",))
    decay = update_forms(True)[0][1]
    d.claim("sgd.weight_decay", _W_new, decay, collected,
            "Nielsen eq. 93: weight decay, W shrinks by the factor 1 - eta lambda / n before the step",
            depends=("sgd.w.collected",))
    return d


@dataclass(frozen=True)
class L2Sym:
    """The L2 term with strength ``lam`` over a training set of ``n`` samples (None: the batch size m)."""

    kind: ClassVar[str] = "l2"
    lam: Any
    n: Any = None

    @classmethod
    def of(cls, penalty: Any, **_options: Any) -> L2Sym:
        """The SymPy half of a :class:`numeric.penalty.L2` (``options`` are accepted and unused: no widths)."""
        if getattr(penalty, "kind", None) != cls.kind:
            raise BadInput(f"L2Sym is the SymPy half of an l2 penalty, not of {penalty!r}")
        return cls(sp.nsimplify(penalty.lam), penalty.n)

    @property
    def params(self) -> tuple:
        return ()

    def gradient_forms(self) -> list[tuple[ArraySymbol, sp.Expr]]:
        return gradient_forms()

    def derivation(self) -> Derivation:
        return derive_l2()

    def tex(self) -> str:
        """The regularised cost as the book prints it (n the batch size m when the spec gives none)."""
        n = "m" if self.n is None else sp.latex(self.n)
        return rf"C = C_0 + \frac{{\lambda}}{{2 \cdot {n}}} \sum_w w^2"
