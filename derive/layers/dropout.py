"""Inverted dropout, SymPy side: out = a * M / p, and its backward derived in index form for every size.

The SymPy half of :mod:`numeric.dropout` (paired by ``kind``). The mask M (0s and 1s) is data and p the keep
probability. The map is element-wise, so its derivative is derived once for all sizes (:func:`derive_dropout`):
C = sum_{j,k} dout_jk a_jk M_jk / p (a cost whose gradient with respect to out is dout, see
:mod:`derive.layers.normalisation`), an ``IndexedBase`` sum with symbolic bounds, differentiated by one entry
a_uv; ``doit`` turns the KroneckerDelta sum into the one surviving term (inside range Piecewise guards, of which the
first branch applies: u, v are valid indices by construction). The textbook backward dout * M / p, the 1/p in
both directions, is a claim compared with that result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

import sympy as sp

from derive.core.proof import Check, prove_equal
from derive.core.steps import Derivation, Role, Step, StepKind
from derive.functions.activations import first_branch
from derive.layers.arrays import ArraySymbol
from numeric.errors import BadInput
from numeric.spec import Layout

__all__ = ["DropoutSym", "a", "backward_forms", "check_backward_form", "da", "derive_dropout", "dout", "forward_forms",
           "keep", "mask", "out"]

a = ArraySymbol("a")
mask = ArraySymbol("mask")
out = ArraySymbol("out")
dout = ArraySymbol("dout")
da = ArraySymbol("da")
keep = sp.Symbol("p", positive=True)

#: the concrete sizes (units, samples) the index-form result is instantiated at, as a cross-check
SIZES = ((2, 3), (3, 4))

_C = sp.Symbol("C")
_j, _k = sp.symbols("j k", integer=True, nonnegative=True)
#: the entry a derivative is taken by (0-based: it is stored at [u, v])
_u, _v = sp.symbols("u v", integer=True, nonnegative=True)
_n, _m = sp.symbols("n m", integer=True, positive=True)


def forward_forms() -> list[tuple[ArraySymbol, sp.Expr]]:
    return [(out, a * mask / keep)]


def backward_forms() -> list[tuple[ArraySymbol, sp.Expr]]:
    """The backward: the same map applied to dC/dout (proven by :func:`derive_dropout`)."""
    return [(da, dout * mask / keep)]


#: the entries' names in index form (a bare ``a`` would print as a layer quantity a^j_k)
_INDEX_NAMES = {"a": "A", "mask": "M"}


def _base(x: ArraySymbol) -> sp.IndexedBase:
    return sp.IndexedBase(_INDEX_NAMES.get(x.name, x.name))


def _entry(form: sp.Expr, *index: Any) -> sp.Expr:
    """An element-wise array form at one entry: every array symbol X becomes X[index]."""
    return form.xreplace({x: _base(x)[index] for x in form.atoms(ArraySymbol)})


def _cost() -> sp.Sum:
    """C = sum_jk dout_jk out_jk with out written out from its definition, symbolic sizes n x m."""
    return sp.Sum(_entry(dout * forward_forms()[0][1], _j, _k), (_j, 0, _n - 1), (_k, 0, _m - 1))


@cache
def _index_derivative() -> sp.Expr:
    """dC/da_uv of the index-form cost, for symbolic sizes n x m."""
    raw = sp.diff(_cost(), _base(a)[_u, _v]).doit()
    # the range guards u <= n - 1, v <= m - 1 hold by construction (u, v index an entry)
    return first_branch(first_branch(raw))


def _instantiated_check(raw: sp.Expr) -> Check:
    """The index-form result against sympy.diff of the cost written out at each of SIZES, every entry."""
    count = 0
    for rows, cols in SIZES:
        written = _cost().subs({_n: rows, _m: cols}).doit()
        for u in range(rows):
            for v in range(cols):
                direct = sp.diff(written, _base(a)[u, v])
                chk = prove_equal(direct, raw.subs({_u: u, _v: v}))
                if chk.holds is not True:
                    return Check(chk.holds, f"entry ({u + 1},{v + 1}) at {(rows, cols)}: {chk.method}",
                                 counterexample=chk.counterexample, strength=chk.strength)
                count += 1
    sizes = ", ".join(str(s) for s in SIZES)
    return Check(True, f"symbolic: instantiated at (units, samples) = {sizes}, each of the {count} entries equals "
                       "sympy.diff of the written-out cost")


def check_backward_form(form: sp.Expr) -> Check:
    """Is ``form`` (an array form for dC/da) equal to the derived derivative, at every entry and every size?"""
    return prove_equal(_index_derivative(), _entry(form, _u, _v))


@cache
def derive_dropout() -> Derivation:
    """The backward of inverted dropout, in index form for every size (see the module doc)."""
    d = Derivation("inverted dropout: the backward derived from the definition", role=Role.DROPOUT, subject="dropout",
                   summary="index form, symbolic sizes n x m; instantiated at " + ", ".join(str(s) for s in SIZES))
    d.define("dropout.out", out, a * mask / keep, "a kept unit scaled by 1/p, a dropped one 0 (mask of 0s and 1s)")
    d.define("dropout.cost", _C, _cost(), "a cost with gradient dout = dC/dout (every such cost has these first "
                                          "derivatives)")
    raw = _index_derivative()
    a_uv = _base(a)[_u, _v]
    d.add(Step("dropout.da_uv", sp.Derivative(_C, a_uv, evaluate=False), raw, StepKind.DERIVED,
               "sympy.diff of the cost by one entry a_uv, doit of the KroneckerDelta sums (range guards: first branch)",
               _instantiated_check(raw), ("dropout.out", "dropout.cost")))
    form = backward_forms()[0][1]
    d.add(Step("dropout.da", sp.Derivative(_C, a, evaluate=False), form, StepKind.CLAIM,
               "the backward is the forward map applied to dout: the 1/p in both directions",
               check_backward_form(form), ("dropout.da_uv",)))
    return d


@dataclass(frozen=True)
class DropoutSym:
    """Dropout after the activation of layer ``index`` (``n`` units), keep probability ``p``."""

    kind: ClassVar[str] = "dropout"
    index: Any
    n: Any
    p: Any

    @classmethod
    def of(cls, layer: Any, *, widths: Callable[[Any], Any] | None = None) -> DropoutSym:
        """The SymPy half of a :class:`numeric.dropout.Dropout`; ``widths(l)`` replaces n by a symbol."""
        if getattr(layer, "kind", None) != cls.kind:
            raise BadInput(f"DropoutSym is the SymPy half of a dropout layer, not of {layer!r}")
        return cls(layer.index, layer.n if widths is None else widths(layer.index), sp.nsimplify(layer.keep))

    @property
    def params(self) -> tuple:
        """Dropout has no parameters (the mask is data)."""
        return ()

    def forward_forms(self) -> list[tuple[ArraySymbol, sp.Expr]]:
        return forward_forms()

    def backward_forms(self) -> list[tuple[ArraySymbol, sp.Expr]]:
        return backward_forms()

    def derivation(self) -> Derivation:
        return derive_dropout()

    def tex(self, layout: Layout = Layout.COLUMNS) -> str:
        """The forward as the book prints it (element-wise, the same in either layout)."""
        l = sp.latex(self.index)
        return rf"a^{{{l}}} \odot M^{{{l}}} / p"
