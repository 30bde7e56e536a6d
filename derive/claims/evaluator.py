"""Values of IR expressions on an :class:`~derive.claims.instance.Instance`: vectors, matrices, σ, ∂C/∂v, sums.

Shapes follow the context's layout for batch quantities; the book's column vectors otherwise.
"""

from __future__ import annotations

import sympy as sp

from derive.claims.instance import Instance
from derive.claims.ir import (
    L2_LAMBDA,
    L2_N,
    Act,
    Cases,
    Cross,
    Deriv,
    EFn,
    Had,
    ISum,
    Mat,
    MatLit,
    Ones,
    Partial,
    SqNorm,
    Tr,
)
from derive.claims.readings import CrossAmbiguous, Reading
from derive.claims.semantics import MAX_EXPONENT, NotCheckable, OutOfRange, ShapeMismatch, number
from derive.core.symbols import a as a_base
from derive.core.symbols import b as b_base
from derive.core.symbols import delta as delta_base
from derive.core.symbols import w as w_base
from derive.core.symbols import y as y_base
from derive.core.symbols import z as z_base
from derive.functions.activations import alpha, derive_activation, zs
from numeric.spec import Layout

__all__ = ["Evaluator"]


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

    def __init__(self, inst: Instance, p: int, bindings: dict, reading: Reading | str = "per_sample",
                 layout: str | None = None):
        self.inst = inst
        self.p = p
        self.bind = {sp.Symbol("L", integer=True, positive=True): inst.L, **bindings}
        self.reading = reading if isinstance(reading, Reading) else Reading(reading)
        self.convention = self.reading.dz
        self.layout = layout or inst.spec.layout

    def num(self, r):
        """A value as a number (exact rationals stay exact); the tangent evaluator keeps expressions."""
        return r if isinstance(r, sp.Rational) else number(r)

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
            return number(e)
        if isinstance(e, sp.Symbol):
            return self.symbol(e)
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
        if isinstance(e, Cross):
            return self.cross(e)
        if isinstance(e, Act):
            return self.activation(e)
        if isinstance(e, Partial):
            return self.partial(e)
        if isinstance(e, Deriv):
            from derive.claims.local import local_derivative

            return local_derivative(self, e)
        if isinstance(e, MatLit):
            return self.literal(e)
        if isinstance(e, Cases):
            return self.cases(e)
        if isinstance(e, ISum):
            return self.isum(e)
        if isinstance(e, (EFn, SqNorm)):
            return self.elementwise(e)
        if isinstance(e, Ones) or (isinstance(e, Tr) and isinstance(e.args[0], Ones)):
            raise NotCheckable("the ones vector 𝟙 outside a product (its length is not known)")
        if isinstance(e, sp.Add):
            return self.add(e)
        if isinstance(e, sp.Mul):
            return self.mul(e)
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
            return self.num(type(e)(v))
        raise NotCheckable(f"{type(e).__name__} cannot be evaluated")

    def add(self, e: sp.Add):
        """A sum: scalars broadcast to the shape of the vectors/matrices in it."""
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

    def mul(self, e: sp.Mul):
        """A product in the order written; 𝟙 and 𝟙ᵀ take the length the product needs."""
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

    def symbol(self, e: sp.Symbol):
        """m (the batch size), x (a scalar input), a bound index, or the cost C."""
        if e.name == "m":
            return sp.Integer(self.inst.m)
        if e.name == "x" and e.is_real:
            return self.inst.points[self.p][e]
        if e in self.bind:
            return sp.Integer(self.bind[e])
        if e.name == "C":
            return self.inst.cost(self.p)
        if e.name == "C_0":  # the cost without its L2 term (a cost definition in a model with one)
            return self.inst.cost0(self.p)
        if e in (L2_LAMBDA, L2_N):
            penalty = self.inst.context.spec.penalty
            if penalty is None:
                raise NotCheckable(f"{e} (of an L2 term) in a model without one")
            return sp.nsimplify(penalty.lam) if e == L2_LAMBDA else sp.Integer(self.inst.l2_n())
        raise NotCheckable(f"the symbol {e} has no value on the model")

    def cross(self, e):
        """``×`` read by shape: a matrix product or an element-wise one; where both fit and differ, not checkable."""
        x, y = self.value(e.args[0]), self.value(e.args[1])
        if not (_is_mat(x) and _is_mat(y)):
            return x * y
        readings = []
        if x.cols == y.rows:
            readings.append(x * y)
        if x.shape == y.shape:
            readings.append(x.multiply_elementwise(y))
        if not readings:
            raise ShapeMismatch(f"× of {x.shape} and {y.shape} (neither a matrix nor an element-wise product)")
        if len(readings) == 2 and readings[0] != readings[1]:
            if self.reading.cross is None:
                raise CrossAmbiguous(f"× of two {x.shape} matrices: the matrix and the element-wise product both fit")
            return readings[0 if self.reading.cross == "matrix" else 1]
        return readings[0]

    def literal(self, e: MatLit) -> sp.Matrix:
        """A matrix literal: every entry a scalar of the model."""
        rows = [[self.value(x) for x in row] for row in e.rows()]
        if any(_is_mat(v) for row in rows for v in row):
            raise NotCheckable("a matrix literal with vector or matrix entries (block matrices are not read)")
        return sp.Matrix(rows)

    def cases(self, e: Cases):
        """The value of the first case whose condition holds at the point."""
        for val, cond in e.pairs():
            if cond is sp.true:
                return self.value(val)
            lhs, rhs = self.value(cond.lhs), self.value(cond.rhs)
            if _is_mat(lhs) or _is_mat(rhs):
                raise NotCheckable("a condition on a vector or matrix")
            if lhs == rhs and not isinstance(cond, (sp.Eq, sp.Ge, sp.Le)):
                raise NotCheckable("a sample point on the boundary of a piecewise definition")
            if bool(type(cond)(lhs, rhs)):
                return self.value(val)
        raise NotCheckable("no case of the piecewise definition holds at the sample point")

    def elementwise(self, e):
        """f(v) entry by entry (EFn) or the sum of squares of the entries (SqNorm)."""
        v = self.value(e.args[0])
        if isinstance(e, SqNorm):
            return sum((x * x for x in v), sp.Integer(0)) if _is_mat(v) else v * v
        fn = {"log": sp.log, "exp": sp.exp, "tanh": sp.tanh}[str(e.args[1])]

        def one(x):
            return self.num(fn(x))

        return v.applyfunc(one) if _is_mat(v) else one(v)

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
            return self.num(fn.xreplace({zs: x, **subs}))

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
            sub = type(self)(self.inst, self.p, {**self.bind, var: v}, self.reading, self.layout)
            try:
                val = sub.value(body)
            except OutOfRange as err:
                kind = err.kind if kind == "layer" else kind
                continue
            total = val if total is None else total + val
        if total is None:
            raise OutOfRange(f"no value of {var} where the summand is defined", kind)
        return total
