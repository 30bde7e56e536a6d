"""What a claim is understood to say: a small set of SymPy node types for neural-network notation.

Element-wise quantities are the ``Indexed`` objects of :mod:`derive.core.symbols` (``w[l, j, k]`` is w^l_{jk}, layer
first). Vectors and matrices are :class:`Mat` nodes (``Mat(W, l)`` is W^l, ``Mat(dZ, l)`` is dZ^l); they are
*non-commutative*, so a product keeps the order it was written in. :class:`Tr` is a transpose, :class:`Had` a
Hadamard (element-wise) product, :class:`Act` the activation σ or its derivative σ' applied to an argument,
:class:`Partial` a partial derivative of the cost, :class:`ISum` a sum over every valid value of an index.

Every node prints itself in book notation through :func:`derive.core.book.book_latex` (``_latex``) and
:func:`derive.core.book.book_text` (``_booktext``), and the printed LaTeX parses back to the same node
(the round trip of :mod:`derive.claims.textbook`). These nodes carry meaning only; values come from
:mod:`derive.claims.semantics`.
"""

from __future__ import annotations

import sympy as sp

__all__ = ["BATCH_NAMES", "L2_LAMBDA", "L2_N", "MATRIX_NAMES", "Act", "Cases", "Cross", "Deriv", "EFn", "Had", "ISum",
           "Mat", "MatLit", "Ones", "Partial", "SqNorm", "Tr", "cost_symbol", "index_symbol", "is_matrix"]

#: names of vector / matrix quantities (per-sample vectors in lower case, batch matrices in upper case)
MATRIX_NAMES = ("w", "b", "z", "a", "delta", "y", "x", "W", "A", "Z", "X", "Y", "B", "Delta",
                "dW", "db", "dZ", "dA")
#: the names that mean a batch of samples (the claim is checked with m > 1)
BATCH_NAMES = frozenset({"A", "Z", "X", "Y", "Delta", "dW", "db", "dZ", "dA"})

_TEX = {"delta": "\\delta", "Delta": "\\Delta"}
_TXT = {"delta": "δ", "Delta": "Δ"}


#: lambda and n of an L2 term (C = C_0 + (lambda / 2n) sum w^2), read only in a model with one; n is no index
L2_LAMBDA = sp.Symbol("lambda", positive=True)
L2_N = sp.Symbol("n", positive=True)


def index_symbol(name: str) -> sp.Symbol:
    """The integer index symbol ``j``, ``k``, ``l``, ``L``, ``i`` (same object as :mod:`derive.core.symbols` uses)."""
    return sp.Symbol(name, integer=True, positive=True)


def cost_symbol(name: str = "C") -> sp.Symbol:
    return sp.Symbol(name)


def is_matrix(expr: sp.Basic) -> bool:
    """True when ``expr`` holds a vector or matrix quantity (a non-commutative node)."""
    return expr.is_commutative is False


def _p(printer, expr) -> str:
    return printer._print(expr)


def _layer_tex(printer, layer) -> str:
    return _p(printer, layer)


class Mat(sp.Function):
    """A vector or matrix quantity: ``Mat(name)``, ``Mat(name, layer)`` or ``Mat(name, layer, sample)``.

    ``sample`` (if present) picks column (columns layout) or row (rows layout) ``sample`` of a batch matrix.
    A layer of ``nan`` means "no layer" (used with a sample index: ``Y^{(i)}``).
    """

    is_commutative = False

    @classmethod
    def eval(cls, *args):
        return None

    @property
    def name(self) -> str:
        return self.args[0].name

    @property
    def layer(self):
        return self.args[1] if len(self.args) > 1 and self.args[1] is not sp.nan else None

    @property
    def sample(self):
        return self.args[2] if len(self.args) > 2 else None

    def _latex(self, printer) -> str:
        out = _TEX.get(self.name, self.name)
        sup = []
        if self.layer is not None:
            sup.append(_layer_tex(printer, self.layer))
        if self.sample is not None:
            sup.append(f"({_p(printer, self.sample)})")
        return out + (f"^{{{','.join(sup)}}}" if sup else "")

    def _booktext(self, printer) -> str:
        out = _TXT.get(self.name, self.name)
        sup = []
        if self.layer is not None:
            sup.append(_p(printer, self.layer))
        if self.sample is not None:
            sup.append(f"({_p(printer, self.sample)})")
        if not sup:
            return out
        s = ",".join(sup)
        return out + ("^" + s if len(s) == 1 else f"^({s})")


class Tr(sp.Function):
    """The transpose of a vector or matrix."""

    is_commutative = False
    nargs = 1

    @classmethod
    def eval(cls, arg):
        return None

    def _latex(self, printer) -> str:
        arg = self.args[0]
        inner = _p(printer, arg)
        if isinstance(arg, (Mat, Ones)):
            return f"\\left({inner}\\right)^{{\\mathsf{{T}}}}" if "^" in inner else f"{inner}^{{\\mathsf{{T}}}}"
        return f"\\left({inner}\\right)^{{\\mathsf{{T}}}}"

    def _booktext(self, printer) -> str:
        inner = _p(printer, self.args[0])
        return f"{inner}ᵀ" if isinstance(self.args[0], Mat) and "^" not in inner else f"({inner})ᵀ"


class Had(sp.Function):
    """The Hadamard (element-wise) product of two vectors or matrices."""

    is_commutative = False
    nargs = 2

    @classmethod
    def eval(cls, a, b):
        return None

    def _latex(self, printer) -> str:
        return " \\odot ".join(_group_tex(printer, x) for x in self.args)

    def _booktext(self, printer) -> str:
        return " ⊙ ".join(_group_txt(printer, x) for x in self.args)


def _atomic(x) -> bool:
    return isinstance(x, (Mat, Tr, Act, Partial, Deriv, MatLit, sp.Symbol, sp.Indexed, sp.Number, Ones))


def _group_tex(printer, x) -> str:
    inner = _p(printer, x)
    return inner if _atomic(x) else f"\\left({inner}\\right)"


def _group_txt(printer, x) -> str:
    inner = _p(printer, x)
    return inner if _atomic(x) else f"({inner})"


class Act(sp.Function):
    """The activation applied to ``arg``: ``Act(arg, 0)`` is σ(arg), ``Act(arg, 1)`` is σ'(arg).

    σ means the model's activation of the layer the argument belongs to (element-wise on vectors).
    """

    nargs = 2

    @classmethod
    def eval(cls, arg, order):
        return None

    def _eval_is_commutative(self):
        return self.args[0].is_commutative

    @property
    def order(self) -> int:
        return int(self.args[1])

    def _latex(self, printer) -> str:
        return f"\\sigma{chr(39) * self.order}\\left({_p(printer, self.args[0])}\\right)"

    def _booktext(self, printer) -> str:
        return f"σ{chr(39) * self.order}({_p(printer, self.args[0])})"


class Partial(sp.Function):
    """∂C/∂v of the cost ``C`` with respect to an element (``w[l, j, k]``) or a vector/matrix (``Mat(W, l)``)."""

    nargs = 2

    @classmethod
    def eval(cls, cost, var):
        return None

    def _eval_is_commutative(self):
        return self.args[1].is_commutative

    def _latex(self, printer) -> str:
        return f"\\frac{{\\partial {_p(printer, self.args[0])}}}{{\\partial {_p(printer, self.args[1])}}}"

    def _booktext(self, printer) -> str:
        return f"∂{_p(printer, self.args[0])}/∂{_p(printer, self.args[1])}"


class Deriv(sp.Function):
    """∂u/∂v of a quantity of the model (not the cost): ``u`` any IR expression, ``v`` an element (``z[l, j]``) or a
    vector/matrix (``Mat(z, l)``). Its value is computed by differentiating the model's own forward pass
    (:mod:`derive.claims.local`); between vectors it is the Jacobian."""

    nargs = 2

    @classmethod
    def eval(cls, u, v):
        return None

    def _eval_is_commutative(self):
        return bool(self.args[0].is_commutative and self.args[1].is_commutative)

    def _latex(self, printer) -> str:
        u = self.args[0]
        if isinstance(u, (Mat, sp.Indexed, sp.Symbol)):
            return f"\\frac{{\\partial {_p(printer, u)}}}{{\\partial {_p(printer, self.args[1])}}}"
        return f"\\frac{{\\partial}}{{\\partial {_p(printer, self.args[1])}}}\\left({_p(printer, u)}\\right)"

    def _booktext(self, printer) -> str:
        return f"∂({_p(printer, self.args[0])})/∂{_p(printer, self.args[1])}"


class MatLit(sp.Function):
    """A matrix literal (``pmatrix``/``bmatrix``): ``MatLit(rows, cols, e11, e12, ...)``, entries row by row."""

    is_commutative = False

    @classmethod
    def eval(cls, *args):
        return None

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.args[0]), int(self.args[1])

    def rows(self) -> list[list[sp.Basic]]:
        r, c = self.shape
        return [list(self.args[2 + i * c: 2 + (i + 1) * c]) for i in range(r)]

    def _latex(self, printer) -> str:
        body = " \\\\ ".join(" & ".join(_p(printer, x) for x in row) for row in self.rows())
        return f"\\begin{{pmatrix}} {body} \\end{{pmatrix}}"

    def _booktext(self, printer) -> str:
        return "[" + "; ".join(", ".join(_p(printer, x) for x in row) for row in self.rows()) + "]"


class Cases(sp.Function):
    """A piecewise definition (``cases``): ``Cases(v1, c1, v2, c2, ...)``; ``c`` a relational or ``true``
    (otherwise). The value is that of the first case whose condition holds."""

    @classmethod
    def eval(cls, *args):
        return None

    def _eval_is_commutative(self):
        return all(x.is_commutative for x in self.args[::2])

    def pairs(self) -> list[tuple[sp.Basic, sp.Basic]]:
        return list(zip(self.args[::2], self.args[1::2], strict=True))

    def _latex(self, printer) -> str:
        body = " \\\\ ".join(f"{_p(printer, v)} & " + ("\\text{otherwise}" if c is sp.true else _p(printer, c))
                              for v, c in self.pairs())
        return f"\\begin{{cases}} {body} \\end{{cases}}"

    def _booktext(self, printer) -> str:
        return "{" + "; ".join(f"{_p(printer, v)} if {_p(printer, c)}" for v, c in self.pairs()) + "}"


class ISum(sp.Function):
    """Σ_k body: the sum over every value of index ``k`` for which the body is defined on the model."""

    nargs = 2

    @classmethod
    def eval(cls, body, var):
        return None

    def _eval_is_commutative(self):
        return self.args[0].is_commutative

    def _latex(self, printer) -> str:
        body = self.args[0]
        inner = _p(printer, body)
        if isinstance(body, sp.Add):
            inner = f"\\left({inner}\\right)"
        return f"\\sum_{{{_p(printer, self.args[1])}}} {inner}"

    def _booktext(self, printer) -> str:
        return f"Σ_{_p(printer, self.args[1])} ({_p(printer, self.args[0])})"


class Ones(sp.Function):
    """The all-ones vector 𝟙 (of the length that makes the product defined)."""

    is_commutative = False
    nargs = 0

    @classmethod
    def eval(cls):
        return None

    def _latex(self, printer) -> str:
        return "\\mathbf{1}"

    def _booktext(self, printer) -> str:
        return "𝟙"


class EFn(sp.Function):
    """An element-wise function (``ln``, ``exp``, ``tanh``) of a vector or matrix: ``EFn(arg, Symbol("tanh"))``."""

    nargs = 2

    @classmethod
    def eval(cls, arg, name):
        return None

    def _eval_is_commutative(self):
        return self.args[0].is_commutative

    def _latex(self, printer) -> str:
        return f"\\{self.args[1]}\\left({_p(printer, self.args[0])}\\right)"

    def _booktext(self, printer) -> str:
        return f"{self.args[1]}({_p(printer, self.args[0])})"


class SqNorm(sp.Function):
    """The squared Euclidean norm ‖v‖² of a vector (the sum of the squares of its entries: a scalar)."""

    nargs = 1

    @classmethod
    def eval(cls, arg):
        return None

    def _latex(self, printer) -> str:
        return f"\\left\\|{_p(printer, self.args[0])}\\right\\|^{{2}}"

    def _booktext(self, printer) -> str:
        return f"‖{_p(printer, self.args[0])}‖²"


class Cross(sp.Function):
    """``x \\times y``: a matrix product or an element-wise one, whichever the shapes allow (both: ambiguous)."""

    is_commutative = False
    nargs = 2

    @classmethod
    def eval(cls, a, b):
        return None

    def _latex(self, printer) -> str:
        return " \\times ".join(_group_tex(printer, x) for x in self.args)

    def _booktext(self, printer) -> str:
        return " × ".join(_group_txt(printer, x) for x in self.args)
