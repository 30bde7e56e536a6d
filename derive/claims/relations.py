"""Splitting a row at its top-level relations and sorting them (equation, definition, not checkable, update rule)."""

from __future__ import annotations

from dataclasses import dataclass

from derive.claims.tokens import OPEN, Tok, normalize, skip_group, tokenize

__all__ = ["Relation", "split_relation"]

_DEFINING = {"\\equiv", ":=", "\\coloneqq", "\\triangleq", "\\doteq", "\\eqqcolon", "=:", "def="}
_UNCHECKABLE = {"\\approx", "\\simeq", "\\sim", "\\propto", "\\to", "\\rightarrow", "\\longrightarrow", "\\Rightarrow",
                "\\leftarrow", "\\gets", "\\longleftarrow", "\\mapsto", "<", ">", "\\le", "\\leq", "\\ge", "\\geq",
                "\\ll", "\\gg", "\\neq", "\\ne", "\\Leftarrow", "\\iff", "\\implies", "\\leftrightarrow", "\\in",
                "\\subset", "\\cong"}


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
        if t in OPEN:
            stack.append(OPEN[t])
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
                j, _ = skip_group(toks, i + 1)
                k, inner = skip_group(toks, j)
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
        if t.text in OPEN:
            depth += 1
        elif t.text in OPEN.values():
            depth -= 1
        elif depth == 0 and t.text == "=":
            seen_eq = True
        elif depth == 0 and seen_eq and t.text in _PROSE:
            return toks[:i]
    return toks

