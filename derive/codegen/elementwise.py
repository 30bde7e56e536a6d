"""The element-wise functions of a kernel, printed from the proven stable forms (:mod:`derive.functions.stable`).

A ``Piecewise`` on ``z > 0`` becomes masks on ``z.real`` (never ``np.where``, which evaluates both branches and
overflows): masked assignments where a branch holds exp or log, a blend ``neg + mask * (pos - neg)`` where both are
polynomials (they cannot overflow). Either way the kernel stays analytic and complex step works through it. A chain
of constant shifts, scalings and one-argument functions is evaluated in one buffer.
"""

from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import log1p
from sympy.core.sympify import _sympify
from sympy.printing.precedence import PRECEDENCE

from derive.codegen.printer import scalar_code, scalar_operand
from derive.functions.stable import Piece, StableForms, n_units

__all__ = ["SOFTMAX_PIECES", "in_place_chain", "inlined", "piece_source", "softmax_source"]

#: the stable pieces the softmax source prints inline (the shifted numerators and one unit of J^T g)
SOFTMAX_PIECES = ("softmax_numerator", "softmax_vjp")

_UFUNCS = {sp.tanh: "tanh", sp.exp: "exp", sp.log: "log", log1p: "log1p"}
#: the binary ufuncs of a chain (one constant operand), as augmented assignments
_AUGMENTED = {"add": "+=", "multiply": "*="}


def inlined(piece: Piece) -> bool:
    """True for a piece the kernel writes inline instead of calling: f(z) = z (A = Z) and f' = 1 (no factor)."""
    return piece.expr == piece.args[0] or piece.expr == 1


def _signature(piece: Piece, expr: sp.Expr) -> list[str]:
    args = [str(s) for s in piece.args]
    if expr.has(n_units):
        args.append("n_out")
    return [f"def {piece.name}({', '.join(args)}):", f'    """{piece.doc}."""']


def piece_source(piece: Piece) -> str:
    """A small function for one piece; a Piecewise on z > 0 becomes two masked assignments."""
    expr = sp.piecewise_fold(piece.expr)
    head = _signature(piece, expr)
    if not isinstance(expr, sp.Piecewise):
        chain = in_place_chain(expr, piece.args[0])
        body = [f"    return {scalar_code(expr)}"] if chain is None else chain
        return "\n".join([*head, *body]) + "\n"
    (pos_expr, cond), (neg_expr, other) = expr.args
    z = piece.args[0]
    if cond != (z > 0) or other is not sp.true:
        raise ValueError(f"piece {piece.name}: only a Piecewise on {z} > 0 is printed as masks")
    if not expr.has(sp.exp, sp.log, log1p):
        return "\n".join([*head, *_blend(z, pos_expr, neg_expr)]) + "\n"
    arrays = [str(s) for s in piece.args if s in expr.free_symbols]
    dtype = f"np.result_type({', '.join(arrays)})" if len(arrays) > 1 else f"{z}.dtype"
    lines = [
        *head,
        f"    out = np.empty({z}.shape, dtype={dtype})",
        f"    pos = {z}.real > 0",
        "    neg = ~pos",
        *_masked(piece, pos_expr, "pos"),
        *_masked(piece, neg_expr, "neg"),
        "    return out",
    ]
    return "\n".join(lines) + "\n"


def _blend(z: sp.Symbol, pos_expr: sp.Expr, neg_expr: sp.Expr) -> list[str]:
    """Polynomial branches cannot overflow: blend them with the real mask (one pass, no gathers)."""
    jump = sp.expand(pos_expr - neg_expr)
    blend = f"mask * {scalar_operand(jump, PRECEDENCE['Mul'])}" if jump != 1 else "mask * 1.0"
    if neg_expr != 0:
        blend = f"{scalar_code(neg_expr)} + {blend}"
    return [f"    mask = {z}.real > 0", f"    return {blend}"]


def _masked(piece: Piece, e: sp.Expr, mask: str, target: str = "e") -> list[str]:
    """``out[mask] = e`` with the arrays restricted to the mask; a repeated subexpression computed once."""
    e = _sympify(e).xreplace(  # strict: a piece branch may be a plain int (0); never text
        {s: sp.Symbol(f"{s}[{mask}]") for s in piece.args})
    temps, (reduced,) = sp.cse(e, symbols=sp.numbered_symbols(f"{target}_"))
    lines = [f"    {t} = {scalar_code(v)}" for t, v in temps]
    return [*lines, f"    out[{mask}] = {scalar_code(reduced)}"]


def in_place_chain(expr: sp.Expr, var: sp.Symbol) -> list[str] | None:
    """Lines that evaluate a chain such as c1 + c2 f(c3 var) in one buffer, or None if ``expr`` is not one.

    A chain is a nesting of constant shifts, constant scalings and one-argument functions of ``var``: printed
    with ``out=`` it allocates one array instead of one per operation (a 256 KB temporary costs as much as
    the arithmetic on it).
    """
    steps: list[tuple[str, str]] = []  # (operation, operand), outermost first
    e = expr
    while e != var:
        if isinstance(e, sp.Add) and len(e.args) == 2 and e.args[0].is_Number:
            steps.append(("add", scalar_code(e.args[0])))
            e = e.args[1]
        elif isinstance(e, sp.Mul) and len(e.args) == 2 and e.args[0].is_Number:
            steps.append(("multiply", scalar_code(e.args[0])))
            e = e.args[1]
        elif type(e) in _UFUNCS and len(e.args) == 1:
            steps.append((_UFUNCS[type(e)], ""))
            e = e.args[0]
        else:
            return None
    if len(steps) < 2:
        return None
    op, operand = steps.pop()
    start = f"    out = np.{op}({var}, {operand})" if operand else f"    out = np.{op}({var})"
    return [start, *(_in_place(op, operand) for op, operand in reversed(steps)), "    return out"]


def _in_place(op: str, operand: str) -> str:
    """One step of the chain on the buffer: an augmented assignment, or a ufunc with ``out=``."""
    return f"    out {_AUGMENTED[op]} {operand}" if operand else f"    np.{op}(out, out=out)"


def softmax_source(name: str, unit_axis: int, stable: StableForms, lse: bool, vjp: bool) -> str:
    """The shifted softmax ``name`` of every sample, with the log-sum-exp (``lse``) and J^T g (``vjp``) if the
    kernel needs them."""
    num = scalar_code(stable.pieces["softmax_numerator"].expr)
    src = f'''
def {name}(z):
    """Softmax of every sample, with the max subtracted (step softmax.shift): no exponent is positive."""
    c = z.real.max(axis={unit_axis}, keepdims=True)
    e = {num}
    return e / e.sum(axis={unit_axis}, keepdims=True)
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
        term = scalar_code(piece.expr.xreplace({piece.args[0]: sp.Symbol("s")}))
        src += f'''

def {name}_vjp(s, g):
    """J^T g for every sample, J = diag(s) - s s^T the softmax Jacobian (step softmax.vjp)."""
    dot = (s * g).sum(axis={unit_axis}, keepdims=True)
    return {term}
'''
    return src
