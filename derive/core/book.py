"""The book-notation printers: SymPy expressions as a textbook on backpropagation writes them.

``book_latex(expr)`` for LaTeX and ``book_text(expr)`` for the terminal. Both print

* layer quantities (``Indexed`` with the layer first, see :mod:`derive.core.symbols`) as w^l_{jk}, a^{l-1}_k, δ^L_j;
* derivatives of one-argument undefined functions as σ'(z); partial derivatives as ∂C/∂w^l_{jk};
* transposes as Wᵀ, Hadamard products as ⊙, natural logarithms as ln;
* the step function with H(0) = 0 (ReLU' convention) as 1{z > 0} and Kronecker deltas as 1{j = p}, so that the
  letter δ always means the error δ^l_j.

Every equation in a report goes through these printers; nothing is typeset by hand.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.latex import LatexPrinter, translate
from sympy.printing.str import StrPrinter

from derive.core.symbols import LAYERED

__all__ = ["BookLatexPrinter", "BookTextPrinter", "book_latex", "book_text", "equation_latex", "equation_text"]

#: name, optional ^sup, optional _sub, as in "Delta^{l+1}" or "W^l" or "dW_1"
_NAME = re.compile(r"([A-Za-z]+)(\^\{?([^}_]*)\}?)?(_\{?([^}]*)\}?)?")

#: "sigma'(z^L)": a name that stands for an applied derivative
_PRIME = re.compile(r"([A-Za-z]+)'\((.+)\)")

_GREEK_TEXT = {
    "delta": "δ", "Delta": "Δ", "sigma": "σ", "alpha": "α", "eta": "η", "lambda": "λ", "xi": "ξ", "nabla": "∇",
}


def _join_units(parts: list[str]) -> str:
    """``jk`` when every unit index is one character, ``1,13`` otherwise."""
    return "".join(parts) if all(len(p) == 1 for p in parts) else ",".join(parts)


def _single_arg_derivative(expr: sp.Derivative):
    """(function name, argument, order) when ``expr`` is f^(n)(x) of a one-argument undefined function."""
    f = expr.expr
    if isinstance(f, AppliedUndef) and len(f.args) == 1 and len(expr.variable_count) == 1:
        var, count = expr.variable_count[0]
        if f.args[0] == var:
            return f.func.__name__, var, int(count)
    return None


def _subs_derivative(expr: sp.Subs):
    """(name, argument expression, order) for Subs(Derivative(f(xi), xi), xi, e), i.e. f'(e)."""
    inner = expr.expr
    if isinstance(inner, sp.Derivative) and len(expr.variables) == 1:
        found = _single_arg_derivative(inner)
        if found and found[1] == expr.variables[0]:
            return found[0], expr.point[0], found[2]
    return None


def _base_name(x: sp.Basic) -> str:
    if isinstance(x, sp.Pow):
        x = x.base
    if isinstance(x, sp.Indexed):
        return x.base.label.name
    if isinstance(x, (sp.Symbol, sp.MatrixSymbol)):
        return str(x.name)
    return ""


#: the order of factors in a product as books print them: numbers, weights, activations, errors, then the rest
_FACTOR_RANK = {"w": 1, "W": 1, "a": 2, "A": 2, "delta": 3, "Delta": 3}


def _factor_rank(x: sp.Basic) -> int:
    if x.is_number:
        return 0
    name = _base_name(x)
    if name in _FACTOR_RANK:
        return _FACTOR_RANK[name]
    if isinstance(x, sp.Add):  # a bracket of functions last, sigma(z)(1 - sigma(z)); of data first, (1 - y) ln(1 - a)
        return 6 if x.atoms(sp.Function) else 4
    return 4 if isinstance(x, (sp.Indexed, sp.Symbol, sp.MatrixSymbol, sp.Pow)) else 5


def _bias_name(x: sp.Basic) -> bool:
    """``b``, ``beta`` or a batch bias ``b^{l}`` (a matrix symbol named with its layer)."""
    return _base_name(x).split("^")[0] in ("b", "beta")


def _term_rank(t: sp.Basic) -> tuple[int, int, int]:
    """Sums first, then the other terms, a bias last; within each, positive terms before negative ones, and of two
    products the simpler first (y ln a + (1 - y) ln(1 - a))."""
    negative = 1 if t.could_extract_minus_sign() else 0
    size = sp.count_ops(t) if t.is_Mul else 0
    if t.has(sp.Sum):
        return (0, negative, size)
    bias = _bias_name(t) or (isinstance(t, sp.MatMul) and any(_bias_name(f) for f in t.args)) or (
        t.is_Mul and any(_bias_name(f) for f in t.args) and len(t.args) == 2 and t.args[0].is_number)
    return (2 if bias else 1, negative, size)


def book_terms(expr: sp.Basic) -> list[sp.Basic]:
    """The terms of a sum in book order (``sum_k w_jk a_k + b_j``, ``z - mu``): SymPy's order, re-ranked stably."""
    terms = list(expr.as_ordered_terms())
    return sorted(terms, key=_term_rank)


def book_factors(expr: sp.Basic) -> list[sp.Basic]:
    """The factors of a product in book order (``w^l_jk a^(l-1)_k``, ``a^(l-1)_k delta^l_j``), stably."""
    return sorted(expr.as_ordered_factors(), key=_factor_rank)


class BookLatexPrinter(LatexPrinter):
    """LaTeX in the notation of Nielsen's *Neural Networks and Deep Learning*."""

    def __init__(self, settings=None):
        settings = {"ln_notation": True, **(settings or {})}
        super().__init__(settings)

    def _as_ordered_terms(self, expr, order=None):
        return book_terms(expr) if isinstance(expr, sp.Add) else super()._as_ordered_terms(expr, order)

    def _print_Sum(self, expr):
        # a factor that does not depend on the summation indices goes in front: (1/n) sum_k (a_k - y_k)^2,
        # -sum_k [...]; display only (the same value)
        indices = [limit[0] for limit in expr.limits]
        coeff, rest = expr.function.as_independent(*indices, as_Add=False)
        terms = sp.Add.make_args(expr.function)
        if coeff == 1 and len(terms) > 1 and all(t.could_extract_minus_sign() for t in terms):
            coeff, rest = sp.Integer(-1), -expr.function  # -sum_k [y_k ln a_k + (1 - y_k) ln(1 - a_k)]
        if coeff != 1 and rest != 1:
            return self._print(sp.Mul(coeff, sp.Sum(rest, *expr.limits), evaluate=False))
        return super()._print_Sum(expr)

    def _print_Mul(self, expr):
        num, den = sp.fraction(expr)
        if den != 1 and num.has(sp.Sum) and not den.has(sp.Sum):  # (1/m) sum_x C_x, not a fraction over a sum
            inner = self._print(num)
            return rf"\frac{{1}}{{{self._print(den)}}} " + (rf"\left({inner}\right)" if num.is_Add else inner)
        ordered = book_factors(expr)
        if ordered == list(expr.as_ordered_factors()):
            return super()._print_Mul(expr)
        saved = self._settings["order"]
        self._settings["order"] = "none"  # print the factors as ranked (book_factors), not re-sorted
        try:
            return super()._print_Mul(sp.Mul(*ordered, evaluate=False))
        finally:
            self._settings["order"] = saved

    def _name(self, name: str) -> str:
        if " " in name:  # "nabla_a C": an operator and its operand
            head, tail = name.split(" ", 1)
            return f"{self._name(head)} {self._name(tail)}"
        prime = _PRIME.fullmatch(name)
        if prime:  # a matrix named after an applied derivative, e.g. "sigma'(z^L)"
            return f"{self._fname(prime.group(1))}'\\left({self._name(prime.group(2))}\\right)"
        m = _NAME.fullmatch(name)
        if not m:
            return self._deal_with_super_sub(name)
        out = "\\nabla" if m.group(1) == "nabla" else translate(m.group(1))
        if m.group(3):
            out += f"^{{{m.group(3)}}}"
        if m.group(5):
            out += f"_{{{m.group(5)}}}"
        return out

    def _print_Symbol(self, expr, style="plain"):
        # braced scripts such as Delta^{l}_{jx} or nabla^{2}_{W}: printed like a MatrixSymbol name
        if "{" in expr.name or expr.name.startswith("nabla"):
            return self._name(expr.name)
        return super()._print_Symbol(expr, style=style)

    def _fname(self, name: str) -> str:
        """A function's name before a prime: \\sigma', and \\operatorname{ReLU}' rather than italic R e L U."""
        out = self._name(name)
        return f"\\operatorname{{{out}}}" if re.fullmatch(r"[A-Za-z]{2,}", out) else out

    def _print_Pow(self, expr):
        base = expr.base
        if isinstance(base, (sp.Indexed, sp.MatrixSymbol)) and (
            (expr.exp.is_Integer and expr.exp > 0) or not expr.exp.is_number
        ):
            # (z^1_2)^2 and (a^L_k)^{y_k}, never the double superscripts z^1_2^2, a^L_k^{y_k}
            return f"\\left({self._print(base)}\\right)^{{{self._print(expr.exp)}}}"
        return super()._print_Pow(expr)

    def _print_Indexed(self, expr):
        base = expr.base.label.name
        idx = [self._print(i) for i in expr.indices]
        name = self._name(base)
        if base in LAYERED and len(idx) >= 1:
            sub = _join_units(idx[1:])
            return f"{name}^{{{idx[0]}}}" + (f"_{{{sub}}}" if sub else "")
        if ("_" in name or "^" in name) and not name.startswith("("):  # G_s[n, o] prints (G_s)_{no}, not G_{s}_{no}
            name = f"({name})"
        return f"{name}_{{{_join_units(idx)}}}"

    def _print_IndexedBase(self, expr):
        return self._name(expr.label.name)

    def _print_Derivative(self, expr):
        found = _single_arg_derivative(expr)
        if found:
            name, var, order = found
            return f"{self._fname(name)}{chr(39) * order}\\left({self._print(var)}\\right)"
        f = expr.expr
        if all(c == 1 for _, c in expr.variable_count):
            den = " ".join(f"\\partial {self._print(v)}" for v, _ in expr.variable_count)
            if isinstance(f, AppliedUndef):
                return f"\\frac{{\\partial {self._name(f.func.__name__)}}}{{{den}}}"
            if isinstance(f, (sp.Indexed, sp.Symbol)):
                return f"\\frac{{\\partial {self._print(f)}}}{{{den}}}"
        return super()._print_Derivative(expr)

    def _print_Subs(self, expr):
        found = _subs_derivative(expr)
        if found:
            name, arg, order = found
            return f"{self._fname(name)}{chr(39) * order}\\left({self._print(arg)}\\right)"
        return super()._print_Subs(expr)

    def _print_MatrixSymbol(self, expr):
        return self._name(expr.name)

    def _print_Transpose(self, expr):
        arg = expr.arg
        inner = self._print(arg)
        if not isinstance(arg, sp.MatrixSymbol) or "^" in inner:
            inner = f"\\left({inner}\\right)"
        return f"{inner}^{{\\mathsf{{T}}}}"

    def _print_HadamardProduct(self, expr):
        # Above Mul's precedence: (W^T Delta) (.) sigma'(Z) keeps its parentheses.
        return " \\odot ".join(self.parenthesize(a, 51) for a in expr.args)

    def _print_Heaviside(self, expr, exp=None):
        if len(expr.args) == 2 and expr.args[1] == 0:
            tex = f"\\mathbf{{1}}_{{\\{{{self._print(expr.args[0])} > 0\\}}}}"
        else:
            tex = f"H\\left({self._print(expr.args[0])}\\right)"
        return f"{tex}^{{{exp}}}" if exp else tex

    def _print_KroneckerDelta(self, expr, exp=None):
        i, j = expr.args
        tex = f"\\mathbf{{1}}_{{\\{{{self._print(i)} = {self._print(j)}\\}}}}"
        return f"\\left({tex}\\right)^{{{exp}}}" if exp else tex

    def _print_OneMatrix(self, expr):
        return "\\mathbf{1}"


class BookTextPrinter(StrPrinter):
    """One-line Unicode text for the terminal: w^2_13, a^(l-1)_k, σ'(z), ∂C/∂w^l_jk, Wᵀ, ⊙, ln."""

    # Indexed has its own _sympystr; a distinct print method name makes this printer's rules win.
    printmethod = "_booktext"

    def _as_ordered_terms(self, expr, order=None):
        return book_terms(expr) if isinstance(expr, sp.Add) else super()._as_ordered_terms(expr, order)

    def _print_Mul(self, expr):
        ordered = book_factors(expr)
        if ordered == list(expr.as_ordered_factors()):
            return super()._print_Mul(expr)
        saved = self._settings["order"]
        self._settings["order"] = "none"  # as ranked by book_factors
        try:
            return super()._print_Mul(sp.Mul(*ordered, evaluate=False))
        finally:
            self._settings["order"] = saved

    def _name(self, name: str) -> str:
        if " " in name:
            head, tail = name.split(" ", 1)
            return f"{self._name(head)} {self._name(tail)}"
        prime = _PRIME.fullmatch(name)
        if prime:
            return f"{self._name(prime.group(1))}'({self._name(prime.group(2))})"
        m = _NAME.fullmatch(name)
        if not m:
            return name
        base = _GREEK_TEXT.get(m.group(1), m.group(1))
        sup, sub = m.group(3), m.group(5)
        out = base
        if sup:
            out += "^" + (sup if len(sup) == 1 else f"({sup})")
        if sub:
            out += "_" + sub
        return out

    def _print_Symbol(self, expr):
        return self._name(expr.name)

    def _print_MatrixSymbol(self, expr):
        return self._name(expr.name)

    def _print_Indexed(self, expr):
        base = self._name(expr.base.label.name)
        idx = [self._print(i) for i in expr.indices]
        if expr.base.label.name in LAYERED and idx:
            sup = idx[0] if len(idx[0]) == 1 else f"({idx[0]})"
            sub = _join_units(idx[1:])
            return f"{base}^{sup}" + (f"_{sub}" if sub else "")
        if ("_" in base or "^" in base) and not base.startswith("("):  # a name with its own script: (G_s)_no
            base = f"({base})"
        return f"{base}_{_join_units(idx)}"

    def _print_Derivative(self, expr):
        found = _single_arg_derivative(expr)
        if found:
            name, var, order = found
            return f"{self._name(name)}{chr(39) * order}({self._print(var)})"
        f = expr.expr
        if all(c == 1 for _, c in expr.variable_count):
            den = "".join(f"∂{self._print(v)}" for v, _ in expr.variable_count)
            if isinstance(f, AppliedUndef):
                return f"∂{self._name(f.func.__name__)}/{den}"
            if isinstance(f, (sp.Indexed, sp.Symbol)):
                return f"∂{self._print(f)}/{den}"
        return super()._print_Derivative(expr)

    def _print_Sum(self, expr):
        limits = ", ".join(f"{self._print(v)}={self._print(lo)}..{self._print(hi)}" for v, lo, hi in expr.limits)
        return f"(Σ_({limits}) {self.parenthesize(expr.function, 51)})"

    def _print_Piecewise(self, expr):
        parts = []
        for value, cond in expr.args:
            parts.append(f"{self._print(value)} otherwise" if cond is sp.true else
                         f"{self._print(value)} if {self._print(cond)}")
        return "{" + "; ".join(parts) + "}"

    def _print_Subs(self, expr):
        found = _subs_derivative(expr)
        if found:
            name, arg, order = found
            return f"{self._name(name)}{chr(39) * order}({self._print(arg)})"
        return super()._print_Subs(expr)

    def _print_Function(self, expr):
        if isinstance(expr, AppliedUndef):
            return f"{self._name(expr.func.__name__)}({', '.join(self._print(a) for a in expr.args)})"
        return super()._print_Function(expr)

    def _print_log(self, expr):
        return f"ln({self._print(expr.args[0])})"

    def _print_Transpose(self, expr):
        inner = self._print(expr.arg)
        plain = isinstance(expr.arg, sp.MatrixSymbol) and "^" not in inner
        return f"{inner}ᵀ" if plain else f"({inner})ᵀ"

    def _print_HadamardProduct(self, expr):
        return " ⊙ ".join(self.parenthesize(a, 51) for a in expr.args)

    def _print_Heaviside(self, expr):
        if len(expr.args) == 2 and expr.args[1] == 0:
            return f"1[{self._print(expr.args[0])} > 0]"
        return f"H({self._print(expr.args[0])})"

    def _print_KroneckerDelta(self, expr):
        return f"1[{self._print(expr.args[0])} = {self._print(expr.args[1])}]"

    def _print_OneMatrix(self, expr):
        return "𝟙"


_LATEX = BookLatexPrinter()
_TEXT = BookTextPrinter()


def book_latex(expr) -> str:
    """LaTeX of a SymPy expression in book notation.

    >>> from derive.core.symbols import w, delta, a
    >>> book_latex(a[1, 3] * delta[2, 1])
    'a^{1}_{3} \\\\delta^{2}_{1}'
    """
    return _LATEX.doprint(expr)


def book_text(expr) -> str:
    """One-line Unicode text of a SymPy expression in book notation."""
    return _TEXT.doprint(expr)


def equation_latex(lhs, rhs, relation: str = "=") -> str:
    return f"{book_latex(lhs)} {relation} {book_latex(rhs)}"


def equation_text(lhs, rhs, relation: str = "=") -> str:
    return f"{book_text(lhs)} {relation} {book_text(rhs)}"
