"""The batch (matrix) forms of backprop, derived in index form and proven element-wise, both reductions, both layouts.

Vectorised code works on a whole batch at once: Z^l = W^l A^{l-1} + b^l 1^T, Delta^l stacks the per-sample,
unscaled errors delta^l_x (docs/conventions.md § Conventions), and the gradients are matrix products such as
nabla_W^l = (1/m) Delta^l (A^{l-1})^T. Here those forms are **derived**, then **checked**, then compared with the
textbook:

1. *derived in index form, for symbolic widths and batch size*: the batch matrices are ``MatrixSymbol`` objects laid
   out as the spec stores them; z^l_{jx} is written as a ``Sum`` of their entries; the one stated rule is the
   multivariate chain rule over units and samples (dC/dtheta = sum_{j,x} s Delta^l_{jx} dz^l_{jx}/dtheta);
   ``sympy.diff`` gives dz/dtheta as Kronecker deltas, ``doit`` collapses the sums, and SymPy's array converters
   (``convert_indexed_to_array``, ``convert_array_to_matrix``) read the result as ``MatMul``/``Transpose``/
   ``HadamardProduct``. (They silently drop scalar factors such as 1/m and cannot read an element-wise product
   with a contraction; both are handled here: scalars are kept apart, and such a product is read part by part.)
2. *checked element-wise, no axiom*: on a small instance (widths capped at 2, batch m = 2) the parameters, inputs
   and errors are scalar symbols; the batch cost C = s sum_x C_x is built with the per-sample cost downstream of
   layer l an undefined function G (and sigma undefined), so the result holds for every differentiable cost and
   activation; ``sympy.diff`` differentiates it entry by entry, and each entry is compared with the matrix form
   evaluated on the same symbols (:func:`derive.core.proof.prove_equal`). When the symbolic route cannot decide, the
   claim is re-checked with polynomial stand-ins for G and sigma, which can refute it (a counterexample for one G
   refutes a claim about every G) but never proves it. The output error Delta^L (from
   :mod:`derive.backprop.output_delta`)
   is checked with the model's *real* output activation and cost.
3. *the textbook form* ((1/m) Delta (A^{l-1})^T, ...) is a claim compared with the derived one.

The forms code uses pre-scale the output error, E^L = (1/m) Delta^L, propagate E through the same recursion, and
then *sum* (nabla_W^l = E^l (A^{l-1})^T): derived by substitution and proven the same way, because averaging after
pre-scaling is the classic bug (:func:`check_claim` refutes it with a counterexample).

The parts live in their own modules: the matrix nodes (:mod:`derive.backprop.batch_nodes`), the names
(:mod:`derive.backprop.batch_names`), the typed-in forms (:mod:`derive.backprop.batch_textbook`), the index-form
derivation (:mod:`derive.backprop.batch_index`) and the element-wise checks (:mod:`derive.backprop.batch_check`);
this module puts them together. It does not print code (that is :mod:`derive.codegen.kernel`) and does not derive
the element-wise derivatives (those are :mod:`derive.functions.activations`, :mod:`derive.functions.costs`,
:mod:`derive.backprop.output_delta`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from derive.backprop.batch_check import CAP, M_CHECK, check_claim, check_error, check_output
from derive.backprop.batch_index import derive_error_form, derive_gradient_form, index_to_matrix
from derive.backprop.batch_names import MatrixName, Names, m
from derive.backprop.batch_nodes import Apply, Fn, Gradient, explicit
from derive.backprop.batch_textbook import backprop_form, bias_form, layer_at, output_form, weight_form, z_form
from derive.core.book import book_text
from derive.core.proof import Check
from derive.core.steps import Derivation, Role, Step
from derive.layers.dense import DenseSym
from numeric.spec import ModelSpec

__all__ = [
    "CAP",
    "M_CHECK",
    "Apply",
    "BatchForms",
    "Fn",
    "Gradient",
    "LayerForms",
    "MatrixName",
    "Names",
    "check_claim",
    "derive_batch_forms",
    "derive_error_form",
    "derive_gradient_form",
    "explicit",
    "index_to_matrix",
    "m",
]

_INDEX_NOTE = "entry by entry (indices from 0): "


@dataclass
class LayerForms:
    """The matrix expressions of layer ``l`` (MatrixSymbols named ``W^{l}``, ``A^{l-1}``, ``Delta^{l}``, ...).

    ``Delta``/``nabla_W``/``nabla_b`` are the book forms (unscaled Delta, the reduction factor on the gradients);
    ``E``/``code_W``/``code_b`` are the forms code uses (pre-scaled error E = s Delta, gradients summed).
    ``layer`` is the SymPy layer object the forward ``Z`` was read from.
    """

    l: int
    Z: MatrixExpr
    A: MatrixExpr
    Delta: MatrixExpr
    nabla_W: MatrixExpr
    nabla_b: MatrixExpr | None
    E: MatrixExpr
    code_W: MatrixExpr
    code_b: MatrixExpr | None
    layer: DenseSym | None = None


@dataclass
class BatchForms:
    """Batch forms of one model family with their derivation (every form proven element-wise).

    ``index`` maps every matrix name of the forms to its :class:`MatrixName` (quantity, layer); :meth:`layer_of`
    reads the layer of any node (a name, a gradient, an :class:`Apply`, a transpose): nothing parses printed names.
    """

    spec: ModelSpec
    names: Names
    scale: sp.Expr
    layers: dict[int, LayerForms]
    derivation: Derivation
    instance: dict = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        return self.derivation.holds

    @property
    def index(self) -> dict[sp.MatrixSymbol, MatrixName]:
        return self.names.index(self.spec.L)

    def layer_of(self, expr) -> int:
        return self.names.layer_of(expr, self.spec.L)


# ----- the derivation -------------------------------------------------------------------------------------------------
def derive_batch_forms(spec: ModelSpec) -> BatchForms:
    """Derive and prove the batch forms of ``spec`` (its depth, activations, cost, reduction, layout, biases).

    The forms depend on the family and on the proof instance (widths capped at CAP), not on the name or the full
    widths: every model of a family shares one cached derivation, whose ``spec`` is that instance.
    """
    return _derive_batch_forms(spec.with_sizes([min(n, CAP) for n in spec.sizes]))


def _textbook(d: Derivation, label: str, lhs, textbook: MatrixExpr, derived: MatrixExpr) -> None:
    """The textbook form, typed in, as a claim compared with the derived one (structurally identical)."""
    same = textbook == derived
    check = Check(True, "symbolic: identical matrix expressions") if same else Check(
        False, "symbolic: the matrix expressions differ", counterexample={"derived": sp.sstr(derived)})
    d.add(Step(f"{label}.textbook", lhs, textbook, "claim", "the textbook form, compared with the derived one",
               check, (label,)))


def _params(spec: ModelSpec) -> tuple[str, ...]:
    return ("W", "b") if spec.bias else ("W",)


def _definitions(spec: ModelSpec, N: Names, s: sp.Expr) -> Derivation:
    """The batch cost, Delta^l, every layer's forward on the batch (read from the layer) and the chain rule."""
    cols = N.layout.columns
    d = Derivation(f"batch forms ({spec.reduction} over the batch, samples as {spec.layout}"
                   f"{'' if spec.bias else ', no biases'})", role=Role.BATCH, subject=spec.family_key())
    d.summary = ("each form evaluated entry by entry on a small instance (widths capped at "
                 f"{CAP}, m = {M_CHECK}) and compared with sympy.diff of the batch cost")
    Cs, x = sp.Symbol("C"), sp.Symbol("x", integer=True, positive=True)
    d.define("batch.cost", Cs, s * sp.Sum(sp.Symbol("C_x"), (x, 1, m)),
             f"the batch cost is the {spec.reduction} of the per-sample costs")
    d.define("batch.Delta", sp.Symbol("Delta^{l}_{jx}"), sp.Derivative(sp.Symbol("C_x"), sp.Symbol("z^{l}_{jx}")),
             "Delta^l stacks the per-sample, unscaled errors delta^l_x = dC_x/dz^l_x as "
             + ("columns" if cols else "rows"))
    for l in range(1, spec.L + 1):
        act = spec.activations[l - 1]
        Af = Apply(Fn.FORWARD if act.entry.elementwise else Fn.FORWARD_VECTOR, N.Z(l))
        d.define(f"batch.Z{l}", N.Z(l), z_form(N, layer_at(spec, l)), "the layer's pre-activations, one sample per "
                 + ("column" if cols else "row"))
        d.define(f"batch.A{l}", N.A(l), Af, f"a^{l} = {act}(z^{l}) for every sample")
    theta, jj = sp.Symbol("theta"), sp.Symbol("j", integer=True, positive=True)
    d.axiom("batch.chain", sp.Derivative(Cs, theta),
            sp.Sum(sp.Sum(s * sp.Symbol("Delta^{l}_{jx}") * sp.Derivative(sp.Symbol("z^{l}_{jx}"), theta),
                          (jj, 1, sp.Symbol("n_l"))), (x, 1, m)),
            "multivariate chain rule over every unit j and sample x, with dC/dz^l_{jx} = s Delta^l_{jx} because "
            "only C_x depends on z^l_x (the one stated rule; everything below is computed)")
    return d


def _errors(d: Derivation, spec: ModelSpec, N: Names, widths: list[int]) -> dict[int, MatrixExpr]:
    """BP1 and BP2 for the batch: Delta^L, then Delta^l from Delta^{l+1}, each with its textbook claim."""
    L = spec.L
    out = output_form(N, spec)
    d.add(Step(f"batch.Delta{L}", N.Delta(L), out, "derived",
               "BP1 for the batch: the output errors derived per sample, stacked; checked against per-sample "
               "derivatives of the model's own cost", check_output(spec, widths, M_CHECK), ("batch.Delta",)))
    deltas = {L: out}
    for l in range(L - 1, 0, -1):
        idx, form = derive_error_form(N, l, spec.bias, N.Delta(l + 1))
        deltas[l] = form
        d.add(Step(f"batch.Delta{l}", N.Delta(l), form, "derived",
                   "BP2 for the batch: per sample, the chain rule over the units k of layer l+1, differentiating "
                   "z^{l+1}_{kx} in index form with respect to z^l_{px}, the Kronecker delta collapsing the sum, "
                   "read as a matrix; checked element-wise with sigma and C_x undefined",
                   check_error(spec, widths, l, M_CHECK, None), (f"batch.Delta{l + 1}",),
                   note=_INDEX_NOTE + book_text(idx), index_form=idx))
        _textbook(d, f"batch.Delta{l}", N.Delta(l), backprop_form(N, l, N.Delta(l + 1)), form)
    return deltas


def _gradients(d: Derivation, spec: ModelSpec, N: Names, s: sp.Expr) -> dict[tuple[str, int], MatrixExpr]:
    """BP3 and BP4 for the batch, every layer and parameter, each with its textbook claim."""
    grads: dict[tuple[str, int], MatrixExpr] = {}
    for l in range(spec.L, 0, -1):
        for param in _params(spec):
            idx, form = derive_gradient_form(N, l, param, spec.bias, s)
            grads[param, l] = form
            lhs = N.nabla_W(l) if param == "W" else N.nabla_b(l)
            what = "weight" if param == "W" else "bias"
            d.add(Step(f"batch.nabla_{param}{l}", lhs, form, "derived",
                       f"{'BP4' if param == 'W' else 'BP3'} for the batch: the chain rule above, differentiating "
                       f"z^l_{{jx}} in index form with respect to every {what}, the Kronecker delta collapsing the "
                       "sum, read as a matrix; checked element-wise against the derivative of the batch cost",
                       check_claim(spec, l, param, form), (f"batch.Delta{l}", "batch.chain"),
                       note=_INDEX_NOTE + book_text(idx), index_form=idx))
            textbook = weight_form(N, l, N.Delta(l), s) if param == "W" else bias_form(N, N.Delta(l), s)
            _textbook(d, f"batch.nabla_{param}{l}", lhs, textbook, form)
    return grads


def _code_errors(d: Derivation, spec: ModelSpec, N: Names, s: sp.Expr, deltas: dict, widths: list[int]
                 ) -> dict[int, MatrixExpr]:
    """The pre-scaled errors code uses: E^L = s Delta^L, and E^l from E^{l+1} by the same recursion."""
    L = spec.L
    s_check = sp.Rational(1, M_CHECK) if spec.reduction == "mean" else sp.Integer(1)
    d.define(f"code.E{L}", N.E(L), s * N.Delta(L) if s != 1 else N.Delta(L),
             "the pre-scaled output error (scale once, on the smallest matrix)")
    errors = {L: s * deltas[L] if s != 1 else deltas[L]}
    for l in range(L - 1, 0, -1):
        _, form = derive_error_form(N, l, spec.bias, N.E(l + 1))
        errors[l] = form
        d.add(Step(f"code.E{l}", N.E(l), form, "derived",
                   "E^l = s Delta^l: the derivation of BP2 with E^{l+1} in place of Delta^{l+1} (it is linear in "
                   "the error)", check_error(spec, widths, l, M_CHECK, s_check), (f"batch.Delta{l}",),
                   note=f"checked: the right side with E^{l + 1} = s Delta^{l + 1} equals s Delta^{l}"))
    return errors


def _code_gradients(d: Derivation, spec: ModelSpec, N: Names, s: sp.Expr, grads: dict
                    ) -> dict[tuple[str, int], MatrixExpr]:
    """The gradients code uses: the book forms with Delta = E / s substituted (a sum, not a second mean)."""
    code: dict[tuple[str, int], MatrixExpr] = {}
    for l in range(spec.L, 0, -1):
        for param in _params(spec):
            form = grads[param, l].xreplace({N.Delta(l): N.E(l) / s}).doit()
            code[param, l] = form
            lhs = N.nabla_W(l) if param == "W" else N.nabla_b(l)
            d.add(Step(f"code.nabla_{param}{l}", lhs, form, "derived",
                       f"{'BP4' if param == 'W' else 'BP3'} for the batch above, with Delta^{l} = E^{l} / s "
                       "substituted: a sum over the batch, not a second mean", check_claim(spec, l, param, form),
                       (f"code.E{l}",)))
    return code


@cache
def _derive_batch_forms(spec: ModelSpec) -> BatchForms:
    N = Names(spec.layout)
    widths = [min(n, CAP) for n in spec.sizes]
    widths[-1] = max(widths[-1], spec.output_activation.min_units)
    s = 1 / m if spec.reduction == "mean" else sp.Integer(1)
    d = _definitions(spec, N, s)
    deltas = _errors(d, spec, N, widths)
    grads = _gradients(d, spec, N, s)
    errors = _code_errors(d, spec, N, s, deltas, widths)
    code = _code_gradients(d, spec, N, s, grads)
    layers = {
        l: LayerForms(l=l, Z=d[f"batch.Z{l}"].rhs, A=d[f"batch.A{l}"].rhs, Delta=deltas[l], nabla_W=grads["W", l],
                      nabla_b=grads.get(("b", l)), E=errors[l], code_W=code["W", l], code_b=code.get(("b", l)),
                      layer=layer_at(spec, l))
        for l in range(1, spec.L + 1)
    }
    return BatchForms(spec, N, s, layers, d, {"widths": widths, "m": M_CHECK})
