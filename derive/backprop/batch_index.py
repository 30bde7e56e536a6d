"""The batch forms derived in index form, for symbolic widths and batch size, and read off as matrices.

z^l_{jx} is the layer's forward as the entry of a batch (:meth:`derive.layers.dense.DenseSym.batch_entry`); the
chain rule over units and samples (dC/dtheta = sum_{j,x} s Delta^l_{jx} dz^l_{jx}/dtheta) is the one stated rule;
``sympy.diff`` gives dz/dtheta as Kronecker deltas, ``doit`` collapses the sums, and SymPy's array converters
(``convert_indexed_to_array``, ``convert_array_to_matrix``) read the result as ``MatMul``/``Transpose``/
``HadamardProduct``. They silently drop scalar factors such as 1/m and cannot read an element-wise product with a
contraction; both are handled here: scalars are kept apart, and such a product is read part by part.

These forms are derived at symbolic widths: they depend on the layout, the layer's index (its names), biases and
the batch scale, never on a model. Those of the first :data:`SHIPPED_DEPTH` layers are shipped derived
(:mod:`derive.backprop.shipped`, 0.1-0.25 s each to derive, 2-10 ms to load), each pickled on its own so that a
model loads only its own layers', and served when the shipped copy is current; anything else is derived here.
"""

from __future__ import annotations

import pickle
from functools import cache

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from derive.backprop.batch_names import Names, m, width
from derive.backprop.batch_nodes import Apply, Fn
from derive.backprop.batch_textbook import dense_at
from derive.backprop.sums import pull_constants

__all__ = ["SHIPPED_DEPTH", "derive_error_form", "derive_gradient_form", "index_to_matrix", "shipped_index_forms"]

#: the layers whose index forms are shipped derived (a deeper layer's are derived when asked for)
SHIPPED_DEPTH = 16

_p, _q, _j, _k, _x = sp.symbols("p q j k x", integer=True)
#: the all-ones batch vector, a symbol until the form is read off (then OneMatrix)
_ones = sp.MatrixSymbol("u", m, 1)
_MatrixElement = sp.matrices.expressions.matexpr.MatrixElement


def _z_index(N: Names, l: int, bias: bool, unit, sample, previous=None, k=_k) -> sp.Expr:
    """z^l_{unit,sample} from the layer, as the layout stores W, A, b (``previous(k, x)``: entry of A^{l-1})."""
    prev = previous or (lambda q, x: N.entry(N.A(l - 1), q, x))
    return dense_at(l, bias).batch_entry(N.W(l), N.b(l), prev, unit, sample, k, N.layout, _ones)


def _read_matrix(expr: sp.Expr, first: list) -> MatrixExpr:
    """SymPy's array converters, guarded: they drop scalar factors (1/m), so those are kept apart."""
    from sympy.tensor.array.expressions import convert_array_to_matrix, convert_indexed_to_array

    out = convert_array_to_matrix(convert_indexed_to_array(expr, first_indices=first))
    return out.parent if isinstance(out, _MatrixElement) else out


def index_to_matrix(expr: sp.Expr, first: list) -> MatrixExpr:
    """Read an index-form entry (free indices ``first``: row, column) as a matrix expression.

    Scalars are factored out first; a product of a contraction and entries carrying the same free indices is an
    element-wise product, read as a Hadamard product of the two parts.
    """
    expr = pull_constants(expr)
    coeff, rest = expr.as_independent(*expr.atoms(_MatrixElement), as_Add=False)
    factors = sp.Mul.make_args(rest)
    sums = [f for f in factors if f.has(sp.Sum)]
    plain = [f for f in factors if not f.has(sp.Sum)]
    if sums and plain:
        return coeff * sp.HadamardProduct(_read_matrix(sp.Mul(*sums), first), _read_matrix(sp.Mul(*plain), first))
    return coeff * _read_matrix(rest, first)


def _fit(form: MatrixExpr, target: MatrixExpr) -> MatrixExpr:
    """The form with ``u`` back as the all-ones matrix, transposed if it was read off as the target's transpose."""
    form = form.xreplace({_ones: sp.OneMatrix(m, 1)})
    if form.shape != target.shape:
        form = sp.Transpose(form).doit()
    return form


def _gradient_key(N: Names, l: int, param: str, bias: bool, s: sp.Expr) -> tuple:
    return (param, N.layout.value, l, bias, sp.srepr(sp.Integer(s) if isinstance(s, int) else s))


def _error_key(N: Names, l: int, bias: bool) -> tuple:
    return ("Delta", N.layout.value, l, bias)


@cache
def _shipped() -> dict:
    from derive.core import shipped

    return shipped.load(__name__, "index_forms", dict) or {}


def _from_shipped(key: tuple) -> tuple[sp.Expr, MatrixExpr] | None:
    blob = _shipped().get(key)
    if not isinstance(blob, bytes):
        return None
    # safe: the outer payload, these bytes included, was unpickled only because its digest is the one bpv records
    found = pickle.loads(blob)
    return found if isinstance(found, tuple) and len(found) == 2 else None


@cache
def derive_gradient_form(N: Names, l: int, param: str, bias: bool, s: sp.Expr) -> tuple[sp.Expr, MatrixExpr]:
    """dC/dW^l or dC/db^l: chain rule over every unit and sample, sympy.diff of z in index form, read off.

    dC/dtheta = sum_x sum_j (dC/dz^l_{jx}) (dz^l_{jx}/dtheta), with dC/dz^l_{jx} = s Delta^l_{jx} (the batch cost
    is s sum_x C_x and only C_x depends on z^l_x). Returns (index form, matrix form). Served from the shipped copy
    when it holds this one (module doc).
    """
    return _from_shipped(_gradient_key(N, l, param, bias, s)) or _gradient_form_fresh(N, l, param, bias, s)


def _gradient_form_fresh(N: Names, l: int, param: str, bias: bool, s: sp.Expr) -> tuple[sp.Expr, MatrixExpr]:
    matrix = getattr(N, param)(l)
    if param == "W":
        target, first = (matrix[_p, _q], [_p, _q]) if N.layout.columns else (matrix[_q, _p], [_q, _p])
    else:
        target, first = (matrix[_p, 0], [_p]) if N.layout.columns else (matrix[0, _p], [_p])
    summand = N.entry(N.Delta(l), _j, _x) * sp.diff(_z_index(N, l, bias, _j, _x), target)
    index_form = (s * sp.Sum(sp.Sum(summand, (_j, 0, width(l) - 1)), (_x, 0, m - 1))).doit()
    # the entry with the ones vector's entries as 1, as the matrix form has u back as the all-ones matrix
    entry = index_form.replace(lambda e: isinstance(e, _MatrixElement) and e.parent == _ones, lambda e: sp.Integer(1))
    return entry, _fit(index_to_matrix(index_form, first), matrix)


@cache
def derive_error_form(N: Names, l: int, bias: bool, upstream: sp.MatrixSymbol) -> tuple[sp.Expr, MatrixExpr]:
    """Delta^l from the upstream error (Delta^{l+1}, or the pre-scaled E^{l+1}): per sample,
    sum_k (dC_x/dz^{l+1}_{kx}) (dz^{l+1}_{kx}/dz^l_{px}), read off. The derivation is linear in the upstream error
    and never looks at its name: it is derived (or served from the shipped copy, module doc) with Delta^{l+1}, and
    ``upstream`` put in its place, the same matrix expression deriving with it gives."""
    delta = N.Delta(l + 1)
    index_form, form = _from_shipped(_error_key(N, l, bias)) or _error_form_fresh(N, l, bias, delta)
    if upstream == delta:
        return index_form, form
    return index_form.xreplace({delta: upstream}), form.xreplace({delta: upstream})


def _error_form_fresh(N: Names, l: int, bias: bool, upstream: sp.MatrixSymbol) -> tuple[sp.Expr, MatrixExpr]:
    Z = N.Z(l)
    sigma = sp.Function("sigma")
    # unit k of layer l+1, summing over the units j of layer l
    z_next = _z_index(N, l + 1, bias, _k, _x, previous=lambda j, x: sigma(N.entry(Z, j, x)), k=_j)
    summand = N.entry(upstream, _k, _x) * sp.diff(z_next, N.entry(Z, _p, _x))
    index_form = sp.Sum(summand, (_k, 0, width(l + 1) - 1)).doit()
    S = sp.MatrixSymbol("S", *Z.shape)
    entries = index_form.replace(lambda t: isinstance(t, sp.Derivative), lambda t: N.entry(S, _p, _x))
    first = [_p, _x] if N.layout.columns else [_x, _p]
    form = index_to_matrix(entries, first).xreplace({S: Apply(Fn.DERIVATIVE, Z)})
    return index_form, _fit(form, N.Delta(l))


def shipped_index_forms() -> dict[tuple, bytes]:
    """The forms of layers 1 to :data:`SHIPPED_DEPTH`, both layouts, with and without biases, mean and sum, always
    derived (what :mod:`derive.backprop.shipped` ships): each pickled on its own, so a model unpickles only its own."""
    out: dict[tuple, bytes] = {}
    for layout in ("columns", "rows"):
        N = Names(layout)
        for bias in (True, False):
            for l in range(1, SHIPPED_DEPTH + 1):
                for param in ("W", "b") if bias else ("W",):
                    for s in (1 / m, sp.Integer(1)):
                        form = _gradient_form_fresh(N, l, param, bias, s)
                        out[_gradient_key(N, l, param, bias, s)] = pickle.dumps(form, pickle.HIGHEST_PROTOCOL)
                if l < SHIPPED_DEPTH:
                    form = _error_form_fresh(N, l, bias, N.Delta(l + 1))
                    out[_error_key(N, l, bias)] = pickle.dumps(form, pickle.HIGHEST_PROTOCOL)
    return out
