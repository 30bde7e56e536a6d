r"""Reading a claim about a block past the dense layer in the block's own names (L2, dropout, normalisation).

A model with ``l2=``, ``keep_prob=`` or ``norm=`` (directive or flags) has quantities the dense notation has no names
for: C_0, lambda, n, eta (L2); dOut, M, p (dropout); dy, dx, gamma, beta, \hat{x}, mu, sigma^2, epsilon, dgamma,
dbeta (normalisation). :class:`BlockReader` reads them (it extends :class:`derive.claims.reader.Reader`) and
:func:`to_array` turns the nodes read into the **array forms** of :mod:`derive.layers`
(:class:`~derive.layers.arrays.ArraySymbol` names, element-wise products, sums as
:class:`~derive.layers.arrays.StatSum`/:class:`~derive.layers.arrays.BatchSum`). A claim in the dense network's
names raises :class:`NotBlock`: the ordinary reader takes it. The claim is judged by :mod:`derive.claims.blocks`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from derive.claims.ir import Cross, Had, ISum, Mat, SqNorm, Tr
from derive.claims.names import BARE
from derive.claims.reader import Reader
from derive.claims.semantics import Context
from derive.claims.tokens import Tok, Unparsed, skip_group
from derive.core.symbols import b as b_base
from derive.core.symbols import w as w_base
from derive.layers import dropout as drop
from derive.layers import normalisation as bn
from derive.layers import penalty as l2
from derive.layers.arrays import ArraySymbol, BatchSum, StatSum, count

__all__ = ["BLOCK_WORDS", "BlockReader", "NotBlock", "cost_C", "cost_C0", "families", "m_batch", "nabla0_b", "sum_w2",
           "to_array"]


class _Nabla0b(ArraySymbol):
    """dC_0/db (biases are not regularised: the same as dC/db), printed as the book does."""

    def _latex(self, printer) -> str:
        return r"\nabla_{b} C_0"


nabla0_b = _Nabla0b("nabla0_b")
#: the batch size m in an L2 claim (n is the training-set size there)
m_batch = sp.Symbol("m", integer=True, positive=True)
#: the cost C, the cost C_0 without the L2 term, and sum_w w^2 over every weight (Nielsen eq. 85)
cost_C = ArraySymbol("C")
cost_C0 = ArraySymbol("C_0")
sum_w2 = ArraySymbol("sum_w2")
_SAMPLE_LETTERS = ("i", "s", "t")
_SPACES = ("\\,", "\\;", "\\!", "\\:", "\\quad", "\\qquad", "~")

#: each name's block: the claim is judged on the instance of that block
_FAMILY = {
    **{s: "l2" for s in (l2.W, l2.b, l2.nabla_W, l2.nabla0_W, l2.nabla_b, nabla0_b, l2.lam, l2.n_train, l2.eta,
                         m_batch, cost_C, cost_C0, sum_w2)},
    **{s: "dropout" for s in (drop.a, drop.mask, drop.out, drop.dout, drop.da, drop.keep)},
    **{s: "norm" for s in (bn.z, bn.mu, bn.centred, bn.var, bn.inv_std, bn.x_hat, bn.y, bn.gamma, bn.beta, bn.dy,
                           bn.dz, bn.dgamma, bn.dbeta, bn.eps, count)},
}
#: the gradients: (cost, variable) -> the array form's name
_GRADIENTS = {("C", l2.W): l2.nabla_W, ("C", l2.b): l2.nabla_b, ("C0", l2.W): l2.nabla0_W, ("C0", l2.b): nabla0_b,
              ("C", bn.gamma): bn.dgamma, ("C", bn.beta): bn.dbeta, ("C", bn.z): bn.dz, ("C", bn.y): bn.dy,
              ("C", drop.a): drop.da, ("C", drop.out): drop.dout}
#: each block in words, and the directive key that gives a model the block (for the messages)
BLOCK_WORDS = {"l2": "an L2 term", "dropout": "dropout", "norm": "a normalisation"}
_DIRECTIVE = {"l2": "l2=LAMBDA", "dropout": "keep_prob=P", "norm": "norm=batch or norm=layer"}


class NotBlock(Exception):
    """The claim uses names of the dense network: it is not a block claim (the ordinary reader takes it)."""


def families(context: Context) -> frozenset[str]:
    """The blocks of the context's model: ``l2``, ``dropout``, ``norm``."""
    spec = context.spec
    present = {"l2": spec.penalty is not None, "dropout": spec.keep_prob is not None, "norm": spec.norm is not None}
    return frozenset(name for name, yes in present.items() if yes)


def _word(toks: list[Tok], i: int, word: str) -> int | None:
    """The index after ``word`` spelt letter by letter from ``toks[i]`` (no spaces inside), else None."""
    j = i
    for ch in word:
        if j >= len(toks) or toks[j].text != ch or (j > i and toks[j].space):
            return None
        j += 1
    return j


@dataclass
class BlockReader(Reader):
    """The reader with the names of the blocks in ``blocks`` (see the module doc).

    ``found``: names only a block has were read (C_0, lambda, dOut, gamma, ...); ``used``: the blocks the names
    belong to; ``layers``: the layers of the weights and biases named (an L2 claim)."""

    blocks: frozenset = frozenset()
    found: bool = False
    dense: bool = False
    used: set = field(default_factory=set)
    layers: set = field(default_factory=set)

    @property
    def used_cost(self) -> bool:
        """The claim is about the cost's value (C = C_0 + (lambda/2n) sum_w w^2), not a gradient."""
        return any(isinstance(v, ArraySymbol) and v in (cost_C, cost_C0) for v in self.table.values())

    def _take(self, sym: sp.Symbol, toks: list[Tok], j: int, block_only: bool = True) -> tuple[sp.Basic, int]:
        """``sym`` with its scripts skipped (dy_i, \\hat{x}_i, dA^{[l]}: the same array), its block noted. A
        superscript that is no layer or sample (``\\gamma^2``) is left to the caller: a power."""
        family = _FAMILY[sym]
        if sym == l2.eta and "l2" not in self.blocks:
            raise NotBlock  # a learning rate: not a block's name (the dense reader says what it is)
        self.found = self.found or block_only
        if family not in self.blocks:
            raise Unparsed(f"{sp.latex(sym)} belongs to {BLOCK_WORDS[family]}, which this model does not have "
                           f"(give {_DIRECTIVE[family]} in the bpv directive)")
        self.used.add(family)
        while j < len(toks) and toks[j].text in ("_", "^"):
            end, inner = skip_group(toks, j + 1)
            texts = [t.text for t in inner]
            if toks[j].text == "^":
                if texts and texts[-1] in ("T", "\\top"):
                    raise Unparsed(f"a transpose of {sp.latex(sym)} (a block's arrays are element-wise)")
                if not (texts and (texts[0] in ("[", "(") or texts in (["l"], ["L"]))):
                    break  # a power
            j = end
        if j < len(toks) and toks[j].text in ("'", "\\prime"):
            raise Unparsed(f"a prime after {sp.latex(sym)}")
        return sym, j

    def gradient_atom(self, toks: list[Tok], i: int) -> tuple[sp.Basic, int] | None:
        """A gradient written d-name (``toks[i]`` is the d, its name follows with no space): dx, dy, d\\gamma,
        d\\beta, dA, dOut; None: no block's gradient."""
        nxt, b = toks[i + 1], self.blocks
        if "norm" in b and nxt.text in ("x", "z"):
            return self._take(bn.dz, toks, i + 2)
        if "norm" in b and nxt.text == "y":
            return self._take(bn.dy, toks, i + 2)
        if nxt.text == "\\gamma":
            return self._take(bn.dgamma, toks, i + 2)
        if nxt.text == "\\beta":
            return self._take(bn.dbeta, toks, i + 2)
        if "dropout" in b and nxt.text in ("a", "A"):
            return self._take(drop.da, toks, i + 2, block_only=False)
        for word in ("Out", "out"):
            end = _word(toks, i + 1, word)
            if end is not None:
                return self._take(drop.dout, toks, end)
        if nxt.text in ("\\text", "\\mathrm", "\\mathit"):
            end, inner = skip_group(toks, i + 2)
            if "".join(x.text for x in inner).lower() == "out":
                return self._take(drop.dout, toks, end)
        return None

    def block_atom(self, toks: list[Tok], i: int) -> tuple[sp.Basic, int] | None:
        t = toks[i].text
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        b = self.blocks
        if t == "d" and nxt is not None and not nxt.space:
            res = self.gradient_atom(toks, i)
            if res is not None:
                return res
        if t == "\\tilde" and nxt is not None and "dropout" in b:
            end, inner = skip_group(toks, i + 1)
            if [x.text for x in inner] in (["a"], ["A"]):
                return self._take(drop.out, toks, end)
        if t == "\\hat" and nxt is not None and "norm" in b:
            end, inner = skip_group(toks, i + 1)
            if [x.text for x in inner] in (["x"], ["z"]):
                return self._take(bn.x_hat, toks, end)
        if t == "\\sigma" and "norm" in b:
            sup, _sub, _p, end = self.scripts(toks, i + 1)
            if sup is not None and [x.text for x in sup] == ["2"]:
                self.used.add("norm")
                self.found = True
                return bn.var, end
            return None
        simple = {"\\mu": bn.mu, "\\epsilon": bn.eps, "\\varepsilon": bn.eps, "\\gamma": bn.gamma,
                  "\\beta": bn.beta, "N": count, "\\lambda": l2.lam, "\\eta": l2.eta}
        if t in simple:
            return self._take(simple[t], toks, i + 1)
        if "l2" in b and t == "n":
            return self._take(l2.n_train, toks, i + 1)
        if "l2" in b and t == "C":  # the cost itself, in its definition C = C_0 + (lambda/2n) sum_w w^2
            if [x.text for x in toks[i + 1:i + 3]] == ["_", "0"]:
                return self._take(cost_C0, toks, i + 3)
            if [x.text for x in toks[i + 1:i + 5]] == ["_", "{", "0", "}"]:
                return self._take(cost_C0, toks, i + 5)
            if i + 1 >= len(toks) or toks[i + 1].text not in ("_", "^"):
                return self._take(cost_C, toks, i + 1, block_only=False)
        if "norm" in b and t in ("x", "z"):
            return self._take(bn.z, toks, i + 1, block_only=False)
        if "norm" in b and t == "y":
            return self._take(bn.y, toks, i + 1, block_only=False)
        if "dropout" in b:
            if t in ("M", "D"):
                return self._take(drop.mask, toks, i + 1)
            if t == "p":
                return self._take(drop.keep, toks, i + 1)
            if t in ("a", "A"):
                return self._take(drop.a, toks, i + 1, block_only=False)
            end = _word(toks, i, "out")
            if end is not None:
                return self._take(drop.out, toks, end)
        return None

    def model_name(self, node: sp.Basic) -> sp.Basic:
        """W^l, w^l_{jk}, b^l of the dense reader as the L2 block's W, b (their layer noted); any other name is
        the dense network's (noted: with a block's name the claim mixes the two)."""
        if "l2" in self.blocks:
            if isinstance(node, Mat) and node.name in ("w", "W", "b", "B") and len(node.args) <= 2:
                self.layers.add(node.args[1] if len(node.args) > 1 else BARE)
                self.used.add("l2")
                return l2.W if node.name in ("w", "W") else l2.b
            if isinstance(node, sp.Indexed) and node.base in (w_base, b_base):
                self.layers.add(node.indices[0])
                self.used.add("l2")
                return l2.W if node.base == w_base else l2.b
        self.dense = True  # a name of the dense network: read on, a block's name after it decides the message
        return node

    def name_atom(self, toks: list[Tok], i: int) -> tuple[sp.Basic, int] | None:
        res = self.block_atom(toks, i)
        if res is not None:
            return res
        res = super().name_atom(toks, i)
        if res is None:
            return None
        return self.model_name(res[0]), res[1]

    def function(self, toks: list[Tok], i: int) -> tuple[sp.Basic, int] | None:
        if toks[i].text == "\\sigma" and "norm" in self.blocks:
            res = self.block_atom(toks, i)
            if res is not None:
                return res
        res = super().function(toks, i)
        if res is not None:
            self.dense = True  # an activation or a function of the dense network
        return res

    def partial(self, toks: list[Tok], i: int) -> tuple[sp.Basic, int] | None:
        """\\frac{\\partial C}{\\partial v} and \\frac{\\partial C_0}{\\partial v} of a block's quantity."""
        if toks[i].text != "\\frac" or i + 1 >= len(toks) or toks[i + 1].text != "{":
            return self._dense_partial(toks, i)
        j, num = skip_group(toks, i + 1)
        k, den = skip_group(toks, j)
        if not (num and den and num[0].text in ("\\partial", "d") and den[0].text == num[0].text and len(den) > 1):
            return None
        names = [t.text for t in num[1:]]
        if names in (["C"], ["J"], ["L"], ["E"], ["C", "_", "x"]):
            cost = "C"
        elif names in (["C", "_", "0"], ["C", "_", "{", "0", "}"]):
            cost = "C0"
            self.found = True
            if "l2" not in self.blocks:
                raise Unparsed(f"C_0 (the cost without its L2 term) belongs to {BLOCK_WORDS['l2']}, which this model "
                               f"does not have (give {_DIRECTIVE['l2']} in the bpv directive)")
        else:
            return self._dense_partial(toks, i)
        var = self.whole_atom(den[1:])
        if (cost, var) not in _GRADIENTS:
            if cost == "C0":
                raise Unparsed(f"a derivative of C_0 by {sp.latex(var)} (understood: dC_0/dw, dC_0/db)")
            return self._dense_partial(toks, i)
        self.found = self.found or cost == "C0" or var not in (l2.W, l2.b)
        return _GRADIENTS[(cost, var)], k

    def _dense_partial(self, toks: list[Tok], i: int) -> tuple[sp.Basic, int] | None:
        res = super().partial(toks, i)
        if res is not None:
            self.dense = True
        return res

    def emit_other(self, toks: list[Tok], i: int, out: list[str]) -> int:
        s = toks[i].text
        if s in _SPACES:
            return i + 1
        if s == "\\sqrt":
            j, inner = skip_group(toks, i + 1)
            out.append(f"\\sqrt{{{self.emit(inner)}}}")
            return self.maybe_power(toks, j, out)
        return super().emit_other(toks, i, out)



def to_array(expr: sp.Basic, family: str, kind: str) -> sp.Expr:
    """The reader's nodes as an array form: products element-wise, sums along the block's axes."""
    if isinstance(expr, Tr):
        raise Unparsed("a transpose in a claim about a block (its arrays are element-wise)")
    if isinstance(expr, (Had, Cross)):
        return sp.Mul(*[to_array(a, family, kind) for a in expr.args])
    if isinstance(expr, (ISum, SqNorm)) and family == "l2":
        body = to_array(expr.args[0], family, kind)
        # sum_w w^2 (the dense reader takes the 2 of w^2 for a layer: here it is the square), ||w||^2
        if (isinstance(expr, SqNorm) and body == l2.W) or \
                (isinstance(expr, ISum) and expr.args[1].name == "w" and body in (l2.W, l2.W ** 2)):
            return sum_w2  # over every weight of the network
        raise Unparsed("a sum in a claim about an L2 term other than sum_w w^2 (write the whole arrays)")
    if isinstance(expr, ISum):
        body, var = expr.args
        if family != "norm":
            raise Unparsed("a sum in a claim about an L2 term or dropout (write the whole arrays)")
        inner = to_array(body, family, kind)
        # batch normalisation's statistics run over the samples: every sum is over the batch; layer normalisation:
        # a sum over a sample index (i, s, t) is over the batch (dgamma, dbeta), another one over the units
        if kind == "layernorm" and var.name in _SAMPLE_LETTERS:
            return BatchSum(inner)
        return StatSum(inner)
    if isinstance(expr, sp.Symbol) and expr.name == "m" and not isinstance(expr, ArraySymbol):
        if family == "norm":
            return count
        if family == "l2":
            return m_batch
        raise Unparsed("m in a claim about dropout")
    if isinstance(expr, (Mat, sp.Indexed)):
        raise NotBlock
    if not expr.args:
        return expr
    return expr.func(*[to_array(a, family, kind) for a in expr.args])

