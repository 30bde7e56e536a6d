"""Reading the names of neural-network quantities with their scripts: ``w^l_{jk}``, ``a^{[l-1]}``, ``dW``, ``x^{(i)}``.

:class:`NameReader` is the half of the reader (:class:`derive.claims.reader.Reader`) that turns one name and its
super- and subscripts into an IR node (:mod:`derive.claims.ir`); placeholders ``\\mathit{qqN}`` stand for them in
the text handed to ``latex2sympy2``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy as sp

from derive.claims.ir import BATCH_NAMES, Mat, Tr, cost_symbol, index_symbol
from derive.claims.tokens import Tok, Unparsed, skip_group
from derive.core.symbols import a as a_base
from derive.core.symbols import b as b_base
from derive.core.symbols import delta as delta_base
from derive.core.symbols import w as w_base
from derive.core.symbols import y as y_base
from derive.core.symbols import z as z_base

__all__ = ["ACTS", "BARE", "COSTS", "ELEMENT_BASES", "NameReader"]

_NAMES = {"a": "a", "b": "b", "z": "z", "w": "w", "y": "y", "x": "x", "W": "W", "A": "A", "Z": "Z", "X": "X",
          "Y": "Y", "\\delta": "delta", "\\Delta": "Delta", "\\dW": "dW", "\\db": "db", "\\dZ": "dZ", "\\dA": "dA"}
_D_NAMES = {"W": "dW", "w": "dW", "b": "db", "Z": "dZ", "z": "dZ", "A": "dA", "a": "dA"}
COSTS = {"C", "J", "L", "E"}
ACTS = {"\\sigma", "g", "f", "\\phi", "\\varphi"}
_FUNCS = {"\\ln": sp.log, "\\log": sp.log, "\\exp": sp.exp, "\\tanh": sp.tanh}
_TRANSPOSE = {"T", "\\top", "\\intercal", "\\mathsf", "\\mathrm", "\\mathbf", "\\rm", "\\sf"}
_SAMPLE_LETTERS = {"i", "n", "s", "t"}
_ELEMENT_OF = {"W": "w", "A": "a", "Z": "z", "B": "b"}
ELEMENT_BASES = {"w": w_base, "b": b_base, "z": z_base, "a": a_base, "delta": delta_base, "y": y_base}
_ODOT = "\\mathit{qqodot}"
BARE = sp.Symbol("bare")  # Mat(name, bare): a name written without any index


@dataclass
class NameReader:
    """Names and indices; ``layer_subscripts``: the document writes layers as subscripts (``W_1``, ``b_1``);
    ``l2``: the model has an L2 term (``\\lambda``, ``n`` are read as its lambda and n)."""

    table: dict[str, sp.Basic] = field(default_factory=dict)
    depth: int = 0
    layer_subscripts: bool = False
    #: the model has an L2 term: lambda and n are its strength and training-set size (not unknown symbols)
    l2: bool = False

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
            j, inner = skip_group(toks, i + 1)
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
                j, inner = skip_group(toks, i)
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
    def name_head(self, toks: list[Tok], i: int) -> tuple[str, int, sp.Expr | None] | None:
        """(name, index after it, implied layer) of a quantity's name at ``toks[i]``: ``dW``, ``\\hat{y}``, ``h``."""
        t = toks[i]
        j = i + 1
        if t.text == "d" and j < len(toks) and toks[j].text in _D_NAMES and not toks[j].space:
            return _D_NAMES[toks[j].text], j + 1, None
        if t.text in ("\\hat", "\\widehat") and j < len(toks):
            k, inner = skip_group(toks, j)
            names = [x.text for x in inner]
            if names == ["y"]:  # the network's output: a^L (\hat{y_k} was rewritten \hat{y}_k by normalize)
                return "a", k, index_symbol("L")
            return None
        if t.text == "h":  # the hidden activation of a network with one hidden layer
            return "a", j, index_symbol("L") - 1
        if t.text in _NAMES:
            return _NAMES[t.text], j, None
        return None

    def name_atom(self, toks: list[Tok], i: int) -> tuple[sp.Basic, int] | None:
        """A layer/unit name with its scripts at ``toks[i]``, or None."""
        t = toks[i]
        head = self.name_head(toks, i)
        if head is None:
            return None
        name, j, implied = head
        sup, sub, primes, j = self.scripts(toks, j)
        if primes:
            raise Unparsed(f"a prime after {t.text} (only sigma' and g' are read as derivatives)", t.pos)
        layer_t, _, sample_t, transposed = self.split_sup(sup)
        layer = implied if implied is not None else (self.index_expr(layer_t) if layer_t is not None else None)
        sample = self.index_expr(sample_t) if sample_t is not None else None
        if name in ("x", "y", "X", "Y") and layer is not None:
            if sample is not None:
                raise Unparsed(f"{name} has no layer", t.pos)
            sample, layer = layer, None  # y^{(2)}: a sample index
        upper = name in BATCH_NAMES or name[0].isupper() or name in ("dW", "db", "dZ", "dA")
        if sub is not None and upper and layer is None and len(sub) == 1:  # W_1, dW_2: layer as a subscript
            layer, sub = self.index_expr(sub), None
        elif sub is not None and name == "b" and layer is None and self.layer_subscripts and len(sub) == 1:
            layer, sub = self.index_expr(sub), None  # b_1 next to W_1 (the document writes layers as subscripts)
        if sub is not None:
            if upper and name in _ELEMENT_OF:  # W^l_{jk}: an element of the matrix
                name = _ELEMENT_OF[name]
            elif upper:
                raise Unparsed(f"cannot read {name} with subscript and superscript", t.pos)
            return self.element(name, t, layer, sample, sub, transposed), j
        args: list[sp.Basic] = [sp.Symbol(name)]
        if layer is not None or sample is not None:
            args.append(layer if layer is not None else sp.nan)
        if sample is not None:
            args.append(sample)
        if len(args) == 1:
            args.append(BARE)
        expr = Mat(*args)
        return (Tr(expr) if transposed else expr), j

    def element(self, name: str, t: Tok, layer, sample, sub: list[Tok], transposed: bool) -> sp.Basic:
        """w^l_{jk}, a^{l-1}_k, y_j, x_k: one element (the unit indices in ``sub``)."""
        if sample is not None:
            raise Unparsed("an element of one sample (x^{(i)}_j) is not supported; use the matrix form", t.pos)
        units = self.unit_indices(sub)
        base = ELEMENT_BASES.get(name)
        if transposed:
            raise Unparsed("a transposed element", t.pos)
        if name == "x":
            return a_base[(0, *units)]
        if base is None:
            raise Unparsed(f"{name} with a subscript", t.pos)
        if name == "y":
            if layer is not None:
                raise Unparsed("y has no layer", t.pos)
            return y_base[units[0]] if len(units) == 1 else y_base[tuple(units)]
        if layer is None:
            raise Unparsed(f"{t.text}_{{...}} without a layer: write e.g. {t.text}^l_j or {t.text}^L_j", t.pos)
        expected = 2 if name == "w" else 1
        if len(units) != expected:
            raise Unparsed(f"{name} takes {expected} unit index(es), got {len(units)}", t.pos)
        return base[(layer, *units)]

    def cost_name(self, toks: list[Tok]) -> sp.Symbol | None:
        names = [t.text for t in toks]
        if len(names) == 1 and names[0] in COSTS:
            return cost_symbol("C")
        if len(names) == 3 and names[0] in COSTS and names[1] == "_" and names[2] == "x":
            return cost_symbol("C")
        if len(names) >= 5 and names[0] in COSTS and names[1:3] == ["_", "{"] and names[-1] == "}" \
                and all(re.fullmatch(r"[A-Za-z]", n) for n in names[3:-1]):
            return cost_symbol("C")  # a named cost: C_{MSE}, L_{CE}
        return None

