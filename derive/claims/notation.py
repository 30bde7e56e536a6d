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

import re
from dataclasses import dataclass, field

import sympy as sp

from derive.claims import l2s
from derive.claims.ir import BATCH_NAMES, Act, Had, ISum, Mat, Ones, Partial, Tr, cost_symbol, index_symbol, is_matrix
from derive.core.book import book_latex
from derive.core.symbols import a as a_base
from derive.core.symbols import b as b_base
from derive.core.symbols import delta as delta_base
from derive.core.symbols import w as w_base
from derive.core.symbols import y as y_base
from derive.core.symbols import z as z_base

__all__ = ["MAX_SIDE", "Relation", "Unparsed", "echo", "normalize", "split_relation", "understand",
           "understand_equation"]

MAX_SIDE = 2000
MAX_NEST = 30
MAX_EXPONENT = 64


class Unparsed(ValueError):
    """A side could not be understood: ``reason`` (one line) and the character ``position`` where known."""

    def __init__(self, reason: str, position: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.position = position


# ----- normalisation --------------------------------------------------------------------------------------------

_UNICODE = {"δ": "\\delta ", "Δ": "\\Delta ", "σ": "\\sigma ", "∂": "\\partial ", "⊙": "\\odot ", "∑": "\\sum ",
            "Σ": "\\sum ", "′": "'", "−": "-", "·": "\\cdot ", "×": "\\times ", "∇": "\\nabla ", "ᵀ": "^T",
            "η": "\\eta ", "≈": "\\approx ", "→": "\\to ", "←": "\\leftarrow ", "≡": "\\equiv ", "∘": "\\circ "}
_DROP = re.compile(r"\\(left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg|displaystyle|"
                   r"textstyle|scriptstyle|limits|nolimits|quad|qquad|[,;:! ])(?![A-Za-z])")
_UNWRAP = re.compile(r"\\(mathrm|mathit|mathbf|boldsymbol|bm|mathsf|mathnormal|vec|operatorname|mathcal|pmb)\s*"
                     r"\{\s*([A-Za-z][A-Za-z]?)\s*\}")


def normalize(tex: str) -> str:
    """Unicode to commands, sizing and spacing commands dropped, font wrappers around a letter removed."""
    for u, t in _UNICODE.items():
        tex = tex.replace(u, t)
    tex = tex.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("~", " ")
    tex = re.sub(r"\\left\s*\.|\\right\s*\.", " ", tex)
    tex = _DROP.sub(" ", tex)
    tex = re.sub(r"\\mathbf\s*\{\s*1\s*\}|\\mathbb\s*\{\s*1\s*\}|\\mathbb\s*1", lambda _m: " \\ONES ", tex)
    for _ in range(3):
        tex = _UNWRAP.sub(_unwrap, tex)
    tex = re.sub(r"\\(mathsf|mathrm|mathbf|rm|sf|bf)\s+([A-Za-z])(?![A-Za-z])", r" \2 ", tex)
    return tex


def _unwrap(m: re.Match) -> str:
    inner = m.group(2)
    return f" \\{inner} " if inner in ("dW", "db", "dZ", "dA") else f" {inner} "


_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\d+(?:\.\d+)?|[A-Za-z]|\s+|.", re.S)


@dataclass(frozen=True)
class Tok:
    text: str
    pos: int
    space: bool  # whitespace before it


def tokenize(tex: str) -> list[Tok]:
    out, space = [], False
    for m in _TOKEN.finditer(tex):
        t = m.group(0)
        if t.isspace():
            space = True
            continue
        out.append(Tok(t, m.start(), space))
        space = False
    return out


# ----- relations ------------------------------------------------------------------------------------------------

_DEFINING = {"\\equiv", ":=", "\\coloneqq", "\\triangleq", "\\doteq", "\\eqqcolon", "=:", "def="}
_UNCHECKABLE = {"\\approx", "\\simeq", "\\sim", "\\propto", "\\to", "\\rightarrow", "\\longrightarrow", "\\Rightarrow",
                "\\leftarrow", "\\gets", "\\longleftarrow", "\\mapsto", "<", ">", "\\le", "\\leq", "\\ge", "\\geq",
                "\\ll", "\\gg", "\\neq", "\\ne", "\\Leftarrow", "\\iff", "\\implies", "\\leftrightarrow", "\\in",
                "\\subset", "\\cong"}
_OPEN = {"{": "}", "(": ")", "[": "]", "\\{": "\\}"}


@dataclass
class Relation:
    """A row split at its top-level relations: ``sides`` (token lists) and the ``ops`` between them."""

    sides: list[list[Tok]]
    ops: list[str]
    text: str = ""

    @property
    def kind(self) -> str:
        """``equation``, ``definition``, ``not checkable``, ``update rule`` or ``no relation``."""
        if not self.ops:
            return "no relation"
        if any(op in _DEFINING for op in self.ops):
            return "definition"
        if any(t.text in ("\\eta", "\\alpha") for side in self.sides for t in side) and len(self.sides) > 1 \
                and any(op in ("=", "\\to", "\\rightarrow", "\\leftarrow", "\\gets") for op in self.ops) \
                and not any(op in ("\\approx", "<", ">", "\\le", "\\leq", "\\ge", "\\geq") for op in self.ops):
            return "update rule"
        if any(op in _UNCHECKABLE for op in self.ops):
            return "not checkable"
        return "equation"


def split_relation(tex: str) -> Relation:
    """Split a row at top-level relations (depth 0 in braces, parentheses and brackets).

    Prose after the equation (``... \\quad \\text{for } l < L``) is cut off, so its relations are not read.
    """
    toks = _drop_trailing_text(tokenize(normalize(tex)))
    sides: list[list[Tok]] = [[]]
    ops: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i].text
        if t in _OPEN:
            stack.append(_OPEN[t])
        elif stack and t == stack[-1]:
            stack.pop()
        elif not stack:
            op = None
            if t == ":" and i + 1 < len(toks) and toks[i + 1].text == "=":
                op, i = ":=", i + 1
            elif t == "=" and i + 1 < len(toks) and toks[i + 1].text == ":":
                op, i = "=:", i + 1
            elif t in ("\\stackrel", "\\overset") and i + 1 < len(toks):
                # \stackrel{def}{=}: skip the two groups
                j, _ = _skip_group(toks, i + 1)
                k, inner = _skip_group(toks, j)
                if [x.text for x in inner] == ["="]:
                    op, i = "def=", k - 1
            elif t == "=" or t in _DEFINING or t in _UNCHECKABLE:
                op = t
            if op is not None:
                ops.append(op)
                sides.append([])
                i += 1
                continue
        sides[-1].append(toks[i])
        i += 1
    return Relation(sides, ops, tex)


_PROSE = {"\\text", "\\mbox", "\\textrm", "\\textnormal", "\\textit", "\\textbf", "\\hbox"}


def _drop_trailing_text(toks: list[Tok]) -> list[Tok]:
    depth, seen_eq = 0, False
    for i, t in enumerate(toks):
        if t.text in _OPEN:
            depth += 1
        elif t.text in _OPEN.values():
            depth -= 1
        elif depth == 0 and t.text == "=":
            seen_eq = True
        elif depth == 0 and seen_eq and t.text in _PROSE:
            return toks[:i]
    return toks


def _skip_group(toks: list[Tok], i: int) -> tuple[int, list[Tok]]:
    """(index after, inner tokens) of the group or single token at ``i``."""
    if i >= len(toks):
        raise Unparsed("a group is missing at the end")
    t = toks[i].text
    if t in _OPEN:
        close, depth, j = _OPEN[t], 0, i
        while j < len(toks):
            if toks[j].text == t:
                depth += 1
            elif toks[j].text == close:
                depth -= 1
                if depth == 0:
                    return j + 1, toks[i + 1:j]
            j += 1
        raise Unparsed(f"unbalanced '{t}'", toks[i].pos)
    return i + 1, [toks[i]]


# ----- reading one side -----------------------------------------------------------------------------------------

_NAMES = {"a": "a", "b": "b", "z": "z", "w": "w", "y": "y", "x": "x", "W": "W", "A": "A", "Z": "Z", "X": "X",
          "Y": "Y", "\\delta": "delta", "\\Delta": "Delta", "\\dW": "dW", "\\db": "db", "\\dZ": "dZ", "\\dA": "dA"}
_D_NAMES = {"W": "dW", "w": "dW", "b": "db", "Z": "dZ", "z": "dZ", "A": "dA", "a": "dA"}
_COSTS = {"C", "J", "L", "E"}
_ACTS = {"\\sigma", "g", "f", "\\phi", "\\varphi"}
_FUNCS = {"\\ln": sp.log, "\\log": sp.log, "\\exp": sp.exp, "\\tanh": sp.tanh}
_TRANSPOSE = {"T", "\\top", "\\intercal", "\\mathsf", "\\mathrm", "\\mathbf", "\\rm", "\\sf"}
_SAMPLE_LETTERS = {"i", "n", "s", "t"}
_ELEMENT_BASES = {"w": w_base, "b": b_base, "z": z_base, "a": a_base, "delta": delta_base, "y": y_base}
_ODOT = "\\mathit{qqodot}"
_BARE = sp.Symbol("bare")  # Mat(name, bare): a name written without any index


@dataclass
class _Reader:
    table: dict[str, sp.Basic] = field(default_factory=dict)
    depth: int = 0

    def placeholder(self, ir: sp.Basic) -> str:
        name = f"qq{len(self.table)}"
        self.table[name] = ir
        return f"\\mathit{{{name}}}"

    # .. indices ..
    def index_expr(self, toks: list[Tok]) -> sp.Expr:
        """l, l-1, l+1, L, 2, j: an index expression (letters, integers, + and -)."""
        if not toks:
            raise Unparsed("empty index")
        total, sign, expect_term = sp.Integer(0), 1, True
        for t in toks:
            if t.text in ("+", "-") and expect_term is False:
                sign, expect_term = (1 if t.text == "+" else -1), True
            elif expect_term and re.fullmatch(r"[A-Za-z]|\d+", t.text):
                term = sp.Integer(int(t.text)) if t.text.isdigit() else index_symbol(t.text)
                total, expect_term = total + sign * term, False
            else:
                raise Unparsed(f"cannot read index '{''.join(x.text for x in toks)}'", t.pos)
        if expect_term:
            raise Unparsed("index ends with an operator", toks[-1].pos)
        return total

    def unit_indices(self, toks: list[Tok]) -> list[sp.Expr]:
        if any(t.text == "," for t in toks):
            parts, cur = [], []
            for t in toks:
                if t.text == ",":
                    parts.append(cur)
                    cur = []
                else:
                    cur.append(t)
            parts.append(cur)
            return [self.index_expr(p) for p in parts]
        if any(t.text in ("+", "-") for t in toks):
            return [self.index_expr(toks)]
        out = []
        for t in toks:
            if re.fullmatch(r"[A-Za-z]", t.text):
                out.append(index_symbol(t.text))
            elif t.text.isdigit():
                out.extend(sp.Integer(int(c)) for c in t.text)
            else:
                raise Unparsed(f"cannot read subscript '{t.text}'", t.pos)
        return out

    # .. scripts ..
    def scripts(self, toks: list[Tok], i: int) -> tuple[list[Tok] | None, list[Tok] | None, int, int]:
        """(superscript tokens, subscript tokens, primes, next index) after a base."""
        sup = sub = None
        primes = 0
        while i < len(toks) and toks[i].text in ("^", "_", "'"):
            t = toks[i].text
            if t == "'":
                primes += 1
                i += 1
                continue
            j, inner = _skip_group(toks, i + 1)
            if t == "^":
                if [x.text for x in inner] in (["\\prime"], ["'"], ["\\prime", "\\prime"]):
                    primes += len(inner)
                elif sup is None:
                    sup = inner
                else:
                    sup = sup + inner  # a^{l}^{T} style
            else:
                if sub is not None:
                    raise Unparsed("two subscripts", toks[i].pos)
                sub = inner
            i = j
        return sup, sub, primes, i

    def split_sup(self, sup: list[Tok] | None) -> tuple[list[Tok] | None, list[Tok] | None, list[Tok] | None, bool]:
        """A superscript split into (layer, bracketed-layer?, sample, transposed)."""
        if not sup:
            return None, None, None, False
        toks = list(sup)
        transposed = False
        # trailing transpose marker: T, \top, \intercal, \mathsf{T} (unwrapped to T by normalize)
        if toks and toks[-1].text in ("T", "\\top", "\\intercal"):
            transposed = True
            toks = toks[:-1]
        layer = sample = None
        rest: list[Tok] = []
        i = 0
        while i < len(toks):
            t = toks[i].text
            if t in ("[", "(", "{"):
                j, inner = _skip_group(toks, i)
                if t == "[":
                    layer = inner
                elif t == "(":
                    names = [x.text for x in inner]
                    if len(names) == 1 and names[0] in _SAMPLE_LETTERS:
                        sample = inner
                    elif layer is None and not rest:
                        layer = inner
                    else:
                        sample = inner
                else:
                    rest.extend(inner)
                i = j
                continue
            if t == ",":
                i += 1
                continue
            rest.append(toks[i])
            i += 1
        if rest:
            if layer is not None:
                raise Unparsed("cannot read superscript " + "".join(x.text for x in sup), sup[0].pos)
            layer = rest
        return layer, None, sample, transposed

    # .. atoms ..
    def name_atom(self, toks: list[Tok], i: int) -> tuple[sp.Basic, int] | None:
        """A layer/unit name with its scripts at ``toks[i]``, or None."""
        t = toks[i]
        name = None
        j = i + 1
        if t.text == "d" and j < len(toks) and toks[j].text in _D_NAMES and not toks[j].space:
            name, j = _D_NAMES[toks[j].text], j + 1
        elif t.text in ("\\hat", "\\widehat"):
            k, inner = _skip_group(toks, j)
            if [x.text for x in inner] == ["y"]:
                name, j = "yhat", k
        elif t.text in _NAMES:
            name = _NAMES[t.text]
        if name is None:
            return None
        sup, sub, primes, j = self.scripts(toks, j)
        if primes:
            raise Unparsed(f"a prime after {t.text} (only sigma' and g' are read as derivatives)", t.pos)
        layer_t, _, sample_t, transposed = self.split_sup(sup)
        if name == "yhat":
            name, layer = "a", index_symbol("L")
        else:
            layer = self.index_expr(layer_t) if layer_t is not None else None
        sample = self.index_expr(sample_t) if sample_t is not None else None
        upper = name in BATCH_NAMES or name[0].isupper() or name in ("dW", "db", "dZ", "dA")
        if name in ("x", "y", "X", "Y") and layer is not None:
            if sample is not None:
                raise Unparsed(f"{name} has no layer", t.pos)
            sample, layer = layer, None  # y^{(2)}: a sample index
        if sub is not None and upper:
            if layer is None and len(sub) == 1:  # W_1, dW_2: layer as a subscript
                layer = self.index_expr(sub)
                sub = None
            else:
                raise Unparsed(f"cannot read {name} with subscript and superscript", t.pos)
        if sub is not None:
            if sample is not None:
                raise Unparsed("an element of one sample (x^{(i)}_j) is not supported; use the matrix form", t.pos)
            units = self.unit_indices(sub)
            base = _ELEMENT_BASES.get(name)
            if name == "x":
                expr: sp.Basic = a_base[(0, *units)]
            elif base is None:
                raise Unparsed(f"{name} with a subscript", t.pos)
            elif name == "y":
                if layer is not None:
                    raise Unparsed("y has no layer", t.pos)
                expr = y_base[units[0]] if len(units) == 1 else y_base[tuple(units)]
            else:
                if layer is None:
                    raise Unparsed(f"{t.text}_{{...}} without a layer: write e.g. {t.text}^l_j or {t.text}^L_j", t.pos)
                expected = 2 if name == "w" else 1
                if len(units) != expected:
                    raise Unparsed(f"{name} takes {expected} unit index(es), got {len(units)}", t.pos)
                expr = base[(layer, *units)]
            if transposed:
                raise Unparsed("a transposed element", t.pos)
            return expr, j
        args: list[sp.Basic] = [sp.Symbol(name)]
        if layer is not None or sample is not None:
            args.append(layer if layer is not None else sp.nan)
        if sample is not None:
            args.append(sample)
        if len(args) == 1:
            args.append(_BARE)
        expr = Mat(*args)
        return (Tr(expr) if transposed else expr), j

    def cost_name(self, toks: list[Tok]) -> sp.Symbol | None:
        names = [t.text for t in toks]
        if len(names) == 1 and names[0] in _COSTS:
            return cost_symbol("C")
        if len(names) == 3 and names[0] in _COSTS and names[1] == "_" and names[2] == "x":
            return cost_symbol("C")
        return None

    def partial(self, toks: list[Tok], i: int) -> tuple[sp.Basic, int] | None:
        """\\frac{\\partial C}{\\partial v}, \\partial C / \\partial v, \\nabla_v C."""
        t = toks[i].text
        if t == "\\frac" and i + 1 < len(toks) and toks[i + 1].text == "{":
            j, num = _skip_group(toks, i + 1)
            k, den = _skip_group(toks, j)
            if num and num[0].text == "\\partial" and den and den[0].text == "\\partial":
                cost = self.cost_name(num[1:])
                if cost is None:
                    raise Unparsed("only derivatives of the cost C (or J, L) are understood", toks[i].pos)
                var = self.whole_atom(den[1:])
                return Partial(cost, var), k
            return None
        if t == "\\partial":
            # \partial C / \partial v
            cost_toks = []
            j = i + 1
            while j < len(toks) and toks[j].text != "/":
                cost_toks.append(toks[j])
                j += 1
            cost = self.cost_name(cost_toks)
            if cost is None or j + 1 >= len(toks) or toks[j + 1].text != "\\partial":
                raise Unparsed("a partial derivative that is not dC/dv", toks[i].pos)
            k = j + 2
            res = self.name_atom(toks, k)
            if res is None:
                raise Unparsed("a partial derivative with respect to an unknown name", toks[k - 1].pos)
            return Partial(cost, res[0]), res[1]
        if t == "\\nabla":
            j = i + 1
            if j >= len(toks) or toks[j].text != "_":
                raise Unparsed("\\nabla without a subscript", toks[i].pos)
            k, inner = _skip_group(toks, j + 1)
            var = self.whole_atom(inner)
            if isinstance(var, Mat) and var.args[-1] == _BARE:
                var = Mat(var.args[0], index_symbol("L")) if var.name in ("a", "z") else var
            m_end = k
            cost_toks = []
            while m_end < len(toks) and (toks[m_end].text in _COSTS or toks[m_end].text in ("_", "x")) \
                    and len(cost_toks) < 3:
                cost_toks.append(toks[m_end])
                m_end += 1
            cost = self.cost_name(cost_toks)
            if cost is None:
                raise Unparsed("\\nabla of something other than the cost C", toks[i].pos)
            return Partial(cost, var), m_end
        return None

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
        if t.text in _ACTS:
            sup, sub, primes, j = self.scripts(toks, i + 1)
            if sub is not None:
                return None
            if sup is not None:
                names = [x.text for x in sup]
                primes += names.count("\\prime") + names.count("'")
            if j < len(toks) and toks[j].text == "(":
                k, inner = _skip_group(toks, j)
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
                k, inner = _skip_group(toks, j)
                arg = self.expr(inner)
            else:
                res = self.name_atom(toks, j) if j < len(toks) else None
                if res is None:
                    raise Unparsed(f"{t.text} without an argument", t.pos)
                arg, k = res
            if is_matrix(arg) and not arg.has(_BARE):
                raise Unparsed(f"{t.text} of a vector or matrix (element-wise) is not supported", t.pos)
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
        out: list[str] = []
        i = 0
        n = len(toks)
        while i < n:
            t = toks[i]
            s = t.text
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
            if s in ("(", "[", "{", "\\{"):
                j, inner = _skip_group(toks, i)
                ir = self.expr(inner)
                if j < n and toks[j].text == "^":
                    k, sup = _skip_group(toks, j + 1)
                    if [x.text for x in sup] in (["T"], ["\\top"], ["\\intercal"]):
                        ir, j = Tr(ir), k
                out.append(self.placeholder(ir))
                i = self.maybe_power(toks, j, out)
                continue
            if s == "\\frac":
                j, num = _skip_group(toks, i + 1)
                k, den = _skip_group(toks, j)
                out.append(f"\\frac{{{self.emit(num)}}}{{{self.emit(den)}}}")
                i = self.maybe_power(toks, k, out)
                continue
            if s == "\\sum":
                i = self.sum(toks, i, out)
                continue
            if re.fullmatch(r"\d+(\.\d+)?", s):
                out.append(s)
                i = self.maybe_power(toks, i + 1, out)
                continue
            if s in ("+", "-", "/"):
                out.append(f" {s} ")
            elif s in ("\\cdot", "\\times"):
                out.append(" \\cdot ")
            elif s in ("\\odot", "\\circ", "*"):  # course notes write the element-wise product as *
                out.append(f" \\cdot {_ODOT} \\cdot ")
            elif s == "m":
                out.append(" m ")
                i = self.maybe_power(toks, i + 1, out)
                continue
            elif s == "e" and i + 1 < n and toks[i + 1].text == "^":
                k, sup = _skip_group(toks, i + 2)
                out.append(f" e^{{{self.emit(sup)}}} ")
                i = k
                continue
            elif s == "\\ONES":
                out.append(self.placeholder(Ones()))
                i = self.maybe_power(toks, i + 1, out)
                continue
            elif s in ("\\eta", "\\alpha", "\\lambda"):
                raise Unparsed(f"{s} (a hyper-parameter) has no meaning on the model", t.pos)
            elif s.startswith("\\"):
                raise Unparsed(f"unsupported command {s}", t.pos)
            else:
                raise Unparsed(f"unknown symbol '{s}'", t.pos)
            i += 1
        return "".join(out)

    def maybe_power(self, toks: list[Tok], i: int, out: list[str]) -> int:
        """A power ``^{...}`` after an item (transposes of names are read with the name)."""
        if i < len(toks) and toks[i].text == "^":
            k, sup = _skip_group(toks, i + 1)
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
        j, lower = _skip_group(toks, j + 1)
        var_t = lower[0] if lower else None
        if var_t is None or not re.fullmatch(r"[A-Za-z]", var_t.text) or var_t.text in ("x",):
            raise Unparsed("a sum over something other than a unit or sample index", toks[i].pos)
        if len(lower) > 1 and not (lower[1].text == "=" and len(lower) == 3 and lower[2].text == "1"):
            raise Unparsed("a sum that does not start at 1", toks[i].pos)
        if j < len(toks) and toks[j].text == "^":
            j, _upper = _skip_group(toks, j + 1)  # the range comes from the model, the bound is not needed
        k, depth = j, 0
        while k < len(toks):
            s = toks[k].text
            if s in _OPEN:
                depth += 1
            elif s in _OPEN.values():
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
            for x in e.args:
                if isinstance(x, sp.Symbol) and x.name == _ODOT:
                    groups.append([])
                else:
                    groups[-1].append(self.convert(x))
            if any(not g for g in groups):
                raise Unparsed("a Hadamard product with a missing factor")
            prods = [sp.Mul(*g) for g in groups]
            out = prods[0]
            for p in prods[1:]:
                out = Had(out, p)
            return out
        if isinstance(e, sp.Pow):
            base, exp = self.convert(e.args[0]), self.convert(e.args[1])
            if is_matrix(base) and exp != 1 and not base.has(_BARE):
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


def understand(tex_or_tokens: str | list[Tok]) -> sp.Basic:
    """Read one side of a relation into an IR expression; :class:`Unparsed` with a reason otherwise."""
    toks = tokenize(normalize(tex_or_tokens)) if isinstance(tex_or_tokens, str) else tex_or_tokens
    if not toks:
        raise Unparsed("empty side")
    if sum(len(t.text) for t in toks) > MAX_SIDE:
        raise Unparsed(f"longer than {MAX_SIDE} characters")
    return _Reader().expr(toks)


def resolve_bare(sides: list[sp.Basic]) -> list[sp.Basic]:
    """Names written without indices: vectors if the equation has vectors or matrices, elements otherwise.

    Bare ``a``, ``z`` are the output layer's (a^L, z^L); ``y`` the targets; ``W``, ``b``, ``A``, ``Z``, ``dW``... the
    output layer's matrices. As elements the unit index is ``j``.
    """
    nodes = [n for s in sides for n in sp.preorder_traversal(s)]
    vectors = any((isinstance(n, Mat) and n.args[-1] != _BARE) or isinstance(n, (Tr, Had)) or
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
        return _ELEMENT_BASES[name][L, j]

    out = [s.replace(lambda n: isinstance(n, Mat) and n.args[-1] == _BARE, fix) for s in sides]
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


def understand_equation(rel: Relation) -> list[sp.Basic]:
    """Every side of a relation, read and with bare names resolved (:class:`Unparsed` on the first failure)."""
    sides = []
    for k, side in enumerate(rel.sides):
        if not side:
            raise Unparsed("a side of the relation is empty" if k else "nothing before the relation")
        sides.append(understand(side))
    return resolve_bare(sides)


def echo(expr: sp.Basic) -> str:
    """What was understood, as LaTeX in book notation."""
    return book_latex(expr)

