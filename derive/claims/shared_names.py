r"""The names of a convolution, a max-pool and a recurrent net, as course notes write them (namers of
:class:`derive.claims.shared_reader.SharedReader`).

* **convolution / max-pool** (index notation, 0-based as NumPy and torch): ``X``/``x`` the input, ``K``/``W``/``w``
  the kernel, ``b`` the bias, ``G``, ``\delta``, ``dout`` or ``dY`` the upstream gradient dC/dY, ``P``/``Y`` the
  pooled output; ``dK``/``dW``/``dw``, ``db``, ``dX``/``dx`` and ``\frac{\partial C}{\partial K_{o,c,u,v}}`` the
  gradients. Indices follow as ``_{n,c,i s+u-p, j s+v-p}``.
* **recurrent net** (min-char-rnn, CS231n, matrix notation): ``h_t``, ``h_{t-1}``, ``h^{(t)}``, ``x_t``, ``y_t`` (the
  one-hot target), ``p_t``/``\hat{y}_t`` (softmax), ``z_t``/``o_t`` (logits), ``a_t`` (pre-activation), ``W_{hh}``,
  ``W_{xh}``, ``W_{hy}``, ``b_h``, ``b_y``, ``m``, ``\mathbb{1}`` (ones, one per sequence); gradients ``dh``,
  ``dh_{next}``, ``dh_{raw}`` (= da), ``dy``/``dz``/``do``, ``dW_{hh}``, ``db_h``, ... and ``\frac{\partial C}
  {\partial W_{hh}}``. A name without a step is at the step t of the claim.
"""

from __future__ import annotations

import sympy as sp

from derive.claims.shared_reader import Ref, index_expr, letter, split_commas
from derive.claims.tokens import Tok, Unparsed, skip_group

__all__ = ["CONV_GRADIENT", "RNN_GRADIENT", "conv_namer", "conv_partial", "rnn_namer", "rnn_partial"]

_CONV_BASES = {"X": "X", "x": "X", "K": "K", "W": "K", "w": "K", "b": "b", "G": "G", "\\delta": "G", "P": "P",
               "Y": "P"}
#: the gradient of each array of a convolution or pool (dC/dY and dC/dP are the upstream G)
CONV_GRADIENT = {"X": "dX", "K": "dK", "b": "db", "P": "G"}


def _word(toks: list[Tok], i: int, word: str) -> int | None:
    """The index after ``word`` spelt letter by letter from ``toks[i]`` with no spaces, else None."""
    j = i
    for ch in word:
        if j >= len(toks) or toks[j].text != ch or (j > i and toks[j].space):
            return None
        j += 1
    if j < len(toks) and len(toks[j].text) == 1 and toks[j].text.isalpha() and not toks[j].space:
        return None  # a longer word
    return j


def _conv_indices(toks: list[Tok], j: int) -> tuple[tuple, int]:
    """The subscript's index expressions (comma separated, or single letters ``_{ij}``); a superscript other than
    ^T and ^2 is refused."""
    idx: tuple = ()
    if j < len(toks) and toks[j].text == "_":
        end, inner = skip_group(toks, j + 1)
        parts = split_commas(inner)
        if len(parts) == 1 and len(inner) > 1 and all(len(t.text) == 1 and t.text.isalpha() for t in inner):
            parts = [[t] for t in inner]
        idx = tuple(index_expr(p) for p in parts)
        j = end
    if j < len(toks) and toks[j].text == "^":
        _end, inner = skip_group(toks, j + 1)
        if [t.text for t in inner] not in (["T"], ["2"], ["\\top"]):
            raise Unparsed("a superscript on an array of a convolution (a layer or a sample): leave it out, the "
                           "claim is about one layer")
    return idx, j


def conv_namer(toks: list[Tok], i: int) -> tuple[object, int] | None:
    """A name of a convolution or max-pool claim at ``toks[i]`` (see the module doc)."""
    t = toks[i].text
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    if t == "d" and nxt is not None and not nxt.space:
        end = _word(toks, i + 1, "out")
        if end is not None:
            idx, j = _conv_indices(toks, end)
            return Ref("G", idx, "dout"), j
        base = _CONV_BASES.get(nxt.text)
        if base is not None and nxt.text not in ("\\delta", "G"):
            idx, j = _conv_indices(toks, i + 2)
            return Ref(CONV_GRADIENT[base], idx, "d" + nxt.text), j
    base = _CONV_BASES.get(t)
    if base is None:
        return None
    idx, j = _conv_indices(toks, i + 1)
    return Ref(base, idx, t), j


def conv_partial(den: list[Tok]) -> Ref:
    """``\\frac{\\partial C}{\\partial K_{o,c,u,v}}`` and the like: the gradient of the array in the denominator."""
    found = conv_namer(den, 0)
    if found is None or found[1] != len(den) or not isinstance(found[0], Ref) or found[0].name not in CONV_GRADIENT:
        raise Unparsed("a derivative by something other than X, K (W), b, Y or P of the layer")
    ref = found[0]
    return Ref(CONV_GRADIENT[ref.name], ref.idx, ref.stem, "partial")


# ----- the recurrent net ----------------------------------------------------------------------------------------
_RNN_STATES = {"h": "h", "x": "x", "y": "y", "p": "p", "z": "z", "o": "z", "a": "a"}
_WEIGHTS = {"hh": "Whh", "xh": "Wxh", "hy": "Why"}
_BIASES = {"h": "bh", "y": "by"}
#: the gradient of each quantity of the recurrent net (dh_{raw} is da: min-char-rnn's name)
RNN_GRADIENT = {"h": "dh", "z": "dz", "a": "da", "Whh": "dWhh", "Wxh": "dWxh", "Why": "dWhy", "bh": "dbh", "by": "dby"}
_FONT = {"\\text", "\\mathrm", "\\mathit", "\\textrm", "\\mathsf", "{", "}"}


def _flat(inner: list[Tok]) -> list[Tok]:
    return [t for t in inner if t.text not in _FONT]


def _step_and_tag(toks: list[Tok], j: int) -> tuple[sp.Expr | None, str | None, int]:
    """A subscript ``_t``, ``_{t-1}``, ``_{raw,t}``, ``_{hh}`` or a superscript ``^{(t)}``: (step, tag, end)."""
    step = tag = None
    if j < len(toks) and toks[j].text == "_":
        end, inner = skip_group(toks, j + 1)
        for part in split_commas(_flat(inner)):
            texts = [t.text for t in part]
            if len(texts) > 1 and all(len(x) == 1 and x.isalpha() for x in texts):
                tag = "".join(texts)
            elif texts:
                step = index_expr(part)
        j = end
    if j < len(toks) and toks[j].text == "^":
        end, inner = skip_group(toks, j + 1)
        if inner and inner[0].text == "(" and skip_group(inner, 0)[0] == len(inner):
            step = index_expr(skip_group(inner, 0)[1])
            j = end
    if step is not None and not step.free_symbols <= {letter("t")}:
        raise Unparsed(f"the step {sp.latex(step)} (steps are t, t-1, t+1 or numbers)")
    return step, tag, j


def _param(stem: str, toks: list[Tok], j: int) -> tuple[Ref, int]:
    """``W_{hh}``, ``W_{xh}``, ``W_{hy}``, ``b_h``, ``b_y``."""
    table = _WEIGHTS if stem == "W" else _BIASES
    if j >= len(toks) or toks[j].text != "_":
        raise Unparsed(f"{stem} without its subscript ({', '.join(f'{stem}_{{{k}}}' for k in table)})")
    end, inner = skip_group(toks, j + 1)
    tag = "".join(t.text for t in _flat(inner))
    if tag not in table:
        raise Unparsed(f"{stem}_{{{tag}}}: the recurrent net has {', '.join(f'{stem}_{{{k}}}' for k in table)}")
    return Ref(table[tag], (), stem, tag), end


def _rnn_quantity(stem: str, toks: list[Tok], j: int) -> tuple[Ref, int]:
    if stem in ("W", "b"):
        return _param(stem, toks, j)
    step, tag, end = _step_and_tag(toks, j)
    if tag is not None:
        raise Unparsed(f"{stem}_{{{tag}}}: not a name of the recurrent net")
    return Ref(_RNN_STATES[stem], (step,) if step is not None else (), stem), end


def _rnn_gradient(toks: list[Tok], i: int) -> tuple[Ref, int] | None:
    """``dh``, ``dh_{next}``, ``dh_{raw,t}``, ``dhnext``, ``dy``, ``dW_{hh}``, ``db_h`` (toks[i] is the d)."""
    for word, name, tag in (("hnext", "dhnext", "next"), ("hraw", "da", "raw")):
        end = _word(toks, i + 1, word)
        if end is not None:
            step, _tag, j = _step_and_tag(toks, end)
            return Ref(name, (step,) if step is not None else (), "dh", tag), j
    nxt = toks[i + 1].text
    if nxt in ("W", "b"):
        ref, j = _rnn_quantity(nxt, toks, i + 2)
        return Ref(RNN_GRADIENT[ref.name], (), "d" + nxt, ref.tag), j
    if nxt in ("h", "y", "z", "o", "a"):
        step, tag, j = _step_and_tag(toks, i + 2)
        idx = (step,) if step is not None else ()
        if nxt == "h" and tag in ("next", "raw"):
            return Ref("dhnext" if tag == "next" else "da", idx, "dh", tag), j
        if tag is not None:
            raise Unparsed(f"d{nxt}_{{{tag}}}: not a gradient of the recurrent net")
        return Ref("dz" if nxt in ("y", "z", "o") else "d" + nxt, idx, "d" + nxt), j
    return None


def rnn_namer(toks: list[Tok], i: int) -> tuple[object, int] | None:
    """A name of a recurrent-net claim at ``toks[i]`` (see the module doc)."""
    t = toks[i].text
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    if t == "d" and nxt is not None and not nxt.space:
        found = _rnn_gradient(toks, i)
        if found is not None:
            return found
    if t == "\\hat":
        end, inner = skip_group(toks, i + 1)
        if [x.text for x in inner] == ["y"]:
            ref, j = _rnn_quantity("p", toks, end)
            return Ref("p", ref.idx, "\\hat{y}"), j
        return None
    if t in ("m", "T") and (nxt is None or nxt.text not in ("_", "^") or t == "T"):
        return Ref(t, (), t), i + 1
    if t in ("W", "b") or t in _RNN_STATES:
        return _rnn_quantity(t, toks, i + 1)
    if t == "\\ONES":  # the vector of ones (one entry per sequence): X \mathbb{1} sums the columns
        return Ref("ones", (), "\\mathbb{1}"), i + 1
    return None


def rnn_partial(den: list[Tok]) -> Ref:
    """``\\frac{\\partial C}{\\partial h_t}``, ``\\frac{\\partial C}{\\partial W_{hh}}``: the gradient named."""
    found = rnn_namer(den, 0)
    if found is None or found[1] != len(den) or not isinstance(found[0], Ref) or found[0].name not in RNN_GRADIENT:
        raise Unparsed("a derivative by something other than h_t, a_t, z_t, W_{hh}, W_{xh}, W_{hy}, b_h, b_y")
    ref = found[0]
    return Ref(RNN_GRADIENT[ref.name], ref.idx, ref.stem, "partial" if ref.tag is None else "partial:" + ref.tag)
