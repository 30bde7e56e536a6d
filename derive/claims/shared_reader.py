r"""Reading a claim about a layer with shared weights (convolution, max-pooling, a recurrent net) in its notes' names.

A recursive-descent reader over the tokens of :mod:`derive.claims.tokens` (no ``eval``, no ``sympify``, no
``latex2sympy2``): sums, products, quotients, ``\odot``, ``^T``, ``^2``, ``\sum_{n,i,j}``, ``\frac{\partial C}
{\partial K_{o,c,u,v}}``, ``\lfloor h/2 \rfloor`` inside subscripts and the Iverson bracket ``\mathbb{1}[X_{h,w} =
P_{i,j}]``. It builds a small tree (:class:`Ref`, :class:`Op`, :class:`Sum`, :class:`Ind`); the names are resolved by
a *namer* of the layer family (:mod:`derive.claims.shared_names`): ``K``/``W`` the kernel, ``X`` the input, ``G``,
``\delta`` or ``dout`` the upstream gradient, ``W_{hh}``, ``h_{t-1}``, ``dh_{next}`` in a recurrent net. Index
expressions (``i s + u - p``) become SymPy expressions in integer Symbols built letter by letter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from derive.claims.tokens import OPEN, Tok, Unparsed, skip_group

__all__ = ["Ind", "Num", "Op", "Pos", "Ref", "SharedReader", "Sum", "index_expr", "letter", "split_commas", "to_latex"]


@dataclass(frozen=True)
class Num:
    """A number of the claim."""

    value: sp.Rational


@dataclass(frozen=True)
class Ref:
    """An array of the layer: ``name`` (canonical: X, K, b, G, P, dK, dX, h, Whh, dh, ...), its indices or step,
    and how the notes write its stem and tag (``dh`` and ``raw`` for dh_{raw,t}), for echoing it back."""

    name: str
    idx: tuple = ()
    stem: str = ""
    tag: str | None = None


@dataclass(frozen=True)
class Op:
    """``+`` (args summed), ``mul`` (a product: matrix product in a recurrent claim), ``had`` (element-wise),
    ``div``, ``neg``, ``T`` (transpose), ``sq`` (element-wise square)."""

    op: str
    args: tuple


@dataclass(frozen=True)
class Sum:
    """``\\sum_{letters}^{hi}`` of ``body``; ``lo``/``hi`` None: over every index where the terms are defined."""

    letters: tuple[str, ...]
    lo: sp.Expr | None
    hi: sp.Expr | None
    body: object


@dataclass(frozen=True)
class Pos:
    """A position ``(h, w)`` in an Iverson bracket."""

    idx: tuple


@dataclass(frozen=True)
class Ind:
    """The Iverson bracket ``[left = right]``: 1 when both sides are equal, else 0. ``argmax`` on the right means
    the position of the first maximum of a window (row-major order, as torch)."""

    left: object
    right: object
    argmax: bool = False


def letter(name: str) -> sp.Symbol:
    """The integer Symbol of an index letter (one per letter: the same letter is the same index)."""
    return sp.Symbol(name, integer=True)


def split_commas(toks: list[Tok]) -> list[list[Tok]]:
    """Tokens split at the commas of depth 0."""
    parts: list[list[Tok]] = [[]]
    depth = 0
    for t in toks:
        if t.text in OPEN:
            depth += 1
        elif t.text in OPEN.values():
            depth -= 1
        if t.text == "," and depth == 0:
            parts.append([])
        else:
            parts[-1].append(t)
    return parts


def index_expr(toks: list[Tok]) -> sp.Expr:
    """An index expression (``i s + u - p``, ``(h + p - u)/s``, ``\\lfloor h/2 \\rfloor``, ``k-1-v``) as SymPy."""
    if not toks:
        raise Unparsed("an empty index")
    value, i = _iexpr(toks, 0)
    if i != len(toks):
        raise Unparsed(f"'{toks[i].text}' in an index")
    return value


def _iexpr(toks: list[Tok], i: int) -> tuple[sp.Expr, int]:
    sign = 1
    if toks[i].text in ("+", "-"):
        sign, i = (-1 if toks[i].text == "-" else 1), i + 1
    value, i = _iterm(toks, i)
    value = sign * value
    while i < len(toks) and toks[i].text in ("+", "-"):
        sign = -1 if toks[i].text == "-" else 1
        term, i = _iterm(toks, i + 1)
        value += sign * term
    return value, i


def _iterm(toks: list[Tok], i: int) -> tuple[sp.Expr, int]:
    value, i = _ifactor(toks, i)
    while i < len(toks) and toks[i].text not in ("+", "-", "\\rfloor", ")", "]", ","):
        if toks[i].text == "/":
            den, i = _ifactor(toks, i + 1)
            value = value / den
            continue
        if toks[i].text in ("\\cdot", "\\times", "*"):
            i += 1
        factor, i = _ifactor(toks, i)
        value = value * factor
    return value, i


def _ifactor(toks: list[Tok], i: int) -> tuple[sp.Expr, int]:
    if i >= len(toks):
        raise Unparsed("an index ends too early")
    t = toks[i].text
    if t.isdigit():
        return sp.Integer(int(t)), i + 1
    if len(t) == 1 and t.isalpha():
        return letter(t), i + 1
    if t == "-":
        value, i = _ifactor(toks, i + 1)
        return -value, i
    if t in ("(", "{"):
        end, inner = skip_group(toks, i)
        return index_expr(inner), end
    if t == "\\lfloor":
        j = next((k for k in range(i + 1, len(toks)) if toks[k].text == "\\rfloor"), None)
        if j is None:
            raise Unparsed("\\lfloor without \\rfloor in an index")
        return sp.floor(index_expr(toks[i + 1:j])), j + 1
    if t == "\\frac":
        j, num = skip_group(toks, i + 1)
        k, den = skip_group(toks, j)
        return index_expr(num) / index_expr(den), k
    raise Unparsed(f"'{t}' in an index (indices are letters, numbers, + - / and \\lfloor \\rfloor)")


#: the tokens that end a product (a juxtaposed factor starts anywhere else)
_STOP = {"+", "-", ")", "]", "}", "\\}", ",", "=", "\\rfloor", "&", "\\MATROW", "\\MATEND"}
_PRODUCT = {"\\cdot": "mul", "\\times": "mul", "*": "had", "\\odot": "had", "\\circ": "had"}
_SKIP = {"\\,", "\\;", "\\!", "\\:", "\\quad", "\\qquad", "~", "\\left", "\\right"}

#: a namer: (tokens, index of a name) -> (the node, the index after it), or None when it is no name it knows
Namer = Callable[[list[Tok], int], "tuple[object, int] | None"]


@dataclass
class SharedReader:
    """The reader; ``namer`` resolves names and ``partial`` the derivatives \\frac{\\partial C}{\\partial v}."""

    namer: Namer
    partial: Callable[[list[Tok]], object]

    def side(self, toks: list[Tok]) -> object:
        toks = [t for t in toks if t.text not in _SKIP]
        if not toks:
            raise Unparsed("an empty side")
        node, i = self.expr(toks, 0)
        if i != len(toks):
            raise Unparsed(f"'{toks[i].text}' is not read here")
        return node

    def expr(self, toks: list[Tok], i: int) -> tuple[object, int]:
        terms = []
        sign = 1
        if i < len(toks) and toks[i].text in ("+", "-"):
            sign, i = (-1 if toks[i].text == "-" else 1), i + 1
        node, i = self.term(toks, i)
        terms.append(node if sign > 0 else Op("neg", (node,)))
        while i < len(toks) and toks[i].text in ("+", "-"):
            neg = toks[i].text == "-"
            node, i = self.term(toks, i + 1)
            terms.append(Op("neg", (node,)) if neg else node)
        return (terms[0] if len(terms) == 1 else Op("+", tuple(terms))), i

    def term(self, toks: list[Tok], i: int) -> tuple[object, int]:
        node, i = self.unary(toks, i)
        while i < len(toks) and toks[i].text not in _STOP:
            t = toks[i].text
            if t == "/":
                den, i = self.unary(toks, i + 1)
                node = Op("div", (node, den))
                continue
            op = _PRODUCT.get(t, "mul")
            if t in _PRODUCT:
                i += 1
            right, i = self.unary(toks, i)
            node = Op(op, (node, right))
        return node, i

    def unary(self, toks: list[Tok], i: int) -> tuple[object, int]:
        if i >= len(toks):
            raise Unparsed("the side ends too early")
        if toks[i].text == "-":
            node, i = self.unary(toks, i + 1)
            return Op("neg", (node,)), i
        node, i = self.atom(toks, i)
        return self.postfix(node, toks, i)

    def postfix(self, node: object, toks: list[Tok], i: int) -> tuple[object, int]:
        while i < len(toks) and toks[i].text == "^":
            j, inner = skip_group(toks, i + 1)
            texts = [t.text for t in inner]
            if texts in (["T"], ["\\top"], ["\\intercal"], ["\\mathsf", "T"]):
                node = Op("T", (node,))
            elif texts == ["2"]:
                node = Op("sq", (node,))
            else:
                raise Unparsed(f"the power ^{{{''.join(texts)}}} (read: ^T, ^2)")
            i = j
        return node, i

    def atom(self, toks: list[Tok], i: int) -> tuple[object, int]:
        t = toks[i].text
        if t[0].isdigit():
            value = Fraction(t)  # the token is digits with an optional decimal point
            return Num(sp.Rational(value.numerator, value.denominator)), i + 1
        if t in ("(", "{"):
            end, inner = skip_group(toks, i)
            return self.side(inner), end
        if t == "\\frac":
            return self.fraction(toks, i)
        if t == "\\sum":
            return self.summation(toks, i)
        if t == "\\partial":
            return self.slashed(toks, i)
        bracket = i + 1 < len(toks) and toks[i + 1].text in ("[", "\\{", "_")
        if (t == "\\ONES" and bracket) or (t == "[" and any(x.text == "=" for x in skip_group(toks, i)[1])):
            return self.iverson(toks, i)
        if t == "[":
            end, inner = skip_group(toks, i)
            return self.side(inner), end
        found = self.namer(toks, i)
        if found is None:
            raise Unparsed(f"'{t}' is not a name of this layer")
        return found

    def fraction(self, toks: list[Tok], i: int) -> tuple[object, int]:
        j, num = skip_group(toks, i + 1)
        k, den = skip_group(toks, j)
        if num and num[0].text in ("\\partial", "d") and den and den[0].text == num[0].text:
            if [x.text for x in num[1:]] not in (["C"], ["L"], ["J"], ["E"]):
                raise Unparsed("a derivative of something other than the cost C (or L, J, E)")
            return self.partial(den[1:]), k
        return Op("div", (self.side(num), self.side(den))), k

    def slashed(self, toks: list[Tok], i: int) -> tuple[object, int]:
        """``\\partial C / \\partial V``: inline notes write the derivative with a slash."""
        texts = [t.text for t in toks[i:i + 4]]
        if texts[:1] != ["\\partial"] or texts[1:2] not in (["C"], ["L"], ["J"], ["E"]) or texts[2:4] != [
                "/", "\\partial"]:
            raise Unparsed("\\partial outside \\frac{\\partial C}{\\partial ...} or \\partial C / \\partial ...")
        found = self.namer(toks, i + 4)
        if found is None:
            raise Unparsed("a derivative by something that is not a name of this layer")
        end = found[1]
        return self.partial(toks[i + 4:end]), end

    def summation(self, toks: list[Tok], i: int) -> tuple[object, int]:
        i += 1
        letters: tuple[str, ...] = ()
        lo = hi = None
        while i < len(toks) and toks[i].text in ("_", "^"):
            end, inner = skip_group(toks, i + 1)
            if toks[i].text == "_":
                eq = next((k for k, x in enumerate(inner) if x.text == "="), None)
                names = inner if eq is None else inner[:eq]
                letters = tuple(x.text for x in names if x.text != ",")
                if not letters or any(not (len(x) == 1 and x.isalpha()) for x in letters):
                    raise Unparsed("a sum's subscript: give its index letters, \\sum_{n,i,j} or \\sum_{t=1}^{T}")
                if eq is not None:
                    lo = index_expr(inner[eq + 1:])
            else:
                hi = index_expr(inner)
            i = end
        if not letters:
            raise Unparsed("a sum without its index letters (\\sum_t, \\sum_{n,i,j})")
        body, i = self.term(toks, i)
        return Sum(letters, lo, hi, body), i

    def iverson(self, toks: list[Tok], i: int) -> tuple[object, int]:
        if toks[i].text == "\\ONES":
            i += 1
            if i < len(toks) and toks[i].text == "_":
                i += 1
        end, inner = skip_group(toks, i)
        eq = next((k for k, x in enumerate(inner) if x.text == "="), None)
        if eq is None:
            raise Unparsed("an indicator without '=' (read: \\mathbb{1}[X_{h,w} = P_{i,j}])")
        left, right = inner[:eq], inner[eq + 1:]
        right, argmax = _argmax(right)
        return Ind(self._position_or_side(left), self.side(right), argmax), end

    def _position_or_side(self, toks: list[Tok]) -> object:
        if toks and toks[0].text == "(" and skip_group(toks, 0)[0] == len(toks):
            parts = split_commas(skip_group(toks, 0)[1])
            if len(parts) > 1:
                return Pos(tuple(index_expr(p) for p in parts))
        return self.side(toks)


def _argmax(toks: list[Tok]) -> tuple[list[Tok], bool]:
    """The tokens after ``\\arg\\max``, ``\\operatorname{argmax}`` or ``\\argmax`` (and its subscript), and
    whether it was there."""
    if len(toks) > 1 and toks[0].text == "\\arg" and toks[1].text == "\\max":
        rest = toks[2:]
    elif toks and toks[0].text == "\\argmax":
        rest = toks[1:]
    elif len(toks) > 1 and toks[0].text in ("\\operatorname", "\\mathrm", "\\text"):
        end, inner = skip_group(toks, 1)
        if "".join(t.text for t in inner) != "argmax":
            return toks, False
        rest = toks[end:]
    else:
        return toks, False
    if rest and rest[0].text == "_":
        rest = rest[skip_group(rest, 1)[0]:]
    return rest, True


# ----- echo: a tree in the notes' names ------------------------------------------------------------------------------
def _ix(e: sp.Expr) -> str:
    return sp.latex(e).replace("\\left", "").replace("\\right", "")


def _ref_latex(r: Ref) -> str:
    if r.tag is not None and r.tag.startswith("partial"):
        inner = Ref(r.name, r.idx, r.stem, r.tag.split(":", 1)[1] if ":" in r.tag else None)
        return f"\\frac{{\\partial C}}{{\\partial {_ref_latex(inner)}}}"
    parts = ([r.tag] if r.tag else []) + [_ix(e) for e in r.idx]
    return r.stem + (f"_{{{','.join(parts)}}}" if parts else "")


def _wrapped(node: object) -> str:
    text = to_latex(node)
    return f"\\left({text}\\right)" if isinstance(node, (Op, Sum)) and (
        not isinstance(node, Op) or node.op in ("+", "neg")) else text


def to_latex(node: object) -> str:
    """The tree as LaTeX in the claim's own names (read back by the same reader)."""
    if isinstance(node, Num):
        v = sp.Rational(node.value)
        return str(v.p) if v.q == 1 else f"\\frac{{{v.p}}}{{{v.q}}}"
    if isinstance(node, Ref):
        return _ref_latex(node)
    if isinstance(node, Pos):
        return "(" + ", ".join(_ix(e) for e in node.idx) + ")"
    if isinstance(node, Ind):
        right = ("\\operatorname{argmax} " if node.argmax else "") + to_latex(node.right)
        return f"\\mathbb{{1}}[{to_latex(node.left)} = {right}]"
    if isinstance(node, Sum):
        sub = ",".join(node.letters) + (f"={_ix(node.lo)}" if node.lo is not None else "")
        top = f"^{{{_ix(node.hi)}}}" if node.hi is not None else ""
        return f"\\sum_{{{sub}}}{top} {_wrapped(node.body)}"
    a = node.args
    if node.op == "+":
        out = to_latex(a[0])
        for t in a[1:]:
            out += f" - {_wrapped(t.args[0])}" if isinstance(t, Op) and t.op == "neg" else f" + {to_latex(t)}"
        return out
    if node.op == "neg":
        return f"-{_wrapped(a[0])}"
    if node.op == "div":
        return f"\\frac{{{to_latex(a[0])}}}{{{to_latex(a[1])}}}"
    if node.op in ("T", "sq"):
        plain = isinstance(a[0], Ref) and not (a[0].tag or "").startswith("partial")
        inner = to_latex(a[0]) if plain else f"\\left({to_latex(a[0])}\\right)"
        return f"{inner}^{{{'T' if node.op == 'T' else '2'}}}"
    joint = " \\odot " if node.op == "had" else " "
    return _wrapped(a[0]) + joint + _wrapped(a[1])
