r"""Reading neural-network notation: the rewrite layer in front of ``latex2sympy2``.

``latex2sympy2`` reads ``a^{l-1}_k`` as a power, drops ``^T``, reads ``\log`` as base 10, ``'`` as a transpose, does
not know ``\odot``, binds ``\sum`` to its first factor, cannot nest function calls, and treats ``x = y`` as an
assignment into global state (docs/conventions.md § LaTeX in). So this module reads the notation first:

* :func:`split_relation` splits a row at its top-level relations and sorts them: ``=`` (checkable), ``\equiv``,
  ``:=``, ``\coloneqq`` (definitions: nothing is parsed), ``\approx``, ``\to``, ``\leftarrow``, ``<`` ... (not
  checkable); an ``\eta`` marks an update rule;
* :func:`understand` reads one side. Every neural-network object is recognised here and replaced by a placeholder
  symbol ``\mathit{qqN}``: layer/unit names (``w^l_{jk}``, ``a^{l-1}_k``, ``\delta^L_j``, ``z^{[l]}``,
  ``W^{[l]}``, ``A^{[l-1]T}``, ``x^{(i)}``, ``dW``, ``dZ``, ``\Delta^l``, ``\hat y``, the ones vector
  ``\mathbf{1}``), partial derivatives
  ``\frac{\partial C}{\partial w^l_{jk}}`` and ``\nabla_a C``, ``\sigma(...)``, ``\sigma'(...)``, ``g'(...)``,
  ``\ln``/``\log`` (natural), ``\exp``, every parenthesised group (so nothing is ever nested inside a function call
  ``latex2sympy2`` would have to parse), transposes ``^T``, ``^\top``, ``^{\mathsf T}``, Hadamard products
  ``\odot``/``\circ`` (and ``*``, as course notes write it) and sums ``\sum_k`` (whose summand runs to the
  end of the term). Only numbers, ``+ - \cdot /
  \frac ^``, ``m`` and placeholders reach the adapter :mod:`derive.claims.l2s`; an unknown symbol or command stops
  the reading with a reason (the claim is then *unparsed*, never refuted).

What was understood is an expression of the nodes in :mod:`derive.claims.ir`, printed back with
:func:`derive.core.book.book_latex` for the user (:func:`echo`). This module assigns meaning to names only; values are
:mod:`derive.claims.semantics`.
"""

from __future__ import annotations

import sympy as sp

from derive.claims.ir import Had, Mat, Tr, index_symbol, is_matrix
from derive.claims.names import BARE, ELEMENT_BASES
from derive.claims.reader import Reader
from derive.claims.relations import Relation, split_relation
from derive.claims.tokens import Tok, Unparsed, normalize, tokenize
from derive.core.book import book_latex
from derive.core.symbols import y as y_base

__all__ = ["MAX_SIDE", "Relation", "Unparsed", "echo", "normalize", "resolve_bare", "split_relation", "understand",
           "understand_equation"]

MAX_SIDE = 2000


def understand(tex_or_tokens: str | list[Tok], layer_subscripts: bool = False, l2: bool = False) -> sp.Basic:
    """Read one side of a relation into an IR expression; :class:`Unparsed` with a reason otherwise.

    ``layer_subscripts``: the document writes layers as subscripts (``W_1``, ``b_1``), so ``b_1`` is a layer's bias.
    ``l2``: the model has an L2 term, so ``\\lambda`` and ``n`` are its lambda and n (:data:`~derive.claims.ir.L2_N`).
    """
    toks = tokenize(normalize(tex_or_tokens)) if isinstance(tex_or_tokens, str) else tex_or_tokens
    if not toks:
        raise Unparsed("empty side")
    if sum(len(t.text) for t in toks) > MAX_SIDE:
        raise Unparsed(f"longer than {MAX_SIDE} characters")
    return Reader(layer_subscripts=layer_subscripts, l2=l2).expr(toks)


def resolve_bare(sides: list[sp.Basic]) -> list[sp.Basic]:
    """Names written without indices: vectors if the equation has vectors or matrices, elements otherwise.

    Bare ``a``, ``z`` are the output layer's (a^L, z^L); ``y`` the targets; ``W``, ``b``, ``A``, ``Z``, ``dW``... the
    output layer's matrices. As elements the unit index is ``j``.
    """
    nodes = [n for s in sides for n in sp.preorder_traversal(s)]
    vectors = any((isinstance(n, Mat) and n.args[-1] != BARE) or isinstance(n, (Tr, Had)) or
                  ((isinstance(n, Mat) and n.name[0].isupper()) or (isinstance(n, Mat) and n.name.startswith("d")))
                  for n in nodes)
    L, j = index_symbol("L"), index_symbol("j")

    def fix(node):
        name = node.name
        if vectors or name not in ("a", "z", "y", "x", "delta"):
            if name in ("y", "x", "X", "Y"):
                return Mat(node.args[0])
            return Mat(node.args[0], L)
        if name == "y":
            return y_base[j]
        if name == "x":
            return sp.Symbol("x", real=True)
        return ELEMENT_BASES[name][L, j]

    out = [s.replace(lambda n: isinstance(n, Mat) and n.args[-1] == BARE, fix) for s in sides]
    # a Hadamard product of two scalars is their product
    out = [s.replace(lambda n: isinstance(n, Had) and all(x.is_commutative for x in n.args),
                     lambda n: sp.Mul(*n.args)) for s in out]
    for s in out:
        for n in sp.preorder_traversal(s):
            if isinstance(n, sp.Pow) and is_matrix(n.base):
                raise Unparsed("a power of a vector or matrix")
            if isinstance(n, (sp.log, sp.exp, sp.tanh)) and is_matrix(n.args[0]):
                raise Unparsed("a function of a vector or matrix (element-wise) is not supported")
    # functions were built unevaluated (their arguments were placeholders): evaluate them now
    return [s.replace(lambda n: isinstance(n, (sp.log, sp.exp, sp.tanh)), lambda n: type(n)(*n.args)) for s in out]


def understand_equation(rel: Relation, layer_subscripts: bool = False, l2: bool = False) -> list[sp.Basic]:
    """Every side of a relation, read and with bare names resolved (:class:`Unparsed` on the first failure)."""
    sides = []
    for k, side in enumerate(rel.sides):
        if not side:
            raise Unparsed("a side of the relation is empty" if k else "nothing before the relation")
        sides.append(understand(side, layer_subscripts, l2))
    return resolve_bare(sides)


def echo(expr: sp.Basic) -> str:
    """What was understood, as LaTeX in book notation."""
    return book_latex(expr)

