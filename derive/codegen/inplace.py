"""Element-wise expressions evaluated in a given buffer: one NumPy ufunc call with ``out=`` per operation.

A kernel spends the time outside its matrix products on element-wise passes, and on this machine class a fresh
256 KB temporary costs more than the arithmetic on it (freed memory returns to the system and comes back page by
page). :func:`inplace_lines` prints a proven scalar form (a stable piece of :mod:`derive.functions.stable`) as a
sequence of ufunc calls that all write into one array ``out`` the caller owns, so evaluating the form allocates
nothing when the caller passes a buffer. The order of the operations follows the expression tree: the one compound
operand of a sum or product is computed in the buffer first, the plain operands (names, constants) are then
applied to it with augmented assignments; an operand that is itself compound gets a scratch buffer (rare in the
registry's forms). A repeated subexpression is computed once (``sympy.cse``).

The result is the same function as the form printed as one NumPy expression: same operations, no reassociation
beyond what the expression tree already says, analytic wherever the form is (complex step still works).
"""

from __future__ import annotations

from collections.abc import Iterator

import sympy as sp
from sympy.codegen.cfunctions import log1p

from derive.codegen.printer import scalar_code

__all__ = ["UFUNCS", "inplace_lines", "is_leaf"]

#: the one-argument functions of the stable forms and their NumPy ufuncs
UFUNCS = {sp.tanh: "tanh", sp.exp: "exp", sp.log: "log", log1p: "log1p"}


def is_leaf(e: sp.Expr) -> bool:
    """A name or a constant: an operand that needs no evaluation."""
    return isinstance(e, sp.Symbol) or not e.free_symbols


class _Emitter:
    """The lines of one evaluation; scratch buffers are named ``t1``, ``t2``, ... and shaped as ``out``."""

    def __init__(self, out: str):
        self.out = out
        self.lines: list[str] = []
        self._names: Iterator[str] = (f"t{i}" for i in range(1, 1000))

    def scratch(self) -> str:
        name = next(self._names)
        self.lines.append(f"    {name} = np.empty_like({self.out})")
        return name

    def emit(self, e: sp.Expr, dst: str) -> bool:
        """Lines computing ``e`` into ``dst``; False for a node this module does not print in place."""
        if is_leaf(e):
            self.lines.append(f"    np.copyto({dst}, {scalar_code(e)})")
            return True
        if isinstance(e, sp.Add):
            return self._add(e, dst)
        if isinstance(e, sp.Mul):
            return self._mul(e, dst)
        if isinstance(e, sp.Pow):
            return self._pow(e, dst)
        if type(e) in UFUNCS and len(e.args) == 1:
            return self._unary(UFUNCS[type(e)], e.args[0], dst)
        if isinstance(e, sp.Heaviside) and len(e.args) == 2 and e.args[1] == 0 and is_leaf(e.args[0]):
            # the ReLU' convention H(z, 0): a mask on the real part (docs/conventions.md § ReLU'(0) = 0)
            # compared into bool, then copied: np.greater writing floats runs a casting loop that costs more
            self.lines.append(f"    np.copyto({dst}, {scalar_code(e.args[0])}.real > 0)")
            return True
        return False

    def _operand_into(self, e: sp.Expr, dst: str, op: str) -> bool:
        """``dst op= e``: a leaf directly, a compound operand through a scratch buffer."""
        if is_leaf(e):
            self.lines.append(f"    {dst} {op}= {scalar_code(e)}")
            return True
        t = self.scratch()
        if not self.emit(e, t):
            return False
        self.lines.append(f"    {dst} {op}= {t}")
        return True

    def _unary(self, ufunc: str, arg: sp.Expr, dst: str, operand: str = "") -> bool:
        """``np.ufunc(arg[, operand], out=dst)``: ``arg`` itself if it is a leaf, else evaluated in ``dst`` first."""
        if is_leaf(arg):
            self.lines.append(f"    np.{ufunc}({scalar_code(arg)}{operand}, out={dst})")
            return True
        if not self.emit(arg, dst):
            return False
        self.lines.append(f"    np.{ufunc}({dst}{operand}, out={dst})")
        return True

    def _add(self, e: sp.Add, dst: str) -> bool:
        # a term with a minus sign is subtracted (1 - a, z - c), never multiplied by -1 first
        terms = [(-t, "-") if t.could_extract_minus_sign() else (t, "+") for t in e.args]
        compound = sorted((sign == "-", i) for i, (t, sign) in enumerate(terms) if not is_leaf(t))
        if compound:
            lead, sign = terms.pop(compound[0][1])  # a positive compound term first
            if not self.emit(lead, dst):
                return False
            if sign == "-":
                plus = [i for i, (t, s) in enumerate(terms) if s == "+" and is_leaf(t)]
                if plus:  # c - f(x) as one subtraction, not a negation and an addition
                    self.lines.append(f"    np.subtract({scalar_code(terms.pop(plus[0])[0])}, {dst}, out={dst})")
                else:
                    self.lines.append(f"    np.negative({dst}, out={dst})")
        else:  # two leaves start it: x + y, x - y, or -x + y as y - x
            terms.sort(key=lambda ts: ts[1] == "-")  # a positive term first: y - x, not -x + y
            (first, s1), (second, s2) = terms.pop(0), terms.pop(0)
            ufunc = "subtract" if s2 == "-" else "add"
            self.lines.append(f"    np.{ufunc}({scalar_code(first)}, {scalar_code(second)}, out={dst})")
            if s1 == "-":
                self.lines.append(f"    np.negative({dst}, out={dst})")
        return all(self._operand_into(t, dst, sign) for t, sign in terms)

    def _mul(self, e: sp.Mul, dst: str) -> bool:
        coeff = sp.Mul(*[f for f in e.args if not f.free_symbols])
        factors = [f for f in e.args if f.free_symbols]
        divisors = [f.base for f in factors if isinstance(f, sp.Pow) and f.exp == -1 and is_leaf(f.base)]
        factors = [f for f in factors if not (isinstance(f, sp.Pow) and f.exp == -1 and is_leaf(f.base))]
        compound = [f for f in factors if not is_leaf(f)]
        if compound:
            factors.remove(compound[0])
            if not self.emit(compound[0], dst):
                return False
        elif len(factors) >= 2:
            first, second = factors.pop(0), factors.pop(0)
            self.lines.append(f"    np.multiply({scalar_code(first)}, {scalar_code(second)}, out={dst})")
        elif factors:
            other = coeff if coeff != 1 else sp.Integer(1)
            self.lines.append(f"    np.multiply({scalar_code(factors.pop())}, {scalar_code(other)}, out={dst})")
            coeff = sp.Integer(1)
        else:  # only divisors: c / x
            self.lines.append(f"    np.divide({scalar_code(coeff)}, {scalar_code(divisors.pop(0))}, out={dst})")
            coeff = sp.Integer(1)
        ok = all(self._operand_into(f, dst, "*") for f in factors)
        ok = ok and all(self._operand_into(d, dst, "/") for d in divisors)
        if coeff != 1:
            self.lines.append(f"    {dst} *= {scalar_code(coeff)}")
        return ok

    def _pow(self, e: sp.Pow, dst: str) -> bool:
        base, exp = e.base, e.exp
        if exp == -1 and is_leaf(base):
            self.lines.append(f"    np.divide(1, {scalar_code(base)}, out={dst})")
            return True
        ufunc = {2: "square", -1: "reciprocal"}.get(exp)
        if ufunc is not None:
            return self._unary(ufunc, base, dst)
        if not (exp.is_Integer and exp > 0):
            return False
        return self._unary("power", base, dst, f", {exp}")


def inplace_lines(expr: sp.Expr, out: str = "out") -> list[str] | None:
    """Lines (indented one level) that evaluate ``expr`` into the existing array ``out``; None if some node of
    ``expr`` has no in-place form here (the caller then prints the expression as it is)."""
    temps, (reduced,) = sp.cse(expr, symbols=sp.numbered_symbols("c_"))
    emitter = _Emitter(out)
    for name, value in temps:
        if not value.free_symbols:  # a constant: a Python scalar, not an array of copies
            emitter.lines.append(f"    {name} = {scalar_code(value)}")
            continue
        emitter.lines.append(f"    {name} = np.empty_like({out})")
        if not emitter.emit(value, str(name)):
            return None
    return emitter.lines if emitter.emit(reduced, out) else None
