"""The element-wise functions of a kernel, printed from the proven stable forms (:mod:`derive.functions.stable`).

Every function takes an optional ``out`` array and evaluates its form there, one ufunc call with ``out=`` per
operation (:mod:`derive.codegen.inplace`): given a buffer it allocates nothing. A ``Piecewise`` on ``z > 0`` becomes
masks on ``z.real`` (never ``np.where``, which evaluates both branches and overflows): masked assignments where a
branch holds exp or log, a blend ``neg + mask * (pos - neg)`` where both are polynomials (they cannot overflow).
Either way the kernel stays analytic and complex step works through it.
"""

from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import log1p
from sympy.core.sympify import _sympify

from derive.codegen.inplace import inplace_lines
from derive.codegen.printer import scalar_code
from derive.functions.stable import Piece, StableForms, n_units

__all__ = ["SOFTMAX_PIECES", "inlined", "piece_source", "softmax_source"]

#: the stable pieces the softmax source prints inline (the shifted numerators and one unit of J^T g)
SOFTMAX_PIECES = ("softmax_numerator", "softmax_vjp")

#: the mask of a blend, a name in the printed form
_MASK = sp.Symbol("mask")


def inlined(piece: Piece) -> bool:
    """True for a piece the kernel writes inline instead of calling: f(z) = z (A = Z) and f' = 1 (no factor)."""
    return piece.expr == piece.args[0] or piece.expr == 1


def _signature(piece: Piece, expr: sp.Expr) -> list[str]:
    args = [str(s) for s in piece.args]
    if expr.has(n_units):
        args.append("n_out")
    return [f"def {piece.name}({', '.join(args)}, out=None):", f'    """{piece.doc}."""']


def _allocate(piece: Piece, expr: sp.Expr) -> list[str]:
    """``out`` if the caller gave none: the shape of the first argument, the type of the arrays the form reads."""
    arrays = [str(s) for s in piece.args if s in expr.free_symbols] or [str(piece.args[0])]
    dtype = f"np.result_type({', '.join(arrays)})" if len(arrays) > 1 else f"{arrays[0]}.dtype"
    return ["    if out is None:", f"        out = np.empty({piece.args[0]}.shape, dtype={dtype})"]


def _evaluate(expr: sp.Expr) -> list[str]:
    """``expr`` into ``out`` in place; a form with a node that has no in-place form is copied in whole."""
    lines = inplace_lines(expr)
    return lines if lines is not None else [f"    np.copyto(out, {scalar_code(expr)})"]


def piece_source(piece: Piece) -> str:
    """A small function for one piece, writing into ``out``; a Piecewise on z > 0 becomes masks."""
    expr = sp.piecewise_fold(piece.expr)
    head = [*_signature(piece, expr), *_allocate(piece, expr)]
    if not isinstance(expr, sp.Piecewise):
        return "\n".join([*head, *_evaluate(expr), "    return out"]) + "\n"
    (pos_expr, cond), (neg_expr, other) = expr.args
    z = piece.args[0]
    if cond != (z > 0) or other is not sp.true:
        raise ValueError(f"piece {piece.name}: only a Piecewise on {z} > 0 is printed as masks")
    if not expr.has(sp.exp, sp.log, log1p):
        # polynomial branches cannot overflow: blend them with the real mask (no gathers)
        blend = neg_expr + _MASK * sp.expand(pos_expr - neg_expr)
        return "\n".join([*head, f"    {_MASK} = {z}.real > 0", *_evaluate(blend), "    return out"]) + "\n"
    lines = [
        *head,
        f"    pos = {z}.real > 0",
        "    neg = ~pos",
        *_masked(piece, pos_expr, "pos"),
        *_masked(piece, neg_expr, "neg"),
        "    return out",
    ]
    return "\n".join(lines) + "\n"


def _masked(piece: Piece, e: sp.Expr, mask: str, target: str = "e") -> list[str]:
    """``out[mask] = e`` with the arrays restricted to the mask; a repeated subexpression computed once."""
    e = _sympify(e).xreplace(  # strict: a piece branch may be a plain int (0); never text
        {s: sp.Symbol(f"{s}[{mask}]") for s in piece.args})
    temps, (reduced,) = sp.cse(e, symbols=sp.numbered_symbols(f"{target}_"))
    lines = [f"    {t} = {scalar_code(v)}" for t, v in temps]
    return [*lines, f"    out[{mask}] = {scalar_code(reduced)}"]


def softmax_source(name: str, unit_axis: int, stable: StableForms, lse: bool, vjp: bool) -> str:
    """The shifted softmax ``name`` of every sample, with the log-sum-exp (``lse``) and J^T g (``vjp``) if the
    kernel needs them; the softmax and J^T g write into ``out``."""
    numerator = stable.pieces["softmax_numerator"].expr
    num = scalar_code(numerator)
    shifted = "\n".join(_evaluate(numerator))
    src = f'''
def {name}(z, out=None):
    """Softmax of every sample, with the max subtracted (step softmax.shift): no exponent is positive."""
    if out is None:
        out = np.empty(z.shape, dtype=z.dtype)
    c = z.real.max(axis={unit_axis}, keepdims=True)
{shifted}
    out /= out.sum(axis={unit_axis}, keepdims=True)
    return out
'''
    if lse:
        src += f'''

def log_sum_exp(z):
    """ln sum_k exp(z_k) of every sample, with the max subtracted (step lse.shift)."""
    c = z.real.max(axis={unit_axis}, keepdims=True)
    return c + np.log({num}.sum(axis={unit_axis}, keepdims=True))
'''
    if vjp:
        piece = stable.pieces["softmax_vjp"]
        term = "\n".join(_evaluate(piece.expr.xreplace({piece.args[0]: sp.Symbol("s")})))
        src += f'''

def {name}_vjp(s, g, out=None):
    """J^T g for every sample, J = diag(s) - s s^T the softmax Jacobian (step softmax.vjp)."""
    if out is None:
        out = np.empty(s.shape, dtype=np.result_type(s, g))
    dot = (s * g).sum(axis={unit_axis}, keepdims=True)
{term}
    return out
'''
    return src
