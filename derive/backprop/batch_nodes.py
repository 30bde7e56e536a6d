"""The matrix nodes of the batch forms: a function applied to matrices, a gradient's name, explicit evaluation.

SymPy's own ``ElementwiseApplyFunction`` prints as invalid code (docs/conventions.md § Code generation), hence
:class:`Apply`, a small node with explicit print methods whose function is one of :class:`Fn`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

__all__ = ["Apply", "Fn", "Gradient", "explicit"]


class Fn(str, enum.Enum):
    """What an :class:`Apply` node applies (the value is the name printed in derivations)."""

    FORWARD = "sigma"  # the layer's element-wise activation f(Z^l)
    FORWARD_VECTOR = "softmax"  # a per-sample (not element-wise) activation
    DERIVATIVE = "sigma'"  # f'(Z^l), element-wise
    VJP = "softmax'^T"  # J^T g per sample, for a per-sample activation
    COST_GRADIENT = "dC/dA"  # dC_x/da^L, per sample

    def __str__(self) -> str:
        return self.value


_TEXT = {Fn.FORWARD: "σ", Fn.DERIVATIVE: "σ'", Fn.VJP: "J_softmax^T"}
_LATEX = {Fn.FORWARD: "\\sigma", Fn.DERIVATIVE: "\\sigma'", Fn.FORWARD_VECTOR: "\\operatorname{softmax}",
          Fn.COST_GRADIENT: "\\nabla_{A} C", Fn.VJP: "J_{\\operatorname{softmax}}^{\\mathsf{T}}"}


class Apply(MatrixExpr):
    """``f(M1, M2, ...)`` applied entry by entry (``Fn.FORWARD``, ``Fn.DERIVATIVE``) or per sample (softmax).

    ``fname`` is the function's name as the book prints it (``sigma``, ``sigma'``, ``softmax``, ``dC/dA``),
    ``kind`` the same as an :class:`Fn`; the shape is that of the first argument. The layer an Apply belongs to is
    that of its first operand (:meth:`derive.backprop.batch_names.Names.layer_of`).
    """

    def __new__(cls, name: str | sp.Symbol, *args: MatrixExpr):
        if isinstance(name, Fn):
            name = name.value
        return super().__new__(cls, name if isinstance(name, sp.Symbol) else sp.Symbol(name), *args)

    @property
    def fname(self) -> str:
        return self.args[0].name

    @property
    def kind(self) -> Fn | None:
        """The function as an :class:`Fn` (None for a name outside it)."""
        try:
            return Fn(self.fname)
        except ValueError:
            return None

    @property
    def operands(self) -> tuple:
        return self.args[1:]

    @property
    def shape(self):
        return self.args[1].shape

    def _entry(self, i, j, **kwargs):
        raise NotImplementedError("evaluate Apply with derive.backprop.batch.explicit and a function table")

    def _text(self, printer) -> str:
        name = _TEXT.get(self.kind, self.fname)
        return f"{name}({', '.join(printer._print(o) for o in self.operands)})"

    def _booktext(self, printer) -> str:
        return self._text(printer)

    def _sympystr(self, printer) -> str:
        return f"{self.fname}({', '.join(printer._print(o) for o in self.operands)})"

    def _latex(self, printer) -> str:
        name = _LATEX.get(self.kind, f"\\operatorname{{{self.fname}}}")
        return f"{name}\\left({', '.join(printer._print(o) for o in self.operands)}\\right)"


class Gradient(sp.MatrixSymbol):
    """dC/dW^l or dC/db^l as one matrix name, printed as the book writes it."""

    def __new__(cls, *args):
        """``Gradient("W", l, rows, cols)``; SymPy rebuilds it as ``Gradient(name, rows, cols)``."""
        if len(args) == 4:
            param, l, rows, cols = args
            return super().__new__(cls, f"nabla^{{{l}}}_{{{param}}}", rows, cols)
        return super().__new__(cls, *args)

    @property
    def _parts(self) -> tuple[str, str]:
        # the class's own name format (set in __new__); SymPy rebuilds and unpickles it from the name alone
        layer = self.name.split("{")[1].split("}")[0]
        param = self.name.rsplit("{", 1)[1].rstrip("}")
        return param, layer

    @property
    def param(self) -> str:
        """The parameter's matrix name (``W``, ``b``)."""
        return self._parts[0]

    @property
    def layer(self) -> int:
        return int(self._parts[1])

    def _latex(self, printer) -> str:
        param, layer = self._parts
        return f"\\frac{{\\partial C}}{{\\partial {param}^{{{layer}}}}}"

    def _booktext(self, printer) -> str:
        param, layer = self._parts
        return f"∂C/∂{param}^{layer}"


def _fold(parts: list[sp.Matrix], combine: Callable[[sp.Matrix, sp.Matrix], sp.Matrix]) -> sp.Matrix:
    out = parts[0]
    for p in parts[1:]:
        out = combine(out, p)
    return out


def explicit(expr, env: Mapping, functions: Mapping[str, Callable] | None = None) -> sp.Matrix:
    """Evaluate a matrix expression entry by entry.

    ``env`` maps each ``MatrixSymbol`` (and the batch-size symbol ``m``) to an explicit matrix (number); ``functions``
    maps an :class:`Apply` name to a callable on explicit matrices.
    """
    functions = functions or {}
    if isinstance(expr, sp.MatrixSymbol):
        return sp.Matrix(env[expr])
    if isinstance(expr, sp.matrices.expressions.special.OneMatrix):
        return sp.ones(*[int(d.xreplace(dict(env))) for d in expr.shape])
    if isinstance(expr, Apply):
        return functions[expr.fname](*[explicit(o, env, functions) for o in expr.operands])
    if isinstance(expr, sp.Transpose):
        return explicit(expr.arg, env, functions).T
    if isinstance(expr, sp.HadamardProduct):
        return _fold([explicit(o, env, functions) for o in expr.args], lambda x, y: x.multiply_elementwise(y))
    if isinstance(expr, sp.MatAdd):
        return _fold([explicit(o, env, functions) for o in expr.args], lambda x, y: x + y)
    if isinstance(expr, (sp.MatMul, sp.Mul)):
        scalar = sp.Integer(1)
        out = None
        for o in expr.args:
            if getattr(o, "is_Matrix", False) or isinstance(o, MatrixExpr):
                e = explicit(o, env, functions)
                out = e if out is None else out * e
            else:
                scalar *= o.xreplace(dict(env))
        return scalar * out
    raise TypeError(f"cannot evaluate {type(expr).__name__} explicitly")
