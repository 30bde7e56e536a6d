r"""Macros a document defines, expanded before its equations are read: a bounded expander, not TeX.

Definitions read: ``\newcommand``, ``\renewcommand``, ``\providecommand`` (starred or not, with ``[n]`` arguments and
an optional ``[default]`` first argument), ``\def\name#1#2{...}``, ``\DeclareMathOperator{\name}{text}`` (read as
``\operatorname{text}``), and in Markdown/HTML the MathJax configuration ``MathJax = {tex: {macros: {name: "body",
name2: ["body", 2]}}}``. A definition may sit anywhere, also inside a math block (``$$\newcommand{\err}{\delta}
\err^L_j = ...$$``); it applies from where it is written.

Bounds, because a document is untrusted input: at most :data:`MAX_PASSES` rounds of expansion (a macro that expands to
itself stops there), the text may grow to :data:`MAX_GROWTH` times its size, at most :data:`MAX_MACROS` definitions,
bodies of at most 500 characters. Nothing is executed and nothing is read from disk (``\input`` stays text). Each
definition is blanked where it was written (newlines kept, so line numbers stay valid), and what was expanded is
listed (``bpv check -v`` prints it).
"""

from __future__ import annotations

import re

__all__ = ["MAX_GROWTH", "MAX_MACROS", "MAX_PASSES", "Macro", "expand_document", "find_macros"]

MAX_PASSES = 8
MAX_GROWTH = 4
MAX_MACROS = 200
_MAX_BODY = 500

_NEWCOMMAND = re.compile(r"\\(?:re)?(?:new|provide)command\*?\s*(?:\{\s*(\\[A-Za-z]+)\s*\}|(\\[A-Za-z]+))"
                         r"\s*(?:\[\s*(\d)\s*\])?\s*(?:\[([^\]\n]{0,80})\])?\s*\{")
_DEF = re.compile(r"\\def\s*(\\[A-Za-z]+)((?:#\d)*)\s*\{")
_OPERATOR = re.compile(r"\\DeclareMathOperator\*?\s*\{\s*(\\[A-Za-z]+)\s*\}\s*\{([^{}\n]{1,40})\}")
_MATHJAX = re.compile(r"macros\s*:\s*\{")
_JS_ENTRY = re.compile(r"""([A-Za-z]+)\s*:\s*(?:(["'])((?:\\.|(?!\2).){0,500}?)\2|"""
                       r"""\[\s*(["'])((?:\\.|(?!\4).){0,500}?)\4\s*,\s*(\d)\s*\])""", re.S)
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S | re.I)


class Macro:
    """``\\name`` with ``n`` arguments (``default``: the optional first one) and its ``body`` (``#1``...)."""

    def __init__(self, name: str, n: int, body: str, line: int, default: str | None = None):
        self.name, self.n, self.body, self.line, self.default = name, n, body.replace("\n", " "), line, default

    def describe(self) -> str:
        args = f" [{self.n} argument{'s' if self.n != 1 else ''}]" if self.n else ""
        return f"line {self.line}: {self.name}{args} -> {self.body}"


def _group_end(text: str, start: int) -> int:
    """The offset just after the brace group whose ``{`` is at ``start - 1`` (-1 if unclosed)."""
    depth, i = 1, start
    while i < len(text) and i - start <= _MAX_BODY:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        depth += (c == "{") - (c == "}")
        if depth == 0:
            return i + 1
        i += 1
    return -1


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _blank(chars: list[str], a: int, b: int) -> None:
    for k in range(a, b):
        if chars[k] != "\n":
            chars[k] = " "


def find_macros(text: str, kind: str = "tex") -> tuple[list[tuple[int, Macro]], str]:
    """(offset, macro) for every definition, and the text with the definitions blanked."""
    found: list[tuple[int, Macro]] = []
    chars = list(text)
    for rx, arity in ((_NEWCOMMAND, None), (_DEF, "hash")):
        for m in rx.finditer(text):
            end = _group_end(text, m.end())
            if end < 0 or len(found) >= MAX_MACROS:
                continue
            body = text[m.end():end - 1]
            if arity is None:
                name, n, default = m.group(1) or m.group(2), int(m.group(3) or 0), m.group(4)
            else:
                name, n, default = m.group(1), m.group(2).count("#"), None
            found.append((m.start(), Macro(name, n, body, _line(text, m.start()), default)))
            _blank(chars, m.start(), end)
    for m in _OPERATOR.finditer(text):
        found.append((m.start(), Macro(m.group(1), 0, f"\\operatorname{{{m.group(2)}}}", _line(text, m.start()))))
        _blank(chars, m.start(), m.end())
    if kind == "md":
        for s in _SCRIPT.finditer(text):
            found.extend(_mathjax(s.group(0), s.start(), text))
            _blank(chars, s.start(), s.end())
    found.sort(key=lambda x: x[0])
    return found, "".join(chars)


def _mathjax(script: str, offset: int, text: str) -> list[tuple[int, Macro]]:
    out = []
    for m in _MATHJAX.finditer(script):
        end = _group_end(script, m.end())
        block = script[m.end():end - 1 if end > 0 else len(script)]
        for e in _JS_ENTRY.finditer(block):
            body = e.group(3) if e.group(3) is not None else e.group(5)
            body = re.sub(r"\\(.)", r"\1", body)  # a JavaScript string: \\ is one backslash
            n = int(e.group(6) or 0)
            out.append((0, Macro("\\" + e.group(1), n, body, _line(text, offset + m.start()))))
    return out


def _args(text: str, i: int, macro: Macro) -> tuple[list[str], int] | None:
    """The arguments of a use of ``macro`` ending at ``i``: brace groups or single characters."""
    args: list[str] = []
    n = macro.n
    if macro.default is not None:
        m = re.match(r"\s*\[([^\]]{0,200})\]", text[i:])
        if m:
            args.append(m.group(1))
            i += m.end()
        else:
            args.append(macro.default)
        n -= 1
    for _ in range(n):
        while i < len(text) and text[i] == " ":
            i += 1
        if i >= len(text):
            return None
        if text[i] == "{":
            end = _group_end(text, i + 1)
            if end < 0:
                return None
            args.append(text[i + 1:end - 1])
            i = end
        else:
            m = re.match(r"\\[A-Za-z]+|\\.|.", text[i:], re.S)
            args.append(m.group(0))
            i += m.end()
    return args, i


def _substitute(body: str, args: list[str]) -> str:
    """``#1``...``#9`` of a body replaced by the arguments (a missing one by nothing)."""
    def one(h: re.Match) -> str:
        k = int(h.group(1))
        return args[k - 1] if 0 < k <= len(args) else ""
    return re.sub(r"#(\d)", one, body)


def _expand_once(text: str, macros: dict[str, Macro]) -> tuple[str, bool]:
    pattern = re.compile("(" + "|".join(re.escape(n) for n in sorted(macros, key=len, reverse=True)) + r")(?![A-Za-z])")
    out, i, changed = [], 0, False
    for m in pattern.finditer(text):
        if m.start() < i:
            continue
        macro = macros[m.group(1)]
        got = _args(text, m.end(), macro)
        if got is None:
            continue
        args, end = got
        out += [text[i:m.start()], " " + _substitute(macro.body, args) + " "]
        i, changed = end, True
    out.append(text[i:])
    return "".join(out), changed


def expand_document(text: str, kind: str = "tex") -> tuple[str, list[str]]:
    """The text with every defined macro expanded (bounded; see the module doc) and the list of what was expanded."""
    found, blanked = find_macros(text, kind)
    if not found:
        return text, []
    macros = {m.name: m for _, m in found}  # a later definition (\renewcommand) wins; good enough for notes
    limit = MAX_GROWTH * len(text) + 10_000
    out = blanked
    for _ in range(MAX_PASSES):
        new, changed = _expand_once(out, macros)
        if not changed or len(new) > limit:
            break
        out = new
    return out, [m.describe() for _, m in found]
