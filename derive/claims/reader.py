"""Reading one side of a relation: derivatives, functions, groups, sums and products (the rest of the reader).

:class:`Reader` extends :class:`derive.claims.names.NameReader`: every recognised object becomes a placeholder, the
remaining text (numbers, ``+ - \\cdot / \\frac ^``) goes through the adapter :mod:`derive.claims.l2s`, and the
result is converted back into IR nodes (:mod:`derive.claims.ir`).
"""

from __future__ import annotations

import re

import sympy as sp

from derive.claims import l2s
from derive.claims.ir import (
    L2_LAMBDA,
    L2_N,
    Act,
    Cases,
    Cross,
    Deriv,
    EFn,
    Had,
    ISum,
    Mat,
    MatLit,
    Ones,
    Partial,
    SqNorm,
    Tr,
    index_symbol,
    is_matrix,
)
from derive.claims.names import ACTS, BARE, COSTS, NameReader
from derive.claims.tokens import OPEN, Tok, Unparsed, skip_group

__all__ = ["MAX_EXPONENT", "MAX_NEST", "Reader"]

MAX_NEST = 30
MAX_EXPONENT = 64
_FUNCS = {"\\ln": sp.log, "\\log": sp.log, "\\exp": sp.exp, "\\tanh": sp.tanh}
_ODOT = "\\mathit{qqodot}"
_TIMES = "\\mathit{qqtimes}"


_RELATIONS = {">": sp.Gt, "<": sp.Lt, "\\geq": sp.Ge, "\\ge": sp.Ge, "\\geqslant": sp.Ge, "\\leq": sp.Le,
              "\\le": sp.Le, "\\leqslant": sp.Le}


def _split(toks: list[Tok], sep: str) -> list[list[Tok]]:
    """The tokens split at ``sep`` outside nested groups."""
    parts: list[list[Tok]] = [[]]
    depth = 0
    for t in toks:
        depth += t.text in OPEN
        depth -= t.text in OPEN.values()
        if depth == 0 and t.text == sep:
            parts.append([])
        else:
            parts[-1].append(t)
    return parts


class Reader(NameReader):
    """A side's tokens to an IR expression (see :func:`derive.claims.notation.understand`)."""

    def partial(self, toks: list[Tok], i: int) -> tuple[sp.Basic, int] | None:
        """\\frac{\\partial C}{\\partial v}, \\partial C / \\partial v, \\nabla_v C."""
        t = toks[i].text
        if t == "\\frac" and i + 1 < len(toks) and toks[i + 1].text == "{":
            j, num = skip_group(toks, i + 1)
            k, den = skip_group(toks, j)
            # \\partial, or an upright d (\\frac{dL}{dz}, \\frac{\\mathrm{d}L}{\\mathrm{d}W}: total = partial here)
            if num and den and num[0].text in ("\\partial", "d") and den[0].text == num[0].text and len(den) > 1:
                var = self.whole_atom(den[1:])
                if len(num) == 1:  # the operator \frac{\partial}{\partial v}(...) applied to what follows
                    operand, end = self.operand(toks, k)
                    return Deriv(operand, var), end
                cost = self.cost_name(num[1:])
                if cost is not None:
                    return Partial(cost, var), k
                return Deriv(self.derivative_of(num[1:]), var), k
            return None
        if t == "\\partial":
            # \partial C / \partial v
            cost_toks = []
            j = i + 1
            while j < len(toks) and toks[j].text != "/":
                cost_toks.append(toks[j])
                j += 1
            cost = self.cost_name(cost_toks)
            if not cost_toks or j + 1 >= len(toks) or toks[j + 1].text != "\\partial":
                raise Unparsed("a partial derivative not written \\partial u / \\partial v", toks[i].pos)
            k = j + 2
            res = self.name_atom(toks, k)
            if res is None:
                raise Unparsed("a partial derivative with respect to an unknown name", toks[k - 1].pos)
            if cost is None:
                return Deriv(self.derivative_of(cost_toks), res[0]), res[1]
            return Partial(cost, res[0]), res[1]
        if t == "\\nabla":
            j = i + 1
            if j >= len(toks) or toks[j].text != "_":
                raise Unparsed("\\nabla without a subscript", toks[i].pos)
            k, inner = skip_group(toks, j + 1)
            var = self.whole_atom(inner)
            if isinstance(var, Mat) and var.args[-1] == BARE:
                var = Mat(var.args[0], index_symbol("L")) if var.name in ("a", "z") else var
            m_end = k
            cost_toks = []
            while m_end < len(toks) and (toks[m_end].text in COSTS or toks[m_end].text in ("_", "x")) \
                    and len(cost_toks) < 3:
                cost_toks.append(toks[m_end])
                m_end += 1
            cost = self.cost_name(cost_toks)
            if cost is None:
                raise Unparsed("\\nabla of something other than the cost C", toks[i].pos)
            return Partial(cost, var), m_end
        return None

    def derivative_of(self, toks: list[Tok]) -> sp.Basic:
        """The numerator of ∂u/∂v that is not the cost: one quantity of the model (a^l_j, z^{l+1}, a)."""
        res = self.name_atom(toks, 0)
        if res is None or res[1] != len(toks):
            raise Unparsed("the derivative of " + "".join(t.text for t in toks) + " (understood: the derivative of "
                           "the cost C, J, L or of one quantity of the model, e.g. \\partial a^l_j)", toks[0].pos)
        return res[0]

    def operand(self, toks: list[Tok], k: int) -> tuple[sp.Basic, int]:
        """What the operator ∂/∂v applies to: the group after it, or the rest of the term."""
        if k < len(toks) and toks[k].text in ("(", "[", "\\{"):
            end, inner = skip_group(toks, k)
            return self.expr(inner), end
        end, depth = k, 0
        while end < len(toks):
            s = toks[end].text
            depth += s in OPEN
            depth -= s in OPEN.values()
            if depth == 0 and s in ("+", "-") and end > k:
                break
            end += 1
        if end == k:
            raise Unparsed("\\frac{\\partial}{\\partial v} applied to nothing", toks[k - 1].pos)
        return self.expr(toks[k:end]), end

    def whole_atom(self, toks: list[Tok]) -> sp.Basic:
        if not toks:
            raise Unparsed("empty")
        res = self.name_atom(toks, 0)
        if res is None or res[1] != len(toks):
            raise Unparsed("cannot read " + "".join(t.text for t in toks), toks[0].pos)
        return res[0]

    def function(self, toks: list[Tok], i: int) -> tuple[sp.Basic, int] | None:
        """sigma(...), sigma'(...), g'(...), \\ln(...), \\exp(...), \\tanh(...)."""
        t = toks[i]
        if t.text in ACTS:
            sup, sub, primes, j = self.scripts(toks, i + 1)
            if sub is not None:
                return None
            if sup is not None:
                names = [x.text for x in sup]
                primes += names.count("\\prime") + names.count("'")
            if j < len(toks) and toks[j].text == "(":
                k, inner = skip_group(toks, j)
                arg = self.expr(inner)
                if primes > 1:
                    raise Unparsed("second derivatives of the activation are not supported", t.pos)
                return Act(arg, sp.Integer(primes)), k
            if t.text == "\\sigma":
                raise Unparsed("sigma without an argument in parentheses", t.pos)
            return None
        if t.text in _FUNCS:
            j = i + 1
            if j < len(toks) and toks[j].text in ("(", "[", "{"):
                k, inner = skip_group(toks, j)
                arg = self.expr(inner)
            else:
                res = self.name_atom(toks, j) if j < len(toks) else None
                if res is None:
                    raise Unparsed(f"{t.text} without an argument", t.pos)
                arg, k = res
            if is_matrix(arg):  # element-wise on a vector or matrix (a bare name is resolved later)
                return EFn(arg, sp.Symbol(_FUNCS[t.text].__name__)), k
            return _FUNCS[t.text](arg, evaluate=False), k
        return None

    # .. sides ..
    def expr(self, toks: list[Tok]) -> sp.Basic:
        """Read a token list into an IR expression (see the module doc)."""
        self.depth += 1
        if self.depth > MAX_NEST:
            raise Unparsed(f"nested more than {MAX_NEST} levels deep")
        try:
            text = self.emit(toks)
            single = re.fullmatch(r"\\mathit\{(qq\d+)\}", text)
            if single:  # one recognised object: nothing for latex2sympy2 to do
                return self.table[single.group(1)]
            try:
                parsed = l2s.parse_side(text)
            except l2s.ParseFailure as err:
                raise Unparsed(f"latex2sympy2: {err.reason}") from None
            return self.convert(parsed)
        finally:
            self.depth -= 1

    def emit(self, toks: list[Tok]) -> str:
        """The side as text for ``latex2sympy2``: every recognised object a placeholder."""
        out: list[str] = []
        i = 0
        while i < len(toks):
            s = toks[i].text
            res = self.partial(toks, i) if s in ("\\frac", "\\partial", "\\nabla") else None
            if res is None:
                res = self.function(toks, i)
            if res is None:
                res = self.name_atom(toks, i)
            if res is not None:
                ir, i = res
                out.append(self.placeholder(ir))
                i = self.maybe_power(toks, i, out)
                continue
            i = self.emit_other(toks, i, out)
        return "".join(out)

    def emit_other(self, toks: list[Tok], i: int, out: list[str]) -> int:
        """Groups, fractions, sums, numbers and operators at ``toks[i]``; the index after them."""
        t = toks[i]
        s, n = t.text, len(toks)
        if s in ("(", "[", "{", "\\{"):
            j, inner = skip_group(toks, i)
            ir = self.expr(inner)
            if j < n and toks[j].text == "^":
                k, sup = skip_group(toks, j + 1)
                if [x.text for x in sup] in (["T"], ["\\top"], ["\\intercal"]):
                    ir, j = Tr(ir), k
            out.append(self.placeholder(ir))
            return self.maybe_power(toks, j, out)
        if s == "\\MATBEGIN":
            j, inner = skip_group(toks, i)
            out.append(self.placeholder(self.array(inner, t)))
            return self.maybe_power(toks, j, out)
        if s == "\\frac":
            j, num = skip_group(toks, i + 1)
            k, den = skip_group(toks, j)
            out.append(f"\\frac{{{self.emit(num)}}}{{{self.emit(den)}}}")
            return self.maybe_power(toks, k, out)
        if s == "\\sum":
            return self.sum(toks, i, out)
        if s in ("\\|", "\\lVert", "\\Vert"):
            return self.norm(toks, i, out)
        if re.fullmatch(r"\d+(\.\d+)?", s) or s == "m":
            out.append(f" {s} ")
            return self.maybe_power(toks, i + 1, out)
        if s == "e" and i + 1 < n and toks[i + 1].text == "^":
            k, sup = skip_group(toks, i + 2)
            out.append(f" e^{{{self.emit(sup)}}} ")
            return k
        if s == "\\ONES":
            out.append(self.placeholder(Ones()))
            return self.maybe_power(toks, i + 1, out)
        out.append(self.operator(t))
        return i + 1

    def array(self, inner: list[Tok], at: Tok) -> sp.Basic:
        """A ``pmatrix``/``bmatrix``/``matrix`` literal (entries read one by one) or a ``cases`` definition."""
        k, env = skip_group(inner, 0)
        name = "".join(x.text for x in env)
        rows = [[list(c) for c in _split(r, "\\MATCOL")] for r in _split(inner[k:], "\\MATROW")]
        rows = [r for r in rows if any(c for c in r)]  # a trailing \\ leaves an empty row
        if not rows:
            raise Unparsed(f"an empty {name}", at.pos)
        if name == "cases":
            args: list[sp.Basic] = []
            for r in rows:
                if len(r) != 2 or not r[0]:
                    raise Unparsed("a case that is not 'value & condition'", at.pos)
                args += [self.expr(r[0]), self.condition(r[1], at)]
            return Cases(*args)
        if len({len(r) for r in rows}) != 1:
            raise Unparsed(f"a {name} whose rows have different lengths", at.pos)
        cells = [self.expr(c) if c else None for r in rows for c in r]
        if any(c is None for c in cells):
            raise Unparsed(f"an empty entry in a {name}", at.pos)
        return MatLit(len(rows), len(rows[0]), *cells)

    def condition(self, toks: list[Tok], at: Tok) -> sp.Basic:
        """``z > 0``, ``\\text{if } z \\le 0``, ``\\text{otherwise}``: the condition of one case."""
        words, rest, i = [], [], 0
        while i < len(toks):
            if toks[i].text in ("\\text", "\\mbox", "\\textrm", "\\mathrm"):
                i, inner = skip_group(toks, i + 1)
                words.append("".join(x.text for x in inner))
                continue
            if toks[i].text != ",":
                rest.append(toks[i])
            i += 1
        if not rest:
            if any(w in ("otherwise", "else", "sonst") for w in words):
                return sp.true
            raise Unparsed("a case without a condition", at.pos)
        ops = [k for k, x in enumerate(rest) if x.text in _RELATIONS]
        if len(ops) != 1 or ops[0] in (0, len(rest) - 1):
            raise Unparsed("a condition that is not one comparison (understood: z > 0, z \\le 0, otherwise)",
                           at.pos)
        k = ops[0]
        return _RELATIONS[rest[k].text](self.expr(rest[:k]), self.expr(rest[k + 1:]), evaluate=False)

    def norm(self, toks: list[Tok], i: int, out: list[str]) -> int:
        """``\\|v\\|^2``: the squared norm (a norm without the square is not read)."""
        close = {"\\|": "\\|", "\\lVert": "\\rVert", "\\Vert": "\\Vert"}[toks[i].text]
        j = next((k for k in range(i + 1, len(toks)) if toks[k].text == close), None)
        if j is None or j + 1 >= len(toks) or toks[j + 1].text != "^":
            raise Unparsed("a norm that is not squared (write \\|v\\|^2)", toks[i].pos)
        k, sup = skip_group(toks, j + 2)
        if [x.text for x in sup] != ["2"]:
            raise Unparsed("a norm that is not squared (write \\|v\\|^2)", toks[i].pos)
        out.append(self.placeholder(SqNorm(self.expr(toks[i + 1:j]))))
        return k

    def operator(self, t: Tok) -> str:
        """An operator token as ``latex2sympy2`` text; anything else stops the reading with the reason."""
        s = t.text
        if s in ("+", "-", "/"):
            return f" {s} "
        if s == "\\cdot":
            return " \\cdot "
        if s == "\\times":  # matrix or element-wise product: the shapes decide (ir.Cross)
            return f" \\cdot {_TIMES} \\cdot "
        if s in ("\\odot", "\\circ", "*"):  # course notes write the element-wise product as *
            return f" \\cdot {_ODOT} \\cdot "
        if self.l2 and s in ("\\lambda", "n"):  # course notes' dW = (1/m) dZ A^T + (lambda/m) W
            return self.placeholder(L2_LAMBDA if s == "\\lambda" else L2_N)
        if s in ("\\eta", "\\alpha", "\\lambda"):
            raise Unparsed(f"{s} (a hyper-parameter) has no meaning on the model", t.pos)
        if s.startswith("\\"):
            raise Unparsed(f"unsupported command {s}", t.pos)
        raise Unparsed(f"unknown symbol '{s}'", t.pos)

    def maybe_power(self, toks: list[Tok], i: int, out: list[str]) -> int:
        """A power ``^{...}`` after an item (transposes of names are read with the name)."""
        if i < len(toks) and toks[i].text == "^":
            k, sup = skip_group(toks, i + 1)
            names = [x.text for x in sup]
            if names in (["T"], ["\\top"], ["\\intercal"]):
                last = out[-1]
                m = re.fullmatch(r"\\mathit\{(qq\d+)\}", last)
                if not m:
                    raise Unparsed("a transpose of something that is not a vector or matrix", toks[i].pos)
                self.table[m.group(1)] = Tr(self.table[m.group(1)])
                return k
            out.append(f"^{{{self.emit(sup)}}}")
            return k
        return i

    def sum(self, toks: list[Tok], i: int, out: list[str]) -> int:
        """\\sum_k, \\sum_{k=1}^{n}: the summand runs to the next top-level + or - (or the end)."""
        j = i + 1
        if j >= len(toks) or toks[j].text != "_":
            raise Unparsed("a sum without its index (write \\sum_k)", toks[i].pos)
        j, lower = skip_group(toks, j + 1)
        var_t = lower[0] if lower else None
        if var_t is None or not re.fullmatch(r"[A-Za-z]", var_t.text) or var_t.text in ("x",):
            raise Unparsed("a sum over something other than a unit or sample index", toks[i].pos)
        if len(lower) > 1 and not (lower[1].text == "=" and len(lower) == 3 and lower[2].text == "1"):
            raise Unparsed("a sum that does not start at 1", toks[i].pos)
        if j < len(toks) and toks[j].text == "^":
            j, _upper = skip_group(toks, j + 1)  # the range comes from the model, the bound is not needed
        k, depth = j, 0
        while k < len(toks):
            s = toks[k].text
            if s in OPEN:
                depth += 1
            elif s in OPEN.values():
                depth -= 1
            elif depth == 0 and s in ("+", "-") and k > j:
                break
            k += 1
        body = self.expr(toks[j:k])
        out.append(self.placeholder(ISum(body, index_symbol(var_t.text))))
        return k

    # .. from latex2sympy2's tree to IR ..
    def convert(self, e: sp.Basic) -> sp.Basic:
        if isinstance(e, sp.Symbol):
            name = e.name
            m = re.fullmatch(r"\\mathit\{(qq\d+)\}", name)
            if m and m.group(1) in self.table:
                return self.table[m.group(1)]
            if name == "m":
                return sp.Symbol("m", integer=True, positive=True)
            raise Unparsed(f"unknown symbol '{name}'")
        if e is sp.E or isinstance(e, sp.Number):
            return e
        if isinstance(e, sp.Add):
            return sp.Add(*[self.convert(x) for x in e.args])
        if isinstance(e, sp.Mul):
            groups: list[list[sp.Basic]] = [[]]
            ops: list[type] = []
            for x in e.args:
                if isinstance(x, sp.Symbol) and x.name in (_ODOT, _TIMES):
                    groups.append([])
                    ops.append(Had if x.name == _ODOT else Cross)
                else:
                    groups[-1].append(self.convert(x))
            if any(not g for g in groups):
                raise Unparsed("a Hadamard product with a missing factor")
            prods = [sp.Mul(*g) for g in groups]
            out = prods[0]
            for op, p in zip(ops, prods[1:], strict=True):
                out = op(out, p)
            return out
        if isinstance(e, sp.Pow):
            base, exp = self.convert(e.args[0]), self.convert(e.args[1])
            if is_matrix(base) and exp != 1 and not base.has(BARE):
                raise Unparsed("a power of a vector or matrix")
            if any(isinstance(n, sp.Number) and abs(n) > MAX_EXPONENT for n in sp.preorder_traversal(exp)):
                raise Unparsed(f"an exponent larger than {MAX_EXPONENT}")
            return sp.Pow(base, exp, evaluate=False) if exp.has(sp.Pow) else sp.Pow(base, exp)
        if isinstance(e, sp.exp):
            return sp.exp(self.convert(e.args[0]))
        if isinstance(e, sp.log):
            if len(e.args) == 2 and e.args[1] is not sp.E:
                raise Unparsed("a logarithm that is not natural")
            return sp.log(self.convert(e.args[0]))
        raise Unparsed(f"unsupported construct {type(e).__name__}")

