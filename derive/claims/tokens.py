"""Tokens of a LaTeX side: Unicode and sizing commands normalised, then split into :class:`Tok` tokens.

Shared by the relation splitter (:mod:`derive.claims.relations`) and the readers (:mod:`derive.claims.names`,
:mod:`derive.claims.reader`); :class:`Unparsed` is the one error of the notation layer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ARRAYS", "OPEN", "Tok", "Unparsed", "normalize", "protect_arrays", "skip_group", "tokenize"]


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
                     r"\{\s*([A-Za-z][A-Za-z]?|\\[A-Za-z]+)\s*\}")


_HAT_SUB = re.compile(r"\\(hat|widehat)\s*\{\s*y\s*_\s*(\{[^{}]*\}|[A-Za-z0-9])\s*\}")


def normalize(tex: str) -> str:
    """Unicode to commands, sizing and spacing commands dropped, font wrappers around a letter removed."""
    for u, t in _UNICODE.items():
        tex = tex.replace(u, t)
    tex = tex.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("~", " ")
    tex = re.sub(r"\\left\s*\.|\\right\s*\.", " ", tex)
    tex = _DROP.sub(" ", tex)
    tex = re.sub(r"\\mathbf\s*\{\s*1\s*\}|\\mathbb\s*\{\s*1\s*\}|\\mathbb\s*1", lambda _m: " \\ONES ", tex)
    tex = _HAT_SUB.sub(r"\\hat{y}_\2", tex)
    tex = re.sub(r"\\ell(?![A-Za-z])", " l ", tex)  # \ell is the layer index l
    tex = re.sub(r"\\(mathrm|operatorname|text)\s*\{\s*d\s*\}", " d ", tex)  # upright d of a derivative
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


OPEN = {"{": "}", "(": ")", "[": "]", "\\{": "\\}", "\\MATBEGIN": "\\MATEND"}

#: the array environments read as values: matrix literals and piecewise definitions
ARRAYS = ("pmatrix", "bmatrix", "matrix", "cases")
_ARRAY = re.compile(r"\\begin\{(" + "|".join(ARRAYS) + r")\}((?:(?!\\begin\{).)*?)\\end\{\1\}", re.S)


def protect_arrays(text: str) -> str:
    """``\\begin{pmatrix} a & b \\\\ c & d \\end{pmatrix}`` (and ``bmatrix``, ``matrix``, ``cases``) as one group
    ``\\MATBEGIN{pmatrix} a \\MATCOL b \\MATROW c \\MATCOL d \\MATEND`` whose ``&`` and ``\\\\`` are not the rows and
    columns of an ``align`` (line breaks are kept, so line numbers stay valid)."""
    def one(m: re.Match) -> str:
        body = re.sub(r"(?<!\\)&", r" \\MATCOL ", m.group(2))
        body = re.sub(r"\\\\(\[[^\]]*\])?", r" \\MATROW ", body)
        return f"\\MATBEGIN{{{m.group(1)}}}{body}\\MATEND "

    for _ in range(3):  # nested arrays, innermost first
        new = _ARRAY.sub(one, text)
        if new == text:
            break
        text = new
    return text


def skip_group(toks: list[Tok], i: int) -> tuple[int, list[Tok]]:
    """(index after, inner tokens) of the group or single token at ``i``."""
    if i >= len(toks):
        raise Unparsed("a group is missing at the end")
    t = toks[i].text
    if t in OPEN:
        close, depth, j = OPEN[t], 0, i
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

