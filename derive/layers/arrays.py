"""Array forms: a block's batch computation as one SymPy expression over whole arrays, proven and printed.

A block past the dense layer (a normalisation, dropout) acts on a whole block of units x samples at once, and its
statistics couple entries along one axis. Its forward and backward are written here as SymPy expressions of
**array symbols** (:class:`ArraySymbol`: ``dy``, ``x_hat``, ``gamma``, broadcasting element-wise as NumPy does) and
two reductions with ``keepdims``:

* :class:`StatSum` — the sum along the axis the block's statistics run over (the samples for batch normalisation,
  the units for layer normalisation);
* :class:`BatchSum` — the sum over the samples of the batch (every parameter gradient is one).

``count`` is the number of entries a :class:`StatSum` adds up (m for batch normalisation, n_l for layer
normalisation).

The same expression is used twice, so the code cannot drift from the proof: :func:`evaluate` writes it out entry by
entry on SymPy matrices of concrete sizes (to compare it with ``sympy.diff`` of the block's definition), and the
kernel printer (:mod:`derive.codegen.blocks`) prints it as NumPy (``np.sum(..., axis=..., keepdims=True)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sympy as sp

__all__ = ["ArraySymbol", "BatchSum", "StatSum", "count", "evaluate", "evaluate_forms"]


#: how an array symbol is typeset (the book's letters); ``d<name>`` is dC/d<name>
TEX = {"z": "z", "mu": r"\mu", "centred": r"\tilde{z}", "var": r"\sigma^{2}", "inv_std": r"\sigma_{\epsilon}^{-1}",
       "x_hat": r"\hat{z}", "y": "u", "gamma": r"\gamma", "beta": r"\beta", "a": "a", "mask": "M", "out": r"\tilde{a}",
       "W": "W", "b": "b", "nabla_W": r"\nabla_{W} C", "nabla0_W": r"\nabla_{W} C_0", "nabla_b": r"\nabla_{b} C",
       "eta": r"\eta"}


class ArraySymbol(sp.Symbol):
    """A symbol standing for a whole array of a block (units x samples, or a per-unit column that broadcasts)."""

    def _latex(self, printer) -> str:
        name = self.name
        if name in TEX:
            return TEX[name]
        if name.startswith("d") and name[1:] in TEX:
            return rf"\frac{{\partial C}}{{\partial {TEX[name[1:]]}}}"
        return printer._print_Symbol(sp.Symbol(name))


class _Reduction(sp.Function):
    """A sum along one axis, kept (never evaluated by SymPy): what it adds up depends on the array sizes."""

    nargs = 1

    @classmethod
    def eval(cls, arg: sp.Expr) -> sp.Expr | None:
        return None


class StatSum(_Reduction):
    """Sum along the axis of the block's statistics, keepdims (printed Sigma_s: over the samples for batch norm,
    over the units for layer norm)."""

    def _latex(self, printer) -> str:
        return rf"\textstyle\sum_{{s}} {printer.parenthesize(self.args[0], 50)}"

    def _sympystr(self, printer) -> str:
        return f"sum_s({printer._print(self.args[0])})"


class BatchSum(_Reduction):
    """Sum over the samples of the batch, keepdims (printed Sigma_x)."""

    def _latex(self, printer) -> str:
        return rf"\textstyle\sum_{{x}} {printer.parenthesize(self.args[0], 50)}"

    def _sympystr(self, printer) -> str:
        return f"sum_x({printer._print(self.args[0])})"


#: how many entries a StatSum adds up
count = sp.Symbol("N", positive=True, integer=True)


def _sum_along(M: sp.Matrix, axis: int) -> sp.Matrix:
    """The sum of M along ``axis`` (0: down the rows, 1: along the columns), broadcast back to M's shape."""
    rows, cols = M.shape
    if axis == 1:
        sums = [sp.Add(*M.row(i)) for i in range(rows)]
        return sp.Matrix(rows, cols, lambda i, j: sums[i])
    sums = [sp.Add(*M.col(j)) for j in range(cols)]
    return sp.Matrix(rows, cols, lambda i, j: sums[j])


def evaluate(expr: sp.Expr, arrays: Mapping[sp.Symbol, sp.Matrix], shape: tuple[int, int], *, stat_axis: int,
             sample_axis: int = 1) -> sp.Matrix:
    """``expr`` written out entry by entry: every array symbol replaced by its matrix (a per-unit column is
    broadcast along the samples), every reduction by its sums, ``count`` by the length of ``stat_axis``.

    The result is a ``shape`` matrix of scalar SymPy expressions (a reduction's result repeated along its axis).
    """
    rows, cols = shape

    def broadcast(M: sp.Matrix) -> sp.Matrix:
        if M.shape == shape:
            return M
        if M.shape == (rows, 1):
            return sp.Matrix(rows, cols, lambda i, j: M[i, 0])
        if M.shape == (1, cols):
            return sp.Matrix(rows, cols, lambda i, j: M[0, j])
        raise ValueError(f"an array of shape {M.shape} does not broadcast to {shape}")

    def walk(e: sp.Expr) -> sp.Matrix:
        if e in arrays:
            return broadcast(arrays[e])
        if e == count:
            return sp.Matrix(rows, cols, lambda i, j: sp.Integer(shape[stat_axis]))
        if isinstance(e, StatSum):
            return _sum_along(walk(e.args[0]), stat_axis)
        if isinstance(e, BatchSum):
            return _sum_along(walk(e.args[0]), sample_axis)
        if not e.free_symbols and not e.atoms(_Reduction):
            return sp.Matrix(rows, cols, lambda i, j: e)
        if isinstance(e, sp.Add):
            out = walk(e.args[0])
            for arg in e.args[1:]:
                out = out + walk(arg)
            return out
        if isinstance(e, sp.Mul):
            out = walk(e.args[0])
            for arg in e.args[1:]:
                out = out.multiply_elementwise(walk(arg))
            return out
        if isinstance(e, sp.Pow):
            base, ex = walk(e.args[0]), e.args[1]
            if ex.free_symbols:
                raise ValueError(f"a power with a symbolic exponent is not an array form: {e}")
            return base.applyfunc(lambda v: v ** ex)
        if isinstance(e, sp.Symbol):
            return sp.Matrix(rows, cols, lambda i, j: e)  # a scalar (eps, keep probability)
        if isinstance(e, sp.Function) and len(e.args) == 1:
            return walk(e.args[0]).applyfunc(e.func)
        raise ValueError(f"not an array form: {e} ({type(e).__name__})")

    return walk(expr)


def evaluate_forms(forms: Sequence[tuple[sp.Symbol, sp.Expr]], arrays: Mapping[sp.Symbol, sp.Matrix],
                   shape: tuple[int, int], *, stat_axis: int, scalars: Mapping[sp.Symbol, sp.Expr] | None = None
                   ) -> dict[sp.Symbol, sp.Matrix]:
    """Named forms (a block's forward or backward) evaluated in order, each seeing the values of the ones before
    it; ``scalars`` (eps, the keep probability) substituted into every form first. Returns the arrays given plus
    every form's value."""
    out = dict(arrays)
    for name, form in forms:
        out[name] = evaluate(form.xreplace(dict(scalars or {})), out, shape, stat_axis=stat_axis)
    return out

