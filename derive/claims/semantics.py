"""What the symbols of a claim mean on a model, and their values: ground truth "against the derivation".

A claim is checked on a small concrete **instance** of the context model (:func:`instance_spec`: widths capped at
3 and alternating 3/2 so that transposes and swapped indices change shapes or values). Its cost C(θ) is composed
with :func:`derive.backprop.compose.compose_model` (the forward pass written out, nothing from BP1-BP4); true values are
computed from it:

* w^l_{jk}, b^l_j, x, y: the composed model's own symbols at a random rational point;
  z^l_j, a^l_j: the composed forward pass at that point;
* ∂C/∂w^l_{jk}, ∂C/∂b^l_j (and dW, db): ``sympy.diff`` of the composed C;
* δ^l_j = ∂C_x/∂z^l_j (and Δ, dZ): the model is composed with z^l_j shifted by a symbol t (added to b^l_j, which
  enters the composed cost through z^l_j alone), δ is ``sympy.diff`` of the sample's cost C_x by t at t = 0;
* ∂C/∂a^L_j (∇_a C, dA^L): the cost's index-form definition differentiated with respect to a^L_j;
  ∂C/∂a^l for a hidden layer (dA^l): the network from layer l+1 on, composed on its own with a^l as its input;
  ∂C/∂x (dA^0): the composed cost differentiated by the input;
* the ones vector 𝟙: as long as the product it stands in needs;
* σ(v), σ'(v): the activation of the layer v belongs to, from :data:`derive.functions.registry.ACTIVATIONS` and its
  derived derivative (:func:`derive.functions.activations.derive_activation`).

Course-notes batch names: dW = ∂C/∂W, db = ∂C/∂b; dZ and dA are **ambiguous** unless a convention is given:
``per_sample`` (the course notes: dZ stacks the per-sample ∂C_x/∂z, which makes dW = (1/m) dZ Aᵀ true) or
``batch`` (dZ = ∂C/∂Z, which carries the 1/m of a mean cost). :class:`Evaluator` takes one of them.

Every derivative is taken on the cost composed with all leaves but the differentiated one fixed to the point's
values (partial evaluation through ``compose_model(..., fixed=...)``): the same function, a much smaller tree.
Values are exact rationals where the model is rational (identity/ReLU, quadratic costs), otherwise 45-digit
floats compared to 25 digits. This module evaluates; it does not decide verdicts (:mod:`derive.claims.verdicts`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cache

import sympy as sp

from derive.backprop.compose import ProvenActivation, compose_model
from derive.backprop.compose import x as _x
from derive.claims.ir import Act, Had, ISum, Mat, Ones, Partial, Tr
from derive.core.symbols import a as a_base
from derive.core.symbols import b as b_base
from derive.core.symbols import delta as delta_base
from derive.core.symbols import w as w_base
from derive.core.symbols import y as y_base
from derive.core.symbols import z as z_base
from derive.functions.activations import alpha, derive_activation, zs
from derive.functions.costs import L as L_cost
from derive.functions.costs import derive_cost, n_out
from derive.functions.registry import ACTIVATIONS as SYM_ACTIVATIONS
from derive.functions.registry import COSTS as SYM_COSTS
from numeric.errors import BadInput
from numeric.functions import TargetKind
from numeric.spec import Layout, ModelSpec

__all__ = [
    "DEFAULT_SPEC",
    "DIGITS",
    "MAX_EXPONENT",
    "Context",
    "Evaluator",
    "Instance",
    "NotCheckable",
    "OutOfRange",
    "ShapeMismatch",
    "context_from_directive",
    "instance_spec",
]

DIGITS = 40
#: powers with larger exponents are not evaluated (10^{10^{10}} would take forever)
MAX_EXPONENT = 64
DEFAULT_SPEC = ModelSpec.build("2-3-2", "sigmoid", "quadratic")


class NotCheckable(Exception):
    """The claim uses something this model cannot give a value to (reason in ``str``)."""


class OutOfRange(Exception):
    """An index value outside the model. ``kind`` is ``layer``, ``unit`` or ``sample``.

    A binding where a layer does not exist is skipped (BP2 is stated for l < L); a unit index that exists on the
    left side but not on the right is an error of the claim (a swapped index).
    """

    def __init__(self, message: str, kind: str = "layer"):
        super().__init__(message)
        self.kind = kind


class ShapeMismatch(Exception):
    """Two vectors/matrices whose shapes do not fit the operation."""


@dataclass(frozen=True)
class Context:
    """The model the symbols refer to, where it came from, and the dZ/dA convention (None: ambiguous)."""

    spec: ModelSpec = DEFAULT_SPEC
    source: str = "default: 2-3-2 sigmoid, quadratic cost, mean over the batch"
    dz: str | None = None

    def describe(self) -> str:
        conv = f", dZ/dA {self.dz}" if self.dz else ""
        return f"{self.spec.net} {self.spec.act_text}/{self.spec.cost}/{self.spec.reduction}/{self.spec.layout}" \
               f"{'' if self.spec.bias else '/no bias'}{conv} ({self.source})"


_KEYS = ("model", "net", "act", "cost", "reduction", "layout", "bias", "convention", "dz")


def context_from_directive(text: str, base: Context | None = None, source: str = "directive") -> Context:
    """``act=sigmoid cost=bce net=2-3-1 reduction=mean layout=columns bias=no convention=course``."""
    from numeric.catalog import get_model

    base = base or Context()
    fields: dict[str, str] = {}
    for part in text.replace(";", " ").split():
        if "=" not in part:
            raise BadInput(f"bpv directive {text!r}: expected key=value pairs, got {part!r}; keys: {', '.join(_KEYS)}")
        key, value = part.split("=", 1)
        if key not in _KEYS:
            raise BadInput(f"bpv directive: unknown key {key!r}; keys: {', '.join(_KEYS)}")
        fields[key] = value
    spec = base.spec
    if "model" in fields:
        spec = get_model(fields["model"])
    if any(k in fields for k in ("net", "act", "cost", "reduction", "layout", "bias")):
        acts = fields.get("act", ",".join(str(a) for a in spec.activations)
                          if "net" not in fields else spec.act_text)
        spec = ModelSpec.build(fields.get("net", spec.net), acts, fields.get("cost", spec.cost),
                               fields.get("reduction", spec.reduction), fields.get("layout", spec.layout),
                               fields.get("bias", "yes" if spec.bias else "no") not in ("no", "false", "0"))
    dz = base.dz
    conv = fields.get("convention", fields.get("dz"))
    if conv is not None:
        if conv in ("course", "per_sample", "per-sample"):
            dz = "per_sample"
        elif conv in ("batch", "total"):
            dz = "batch"
        else:
            raise BadInput(f"bpv directive: convention={conv!r}; use course (per-sample dZ) or batch (dZ = dC/dZ)")
    return Context(spec, source, dz)


def instance_spec(spec: ModelSpec) -> ModelSpec:
    """Same depth, activations, cost, layout; widths capped at 2 (input), then 3, 2, 3, ... where the model allows.

    Neighbouring layers get different widths, so W^l is not square and a missing transpose changes the shape.
    A softmax output keeps at least 2 units. The instance always has biases (a model without them is evaluated
    with b = 0) and the columns layout (the evaluator orients matrices for the context's layout).
    """
    sizes = [min(n, 2 if i % 2 == 0 else 3) for i, n in enumerate(spec.sizes)]
    sizes[-1] = max(spec.output_activation.min_units, sizes[-1])
    # the composed cost is the same function of w^l_{jk} in either layout: the layout only orients the matrices
    # the evaluator builds, so the instance is always composed in the columns layout
    return ModelSpec.build(sizes, [str(a) for a in spec.activations], spec.cost, spec.reduction, Layout.COLUMNS,
                           True)


def _num(v) -> sp.Expr:
    if isinstance(v, sp.Rational):
        return v
    n = sp.N(v, DIGITS + 5)
    if not n.is_real:
        raise NotCheckable(f"a value that is not a real number at a sample point ({sp.N(n, 6)})")
    return sp.Float(n, DIGITS + 5)




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
                pt[_x[s, k]] = r(-2.0, 2.0)
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

    def _derivative(self, p: int, expr_of, var, value) -> sp.Expr:
        v = sp.diff(expr_of, var).xreplace({var: value})
        if v.has(ProvenActivation):
            v = v.replace(lambda e: isinstance(e, ProvenActivation), lambda e: e.definition())
        return v if isinstance(v, sp.Rational) else _num(v)

    def cost(self, p: int) -> sp.Expr:
        """The cost C at the point (the batch cost; C_x when m = 1)."""
        return _value(self.composed(p).cost)

    def param(self, p: int, sym: sp.Expr) -> sp.Expr:
        return self.points[p].get(sym, sp.Integer(0))

    def z(self, p: int, l: int, s: int, j: int) -> sp.Expr:
        return _value(self.composed(p).z[l][s - 1][j - 1])

    def a(self, p: int, l: int, s: int, j: int) -> sp.Expr:
        return _value(self.composed(p).a[l][s - 1][j - 1])

    def y(self, p: int, s: int, j: int) -> sp.Expr:
        return self.points[p][y_base[s, j]]

    def dC(self, p: int, sym: sp.Expr) -> sp.Expr:
        """∂C/∂θ of the batch cost: ``sympy.diff`` of the cost composed with θ alone left symbolic."""
        key = ("dC", p, sym)
        if key not in self._cache:
            cm = self.composed(p, free=(sym,))
            self._cache[key] = self._derivative(p, cm.cost, sym, self._leaf(self.points[p][sym]))
        return self._cache[key]

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
        return _value(expr.xreplace(table))

    def dC_dx(self, p: int, s: int, k: int) -> sp.Expr:
        """∂C_x/∂x_k of sample s: the inputs are leaves of the composed cost."""
        key = ("dx", p, s, k)
        if key not in self._cache:
            var = _x[s, k]
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
        fixed = {}
        for ll in range(l + 1, self.L + 1):
            off = ll - l
            for j in range(1, self.width(ll) + 1):
                fixed[b_base[off, j]] = self._leaf(self.param(p, b_base[ll, j]))
                for q in range(1, self.width(ll - 1) + 1):
                    fixed[w_base[off, j, q]] = self._leaf(self.param(p, w_base[ll, j, q]))
        for q in range(1, self.width(l) + 1):
            if q != k:
                fixed[_x[1, q]] = self.a(p, l, s, q)
        for j in range(1, self.width(self.L) + 1):
            fixed[y_base[1, j]] = self._leaf(self.y(p, s, j))
        cm = compose_model(sub, m=1, fixed=fixed)
        self._cache[key] = self._derivative(p, cm.per_sample_cost[0], _x[1, k], self.a(p, l, s, k))
        return self._cache[key]


def _value(v) -> sp.Expr:
    if isinstance(v, sp.Rational):
        return v
    if v.has(ProvenActivation):
        v = v.replace(lambda e: isinstance(e, ProvenActivation), lambda e: e.definition())
    return v if isinstance(v, sp.Rational) else _num(v)


@cache
def _cost_gradient(cost: str, n: int, j: int):
    C = derive_cost(cost).C.subs(n_out, n).doit()
    aj = a_base[L_cost, j]
    return sp.diff(C, aj), aj


# ----- the evaluator --------------------------------------------------------------------------------------------


def _is_mat(v) -> bool:
    return isinstance(v, sp.MatrixBase)


def _broadcast(vals: list) -> list:
    """A bias vector added to a batch matrix is added to every sample: (n, 1) + (n, m), (1, n) + (m, n)."""
    mats = [v for v in vals if _is_mat(v)]
    if not mats:
        return vals
    rows = max(v.rows for v in mats)
    cols = max(v.cols for v in mats)
    out = []
    for v in vals:
        if _is_mat(v) and v.shape != (rows, cols):
            if v.shape == (rows, 1):
                v = sp.Matrix.hstack(*([v] * cols))
            elif v.shape == (1, cols):
                v = sp.Matrix.vstack(*([v] * rows))
        out.append(v)
    return out


class Evaluator:
    """Values of IR expressions at point ``p`` with index ``bindings`` and a dZ/dA ``convention``."""

    def __init__(self, inst: Instance, p: int, bindings: dict, convention: str = "per_sample",
                 layout: str | None = None):
        self.inst = inst
        self.p = p
        self.bind = {sp.Symbol("L", integer=True, positive=True): inst.L, **bindings}
        self.convention = convention
        self.layout = layout or inst.spec.layout

    # .. indices ..
    def idx(self, e) -> int:
        v = e.xreplace(self.bind) if isinstance(e, sp.Basic) else e
        if not (isinstance(v, sp.Integer) or isinstance(v, int)):
            free = ", ".join(sorted(str(s) for s in getattr(v, "free_symbols", ())))
            raise NotCheckable(f"index {e} has no value (free: {free})")
        return int(v)

    def check_layer(self, l: int, lo: int = 1) -> int:
        if not lo <= l <= self.inst.L:
            raise OutOfRange(f"layer {l}")
        return l

    def check_unit(self, l: int, j: int) -> int:
        if not 1 <= j <= self.inst.width(l):
            raise OutOfRange(f"unit {j} of layer {l}", "unit")
        return j

    def check_sample(self, s: int) -> int:
        if not 1 <= s <= self.inst.m:
            raise OutOfRange(f"sample {s}", "sample")
        return s

    # .. shapes by layout ..
    @property
    def cols(self) -> bool:
        """Samples as columns. Claims without batch quantities use the book's column vectors in every layout."""
        return Layout(self.layout).columns

    def vec(self, values: list) -> sp.Matrix:
        return sp.Matrix(values) if self.cols else sp.Matrix([values])

    def batch(self, fn, n: int) -> sp.Matrix:
        """(n, m) in the columns layout, (m, n) in the rows layout; fn(s, j) 1-based."""
        m = self.inst.m
        if self.cols:
            return sp.Matrix(n, m, lambda j, s: fn(s + 1, j + 1))
        return sp.Matrix(m, n, lambda s, j: fn(s + 1, j + 1))

    def weight(self, l: int, fn) -> sp.Matrix:
        n_l, n_in = self.inst.width(l), self.inst.width(l - 1)
        if self.cols:
            return sp.Matrix(n_l, n_in, lambda j, k: fn(j + 1, k + 1))
        return sp.Matrix(n_in, n_l, lambda k, j: fn(j + 1, k + 1))

    # .. the main dispatch ..
    def value(self, e):
        if isinstance(e, sp.Number):
            return e
        if e is sp.E:
            return _num(e)
        if isinstance(e, sp.Symbol):
            if e.name == "m":
                return sp.Integer(self.inst.m)
            if e.name == "x" and e.is_real:
                return self.inst.points[self.p][e]
            if e in self.bind:
                return sp.Integer(self.bind[e])
            if e.name == "C":
                return self.inst.cost(self.p)
            raise NotCheckable(f"the symbol {e} has no value on the model")
        if isinstance(e, sp.Indexed):
            return self.element(e)
        if isinstance(e, Mat):
            return self.matrix(e)
        if isinstance(e, Tr):
            v = self.value(e.args[0])
            return v.T if _is_mat(v) else v
        if isinstance(e, Had):
            x, y = self.value(e.args[0]), self.value(e.args[1])
            if not (_is_mat(x) and _is_mat(y)):
                return x * y
            if x.shape != y.shape:
                raise ShapeMismatch(f"Hadamard product of {x.shape} and {y.shape}")
            return x.multiply_elementwise(y)
        if isinstance(e, Act):
            return self.activation(e)
        if isinstance(e, Partial):
            return self.partial(e)
        if isinstance(e, ISum):
            return self.isum(e)
        if isinstance(e, Ones) or (isinstance(e, Tr) and isinstance(e.args[0], Ones)):
            raise NotCheckable("the ones vector 𝟙 outside a product (its length is not known)")
        if isinstance(e, sp.Add):
            vals = _broadcast([self.value(x) for x in e.args])
            shapes = {v.shape for v in vals if _is_mat(v)}
            if len(shapes) > 1:
                raise ShapeMismatch("sum of " + " and ".join(str(s) for s in shapes))
            if shapes:
                shape = shapes.pop()
                vals = [v if _is_mat(v) else sp.ones(*shape) * v for v in vals]
                total = vals[0]
                for v in vals[1:]:
                    total = total + v
                return total
            return sp.Add(*vals)
        if isinstance(e, sp.Mul):
            out = None
            pending_ones = False  # 𝟙ᵀ waiting for the matrix on its right to know its length
            for x in e.args:
                if isinstance(x, Ones):
                    if not _is_mat(out):
                        raise NotCheckable("the ones vector 𝟙 with no matrix on its left")
                    x_val = sp.ones(out.cols, 1)
                    out = out * x_val
                    continue
                if isinstance(x, Tr) and isinstance(x.args[0], Ones):
                    if _is_mat(out):
                        raise NotCheckable("the ones vector 𝟙ᵀ after a matrix")
                    pending_ones = True
                    continue
                v = self.value(x)
                if pending_ones:
                    if not _is_mat(v):
                        raise NotCheckable("the ones vector 𝟙ᵀ with no matrix on its right")
                    v = sp.ones(1, v.rows) * v
                    pending_ones = False
                if out is None:
                    out = v
                elif _is_mat(out) and _is_mat(v):
                    if out.shape[1] != v.shape[0]:
                        raise ShapeMismatch(f"product of {out.shape} and {v.shape}")
                    out = out * v
                else:
                    out = out * v
            if pending_ones:
                raise NotCheckable("the ones vector 𝟙ᵀ with no matrix on its right")
            return out
        if isinstance(e, sp.Pow):
            base, ex = self.value(e.base), self.value(e.exp)
            if _is_mat(base) or _is_mat(ex):
                raise NotCheckable("a power of a matrix")
            if base == 0 and ex.is_negative:
                raise NotCheckable("division by zero at a sample point")
            if abs(ex) > MAX_EXPONENT and abs(base) != 1:
                raise NotCheckable(f"an exponent above {MAX_EXPONENT}")
            return base**ex
        if isinstance(e, (sp.exp, sp.log, sp.tanh)):
            v = self.value(e.args[0])
            if _is_mat(v):
                raise NotCheckable(f"{type(e).__name__} of a matrix")
            r = type(e)(v)
            return r if isinstance(r, sp.Rational) else _num(r)
        raise NotCheckable(f"{type(e).__name__} cannot be evaluated")

    def element(self, e: sp.Indexed):
        base = e.base
        idx = [self.idx(i) for i in e.indices]
        p, inst = self.p, self.inst
        if base == y_base:
            if len(idx) != 1:
                raise NotCheckable("y with more than one index")
            return inst.y(p, 1, self.check_unit(inst.L, idx[0]))
        l = idx[0]
        if base == a_base:
            self.check_layer(l, 0)
            return inst.a(p, l, 1, self.check_unit(l, idx[1]))
        self.check_layer(l)
        if base == w_base:
            j, k = self.check_unit(l, idx[1]), self.check_unit(l - 1, idx[2])
            return inst.param(p, w_base[l, j, k])
        if base == b_base:
            return inst.param(p, b_base[l, self.check_unit(l, idx[1])])
        if base == z_base:
            return inst.z(p, l, 1, self.check_unit(l, idx[1]))
        if base == delta_base:
            return inst.delta(p, l, 1, self.check_unit(l, idx[1]))
        raise NotCheckable(f"{base} has no meaning on the model")

    def matrix(self, e: Mat):
        name, inst, p = e.name, self.inst, self.p
        layer = self.idx(e.layer) if e.layer is not None else None
        sample = self.check_sample(self.idx(e.sample)) if e.sample is not None else None
        L = inst.L
        if name in ("x", "X"):
            name, layer = ("a" if name == "x" else "A"), 0
        if name in ("y", "Y"):
            n = inst.width(L)
            if name == "y" and sample is None:
                return self.vec([inst.y(p, 1, j) for j in range(1, n + 1)])
            full = self.batch(lambda s, j: inst.y(p, s, j), n)
            return self.column(full, sample)
        if layer is None:
            raise NotCheckable(f"{name} without a layer")
        lo = 0 if name in ("a", "A", "dA") else 1
        self.check_layer(layer, lo)
        n = inst.width(layer)
        per_sample = name in ("a", "z", "delta", "b")
        if name in ("w", "W"):
            return self.weight(layer, lambda j, k: inst.param(p, w_base[layer, j, k]))
        if name in ("b", "B"):
            return self.vec([inst.param(p, b_base[layer, j]) for j in range(1, n + 1)])
        if name == "dW":
            return self.weight(layer, lambda j, k: inst.dC(p, w_base[layer, j, k]))
        if name == "db":
            if not self.inst.context.spec.bias:
                raise NotCheckable("db in a model without biases")
            return self.vec([inst.dC(p, b_base[layer, j]) for j in range(1, n + 1)])
        fns = {
            "a": lambda s, j: inst.a(p, layer, s, j),
            "A": lambda s, j: inst.a(p, layer, s, j),
            "z": lambda s, j: inst.z(p, layer, s, j),
            "Z": lambda s, j: inst.z(p, layer, s, j),
            "delta": lambda s, j: inst.delta(p, layer, s, j),
            "Delta": lambda s, j: inst.delta(p, layer, s, j),
            "dZ": lambda s, j: inst.delta(p, layer, s, j) * self.conv_scale(),
            "dA": lambda s, j: self.dA(layer, s, j) * self.conv_scale(),
        }
        if name not in fns:
            raise NotCheckable(f"{name} has no meaning on the model")
        if per_sample and sample is None:
            return self.vec([fns[name](1, j) for j in range(1, n + 1)])
        return self.column(self.batch(fns[name], n), sample)

    def column(self, full: sp.Matrix, sample: int | None) -> sp.Matrix:
        if sample is None:
            return full
        return full[:, sample - 1] if self.cols else full[sample - 1, :]

    def conv_scale(self):
        return self.inst.scale if self.convention == "batch" else sp.Integer(1)

    def dA(self, l: int, s: int, j: int):
        if l == self.inst.L:
            return self.inst.dC_da_out(self.p, s, j)
        if l == 0:
            return self.inst.dC_dx(self.p, s, j)
        return self.inst.dC_da_hidden(self.p, l, s, j)

    def act_of(self, arg) -> tuple:
        """The activation σ means for this argument: that of the layer of the z or a inside it."""
        layers = set()
        for n in sp.preorder_traversal(arg):
            if isinstance(n, sp.Indexed) and n.base in (z_base, a_base):
                layers.add(self.idx(n.indices[0]))
            elif isinstance(n, Mat) and n.name in ("z", "Z", "a", "A") and n.layer is not None:
                layers.add(self.idx(n.layer))
        acts = self.inst.spec.activations
        if len(layers) > 1:
            raise NotCheckable("sigma of quantities from different layers")
        if layers:
            l = layers.pop()
            self.check_layer(l)
            return acts[l - 1]
        if len(set(acts)) == 1:
            return acts[0]
        raise NotCheckable("sigma of an argument with no layer, in a model with several activations")

    def activation(self, e: Act):
        act = self.act_of(e.args[0])
        if not act.entry.elementwise:
            raise NotCheckable(f"sigma/sigma' of a {act.name} layer ({act.name} is not element-wise)")
        v = self.value(e.args[0])
        res = derive_activation(act)
        fn = res.f if e.order == 0 else res.fprime
        subs = {alpha: sp.nsimplify(act.param)} if act.param is not None else {}

        def one(x):
            r = fn.xreplace({zs: x, **subs})
            return r if isinstance(r, sp.Rational) else _num(r)

        if _is_mat(v):
            return v.applyfunc(one)
        return one(v)

    def partial(self, e: Partial):
        var = e.args[1]
        inst, p = self.inst, self.p
        if isinstance(var, sp.Indexed):
            idx = [self.idx(i) for i in var.indices]
            if var.base == w_base:
                l = self.check_layer(idx[0])
                return inst.dC(p, w_base[l, self.check_unit(l, idx[1]), self.check_unit(l - 1, idx[2])])
            if var.base == b_base:
                if not inst.context.spec.bias:
                    raise NotCheckable("dC/db in a model without biases")
                l = self.check_layer(idx[0])
                return inst.dC(p, b_base[l, self.check_unit(l, idx[1])])
            if var.base == z_base:
                l = self.check_layer(idx[0])
                return inst.delta(p, l, 1, self.check_unit(l, idx[1])) * inst.scale
            if var.base == a_base:
                l = self.check_layer(idx[0])
                return self.dA(l, 1, self.check_unit(l, idx[1])) * inst.scale
            raise NotCheckable(f"dC/d{var.base}")
        if isinstance(var, Mat):
            name = var.name
            layer = self.idx(var.layer) if var.layer is not None else None
            if layer is None or var.sample is not None:
                raise NotCheckable(f"dC/d{name} without a layer")
            lo = 0 if name in ("a", "A") else 1
            self.check_layer(layer, lo)
            n = inst.width(layer)
            if name in ("w", "W"):
                return self.weight(layer, lambda j, k: inst.dC(p, w_base[layer, j, k]))
            if name in ("b", "B"):
                return self.vec([inst.dC(p, b_base[layer, j]) for j in range(1, n + 1)])
            if name == "z":
                return self.vec([inst.delta(p, layer, 1, j) * inst.scale for j in range(1, n + 1)])
            if name == "Z":
                return self.batch(lambda s, j: inst.delta(p, layer, s, j) * inst.scale, n)
            if name == "a":
                return self.vec([self.dA(layer, 1, j) * inst.scale for j in range(1, n + 1)])
            if name == "A":
                return self.batch(lambda s, j: self.dA(layer, s, j) * inst.scale, n)
        raise NotCheckable("a derivative with respect to something other than w, b, z, a, W, b, Z, A")

    def isum(self, e: ISum):
        body, var = e.args
        total = None
        kind = "layer"
        top = max(max(self.inst.spec.sizes), self.inst.m, self.inst.L)
        for v in range(0, top + 1):
            sub = Evaluator(self.inst, self.p, {**self.bind, var: v}, self.convention, self.layout)
            try:
                val = sub.value(body)
            except OutOfRange as err:
                kind = err.kind if kind == "layer" else kind
                continue
            total = val if total is None else total + val
        if total is None:
            raise OutOfRange(f"no value of {var} where the summand is defined", kind)
        return total
