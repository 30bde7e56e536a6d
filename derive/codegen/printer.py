"""The kernel printer: SymPy's NumPy printer, extended with the batch forms' matrix nodes.

Scalars print as SymPy's NumPy printer prints them, with ``np.`` for ``numpy.``, ``1/x`` for reciprocals and the
ReLU' convention H(z, 0) as a mask on ``z.real`` (docs/conventions.md § ReLU'(0) = 0; a mask on the real part keeps
complex step working). Matrix expressions print as NumPy on whole batches, one method per node as
``sympy/printing/numpy.py`` does it: ``_print_MatMul`` writes ``@`` (and a product with the all-ones matrix as a
sum over the batch, or as broadcasting), ``_print_HadamardProduct`` writes ``*``, ``_print_Transpose`` writes
``.T``, ``_print_Apply`` calls the kernel's element-wise functions. What a matrix is called in the kernel and which
function a layer applies comes from a :class:`MatrixNames` (built from the model's layers, never from printed names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import sympy as sp
from sympy.matrices.expressions import MatrixExpr
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE

from derive.backprop.batch import Apply, Fn, m

__all__ = ["KernelPrinter", "LayerFunctions", "MatrixNames", "is_atom", "scalar_code", "scalar_operand"]


@dataclass(frozen=True)
class LayerFunctions:
    """The kernel functions of one layer's activation; None where the kernel inlines it (the identity: A = Z and
    no factor 1 in the error)."""

    forward: str | None
    derivative: str | None = None
    vjp: str | None = None
    #: the forward function takes a ``scratch`` array (an exp-folded form, :mod:`derive.codegen.folded`)
    forward_scratch: bool = False


@dataclass(frozen=True)
class MatrixNames:
    """What the printer needs to know about the matrices of one model's batch forms.

    ``names`` maps each MatrixSymbol to its kernel variable (``W^{2}`` to ``W2``); ``layer`` maps the pre- and
    post-activations Z^l, A^l to the layer index l and ``outputs`` maps l to A^l; ``functions`` holds each layer's
    activation functions; ``cost_gradient`` is the kernel's dC/da function and ``cost_gradient_args`` any arguments
    after (A, Y).
    """

    names: Mapping[sp.MatrixSymbol, str]
    layer: Mapping[sp.MatrixSymbol, int]
    outputs: Mapping[int, sp.MatrixSymbol]
    functions: Mapping[int, LayerFunctions]
    sample_axis: int
    cost_gradient: str = ""
    cost_gradient_args: tuple[str, ...] = field(default_factory=tuple)

    def functions_of(self, operand: MatrixExpr) -> LayerFunctions:
        return self.functions[self.layer[operand]]


def is_atom(code: str) -> bool:
    """True for ``name``, ``name(...)`` or ``(...)``: no operator outside parentheses."""
    depth = 0
    for ch in code:
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and ch in " +-*/@":
            return False
    return True


class KernelPrinter(NumPyPrinter):
    """SymPy's NumPy printer, writing ``np.`` instead of ``numpy.``, ``1/x`` for reciprocals, the ReLU'
    convention H(z, 0) as a mask on ``z.real``, and (given ``matrices``) the batch forms as NumPy."""

    def __init__(self, settings: dict | None = None, matrices: MatrixNames | None = None):
        super().__init__(settings)
        self.matrices = matrices

    # ----- scalars ----------------------------------------------------------------------------------------------------
    def _module_format(self, fqn, register=True):
        out = super()._module_format(fqn, register)
        return "np." + out[len("numpy."):] if out.startswith("numpy.") else out

    def _print_Pow(self, expr, rational=False):
        if expr.exp == -1:
            return f"1/{self.parenthesize(expr.base, PRECEDENCE['Pow'])}"
        if expr.exp.is_Integer and expr.exp > 0:
            return f"{self.parenthesize(expr.base, PRECEDENCE['Pow'])}**{expr.exp}"
        return super()._print_Pow(expr, rational)

    def _print_Heaviside(self, expr):
        if len(expr.args) == 2 and expr.args[1] == 0:
            return f"({self._print(expr.args[0])}.real > 0) * 1.0"
        raise ValueError("only the ReLU' convention H(z, 0) is printed; H(0) = 1/2 is not a kernel form")

    # ----- matrices ---------------------------------------------------------------------------------------------------
    def _operand(self, expr) -> str:
        """An operand of ``@``, ``*`` or ``.T``: parenthesised unless it is a name or a call."""
        text = self._print(expr)
        return text if is_atom(text) else f"({text})"

    def _print_MatrixSymbol(self, expr):
        if self.matrices is None:
            return super()._print_MatrixSymbol(expr)
        return self.matrices.names[expr]

    def _print_Transpose(self, expr):
        if self.matrices is None:
            return super()._print_Transpose(expr)
        return f"{self._operand(expr.arg)}.T"

    def _print_HadamardProduct(self, expr):
        if self.matrices is None:
            return super()._print_HadamardProduct(expr)
        factors = [a for a in expr.args if not self._inlined(a)]
        return " * ".join(self._operand(a) if len(factors) > 1 else self._print(a) for a in factors)

    def _print_MatAdd(self, expr):
        if self.matrices is None:
            return super()._print_MatAdd(expr)
        plus, minus = [], []
        for term in expr.args:
            if isinstance(term, sp.MatMul) and term.args[0] == -1:
                minus.append(self._print(sp.MatMul(*term.args[1:])))
            else:
                plus.append(self._print(term))
        return " + ".join(plus) + "".join(f" - {t}" for t in minus)

    def _print_MatMul(self, expr):
        if self.matrices is None:
            return super()._print_MatMul(expr)
        scale = sp.Mul(*[a for a in expr.args if not isinstance(a, MatrixExpr)])
        body = self._product([a for a in expr.args if isinstance(a, MatrixExpr)])
        if scale == 1:
            return body
        if scale == 1 / m:
            return f"{body} / m" if is_atom(body) else f"({body}) / m"
        raise ValueError(f"unexpected scalar factor {scale}")

    def _product(self, mats: list[MatrixExpr]) -> str:
        """A matrix product; a product with the all-ones matrix is a sum over the batch (1 of length m: the
        product with the workspace's ones column ``ws.ones``, a matrix-vector product) or broadcasting (b 1^T adds
        b to every sample)."""
        if len(mats) == 2 and isinstance(mats[1], sp.OneMatrix):
            if mats[1].shape[0] == m:
                return f"{self._operand(mats[0])} @ ws.ones"  # Delta 1
            return self._print(mats[0])  # b 1^T
        if len(mats) == 2 and isinstance(mats[0], sp.OneMatrix):
            if mats[0].shape[1] == m:
                return f"ws.ones.T @ {self._operand(mats[1])}"  # 1^T Delta
            return self._print(mats[1])  # 1 b
        return " @ ".join(self._operand(a) for a in mats) if len(mats) > 1 else self._print(mats[0])

    # ----- a function applied to matrices -----------------------------------------------------------------------------
    def _inlined(self, expr) -> bool:
        """A derivative factor the kernel leaves out (the identity's f' = 1)."""
        return (isinstance(expr, Apply) and expr.fname == Fn.DERIVATIVE
                and self.matrices.functions_of(expr.operands[0]).derivative is None)

    def _print_Apply(self, expr: Apply):
        return self.call(expr)

    def call(self, expr: Apply, out: str | None = None, scratch: str | None = None, mask: str | None = None) -> str:
        """The kernel call for a function applied to matrices, writing into ``out`` if given (and using
        ``scratch`` and ``mask`` if the function takes them)."""
        printer = {Fn.FORWARD: self._forward, Fn.FORWARD_VECTOR: self._forward, Fn.DERIVATIVE: self._derivative,
                   Fn.VJP: self._vjp, Fn.COST_GRADIENT: self._cost_gradient}.get(expr.fname)
        if printer is None:
            raise ValueError(f"no kernel function for {expr.fname}")
        name, args = printer(*expr.operands)
        if name is None:  # the identity: A = Z
            return args[0]
        if out is not None:
            args.append(f"out={out}")
        if (scratch is not None and expr.fname in (Fn.FORWARD, Fn.FORWARD_VECTOR)
                and self.matrices.functions_of(expr.operands[0]).forward_scratch):
            args.append(f"scratch={scratch}")
            if mask is not None:
                args.append(f"mask={mask}")
        return f"{name}({', '.join(args)})"

    def _forward(self, Z) -> tuple[str | None, list[str]]:
        return self.matrices.functions_of(Z).forward, [self._print(Z)]

    def _derivative(self, Z) -> tuple[str, list[str]]:
        """f'(Z^l, A^l): the derivative pieces take z and the forward value a (GELU's f' is not a function of a
        alone, sigmoid's is cheapest from a)."""
        l = self.matrices.layer[Z]
        return self.matrices.functions[l].derivative, [self._print(Z), self._print(self.matrices.outputs[l])]

    def _vjp(self, A, G) -> tuple[str, list[str]]:
        return self.matrices.functions_of(A).vjp, [self._print(A), self._print(G)]

    def _cost_gradient(self, A, Y) -> tuple[str, list[str]]:
        return self.matrices.cost_gradient, [self._print(A), self._print(Y), *self.matrices.cost_gradient_args]

    # ----- a batch form evaluated into a buffer -------------------------------------------------------------------
    def assign(self, expr: MatrixExpr, name: str, out: str | None, scratch: str | None = None,
               mask: str | None = None) -> list[str]:
        """Lines (indented) that set ``name`` to ``expr`` computed with ``out=out`` (None: a fresh array).

        The first line creates the value (a matrix product, a subtraction or a kernel function with ``out=``);
        the rest apply the other terms and factors in place: a bias is added to the product (``Z += b``), a
        derivative factor is multiplied into the error (``E *= f'(Z, A)``, computed in ``scratch``), the 1/m of a
        mean divides last. A node not handled here is printed as one expression and copied in.
        """
        scale, body = self._split_scale(expr)
        lines = self._assign_body(body, name, out, scratch, mask)
        if scale == 1 / m:
            lines.append(f"    {name} /= m")
        elif scale != 1:
            raise ValueError(f"unexpected scalar factor {scale}")
        return lines

    @staticmethod
    def _split_scale(expr) -> tuple[sp.Expr, MatrixExpr]:
        if not isinstance(expr, sp.MatMul):
            return sp.Integer(1), expr
        scale = sp.Mul(*[a for a in expr.args if not isinstance(a, MatrixExpr)])
        mats = [a for a in expr.args if isinstance(a, MatrixExpr)]
        return scale, (mats[0] if len(mats) == 1 else sp.MatMul(*mats))

    @staticmethod
    def _is_gemm(expr) -> bool:
        return (isinstance(expr, sp.MatMul) and len(expr.args) == 2
                and all(isinstance(a, MatrixExpr) and not isinstance(a, sp.OneMatrix) for a in expr.args))

    def _assign_body(self, expr, name: str, out: str | None, scratch: str | None,
                     mask: str | None = None) -> list[str]:
        if self._is_gemm(expr):
            left, right = (self._operand(a) for a in expr.args)
            value = f"{left} @ {right}" if out is None else f"np.matmul({left}, {right}, out={out})"
            return [f"    {name} = {value}"]
        if isinstance(expr, Apply):
            return [f"    {name} = {self.call(expr, out, scratch, mask)}"]
        if isinstance(expr, sp.MatAdd):
            return self._assign_sum(expr, name, out)
        if isinstance(expr, sp.HadamardProduct):
            factors = [a for a in expr.args if not self._inlined(a)]
            factors.sort(key=lambda f: not self._is_gemm(f))  # the product first, then the factors
            lines = self._assign_body(factors[0], name, out, scratch)
            for f in factors[1:]:
                value = self.call(f, scratch) if isinstance(f, Apply) else self._operand(f)
                lines.append(f"    {name} *= {value}")
            return lines
        return [f"    {name} = {self._print(expr)}" if out is None else f"    {name} = {out}",
                *([] if out is None else [f"    np.copyto({name}, {self._print(expr)})"])]

    def _assign_sum(self, expr: sp.MatAdd, name: str, out: str | None) -> list[str]:
        """A product plus broadcast terms (Z = W A + b 1^T), or a difference of two matrices (A - Y)."""
        terms = [(sp.MatMul(*t.args[1:]), "-") if isinstance(t, sp.MatMul) and t.args[0] == -1 else (t, "+")
                 for t in expr.args]
        gemms = [i for i, (t, sign) in enumerate(terms) if sign == "+" and self._is_gemm(t)]
        if gemms:
            lead, _ = terms.pop(gemms[0])
            lines = self._assign_body(lead, name, out, None)
        else:
            terms.sort(key=lambda ts: ts[1] == "-")
            (first, s1), (second, s2) = terms.pop(0), terms.pop(0)
            if s1 == "-":
                raise ValueError("a sum of negated terms only is not a kernel form")
            ufunc = "subtract" if s2 == "-" else "add"
            into = "" if out is None else f", out={out}"
            lines = [f"    {name} = np.{ufunc}({self._print(first)}, {self._print(second)}{into})"]
        return lines + [f"    {name} {sign}= {self._print(t)}" for t, sign in terms]


_SCALARS = KernelPrinter({"fully_qualified_modules": True})


def scalar_code(expr: sp.Expr) -> str:
    """One scalar (element-wise) expression as NumPy code."""
    return _SCALARS.doprint(expr)


def scalar_operand(expr: sp.Expr, precedence: int) -> str:
    """``expr`` as an operand of an operator of ``precedence``: parenthesised if it binds less tightly."""
    return _SCALARS.parenthesize(expr, precedence)
