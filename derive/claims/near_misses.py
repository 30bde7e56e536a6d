"""Near misses of a refuted claim: the right side changed by one typical slip at a time, in the order tried.

:func:`variants` yields (the slip in words, the changed right side): the sign of the side or of one term, a factor 2,
a stray or missing 1/m, a missing or extra σ', σ' at the wrong layer or at a instead of z, a quantity of the wrong
layer, the two values or the condition of a piecewise definition, a transpose, the order of a product, swapped
indices, and last a quantity of the wrong kind (W where a^{l-1} was meant). :mod:`derive.claims.verdicts` names the
first one under which the claim holds.
"""

from __future__ import annotations

import itertools

import sympy as sp

from derive.claims.ir import Act, Cases, Deriv, Had, Mat, Partial, Tr, is_matrix
from derive.core.book import book_text
from derive.core.symbols import a as a_base
from derive.core.symbols import delta as delta_base
from derive.core.symbols import y as y_base
from derive.core.symbols import z as z_base

__all__ = ["variants"]

_QUANTITIES = ("a", "z", "w", "b", "delta")


def _z_nodes(*exprs) -> list[sp.Basic]:
    found = []
    for e in exprs:
        for n in sp.preorder_traversal(e):
            cand = None
            if (isinstance(n, sp.Indexed) and n.base == z_base) or (isinstance(n, Mat) and n.name in ("z", "Z")):
                cand = n
            elif isinstance(n, sp.Indexed) and n.base == delta_base:
                cand = z_base[n.indices]
            elif isinstance(n, Mat) and n.name in ("delta", "Delta", "dZ") and n.layer is not None:
                cand = Mat(sp.Symbol("z" if n.name == "delta" else "Z"), *n.args[1:])
            if cand is not None and cand not in found:
                found.append(cand)
    return found


def variants(lhs, rhs, indices, m_symbol):
    """(description, new right side) for each typical slip, in the order they are tried."""
    yield "sign: the right side has the wrong sign", -rhs
    yield "factor 2: the right side is half the true value", 2 * rhs
    yield "factor 2: the right side is twice the true value", rhs / 2
    yield "missing 1/m: the right side lacks the 1/m of the mean over the batch", rhs / m_symbol
    yield "stray 1/m: the right side has a 1/m too many", rhs * m_symbol
    yield from _inner_variants(rhs)
    for zn in _z_nodes(lhs, rhs):
        fix = Had(rhs, Act(zn, 1)) if is_matrix(rhs) else rhs * Act(zn, 1)
        yield f"missing sigma': the right side lacks the factor sigma'({book_text(zn)})", fix
    for node in [n for n in sp.preorder_traversal(rhs) if isinstance(n, Act) and n.order == 1]:
        yield f"extra sigma': the factor {book_text(node)} does not belong", rhs.xreplace({node: sp.Integer(1)}) \
            if not is_matrix(node) else _drop_had(rhs, node)
    for node in [n for n in sp.preorder_traversal(rhs) if isinstance(n, (Mat, Tr, Partial, Deriv)) and is_matrix(n)]:
        if isinstance(node, Tr):
            yield f"transpose: {book_text(node)} should not be transposed", rhs.xreplace({node: node.args[0]})
        elif not isinstance(node.args[0] if isinstance(node, (Partial, Deriv)) else node, Tr):
            yield f"transpose: {book_text(node)} should be transposed", rhs.xreplace({node: Tr(node)})
    if is_matrix(rhs):
        yield "transpose: the right side is the transpose of the true value", Tr(rhs)
    for node in [n for n in sp.preorder_traversal(rhs) if isinstance(n, sp.Mul)]:
        c_part = [x for x in node.args if x.is_commutative]
        nc_part = [x for x in node.args if not x.is_commutative]
        if len(nc_part) >= 2:
            swapped = sp.Mul(*c_part) * sp.Mul(*reversed(nc_part))
            yield "order: the matrix product is written in the other order (the other layout's form?)", \
                rhs.xreplace({node: swapped})
    for u, v in itertools.combinations(sorted(indices, key=str), 2):
        yield f"swapped index: {u} and {v} are exchanged on the right side", rhs.xreplace({u: v, v: u})
    for node in [n for n in sp.preorder_traversal(rhs) if isinstance(n, sp.Indexed) and len(n.indices) == 3]:
        swapped = node.base[node.indices[0], node.indices[2], node.indices[1]]
        yield f"swapped index: {book_text(node)} should be {book_text(swapped)}", rhs.xreplace({node: swapped})
    yield from _quantity_variants(rhs)


def _inner_variants(rhs):
    """Slips inside the right side: one term's sign, σ' of the wrong layer, a quantity of the wrong layer."""
    for node in [n for n in sp.preorder_traversal(rhs) if isinstance(n, sp.Add)]:
        for term in node.args:
            yield f"sign: the term {book_text(term)} has the wrong sign", rhs.xreplace({node: node - 2 * term})
    for node in [n for n in sp.preorder_traversal(rhs) if isinstance(n, Act) and n.order == 1]:
        for shift in (-1, 1):
            moved = _shift_layer(node.args[0], shift)
            if moved is not None:
                yield f"sigma' at the wrong layer: {book_text(node)} should be {book_text(Act(moved, 1))}", \
                    rhs.xreplace({node: Act(moved, 1)})
    for node in [n for n in sp.preorder_traversal(rhs) if isinstance(n, Act)]:
        at_z = node.args[0].replace(lambda q: isinstance(q, sp.Indexed) and q.base == a_base,
                                    lambda q: z_base[q.indices]).replace(
            lambda q: isinstance(q, Mat) and q.name in ("a", "A"), lambda q: Mat(sp.Symbol(q.name.replace(
                "a", "z").replace("A", "Z")), *q.args[1:]))
        if at_z != node.args[0]:
            yield f"sigma' at a instead of z: {book_text(node)} should be {book_text(Act(at_z, node.order))}", \
                rhs.xreplace({node: Act(at_z, node.order)})
    for node in [n for n in sp.preorder_traversal(rhs) if isinstance(n, (sp.Indexed, Mat)) and not n.has(Act)]:
        for shift in (-1, 1):
            moved = _shift_layer(node, shift)
            if moved is not None:
                yield f"layer index: {book_text(node)} should be {book_text(moved)}", rhs.xreplace({node: moved})
    for node in [n for n in sp.preorder_traversal(rhs) if isinstance(n, Cases) and len(n.args) == 4]:
        v1, c1, v2, c2 = node.args
        yield "cases: the values of the two cases are exchanged", rhs.xreplace({node: Cases(v2, c1, v1, c2)})
        flip = {sp.Gt: sp.Lt, sp.Lt: sp.Gt, sp.Ge: sp.Le, sp.Le: sp.Ge}.get(type(c1))
        if flip is not None:
            yield "cases: the condition of the first case is reversed", \
                rhs.xreplace({node: Cases(v1, flip(*c1.args, evaluate=False), v2, c2)})


def _outside_derivatives(expr):
    """The nodes of ``expr`` that are not inside a derivative (whose variables are not quantities to swap)."""
    if isinstance(expr, (Partial, Deriv)):
        return
    yield expr
    for arg in expr.args:
        yield from _outside_derivatives(arg)


def _quantity_variants(rhs):
    """A vector or matrix of the wrong kind (W where the layer's input a^{l-1} was meant): the other quantities of
    the neighbouring layers, as written or transposed."""
    for node in [n for n in _outside_derivatives(rhs) if isinstance(n, Mat) and n.layer is not None
                 and n.sample is None and n.name in (*_QUANTITIES, "W")]:
        for name in _QUANTITIES:
            for shift in (-1, 0, 1):
                if name == node.name.lower() and shift == 0:
                    continue
                other = Mat(sp.Symbol(name), node.layer + shift)
                for cand in (other, Tr(other)):
                    yield f"wrong quantity: {book_text(node)} should be {book_text(cand)}", rhs.xreplace({node: cand})


def _shift_layer(node, shift: int):
    """The same quantity one layer up or down (None if it has no layer)."""
    if isinstance(node, sp.Indexed) and node.base != y_base and node.indices:
        return node.base[(node.indices[0] + shift, *node.indices[1:])]
    if isinstance(node, Mat) and node.layer is not None:
        return Mat(node.args[0], node.layer + shift, *node.args[2:])
    return None


def _drop_had(expr, node):
    def fix(h):
        args = [x for x in h.args if x != node]
        return args[0] if len(args) == 1 else h
    return expr.replace(lambda h: isinstance(h, Had) and node in h.args, fix)
