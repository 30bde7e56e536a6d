"""Finding the equations of a LaTeX or Markdown document, with line numbers, tags and labels.

``extract_equations(text, kind)`` returns one :class:`Equation` per displayed row: ``$$...$$``, ``\\[...\\]``,
``\\(...\\)``, inline ``$...$`` that holds a relation, and the ``equation``, ``align``, ``eqnarray``, ``gather``,
``multline`` environments (starred or not, also inside ``$$``), split into rows at ``\\\\`` with the ``&`` alignment
marks removed. ``\\tag{...}`` and ``\\label{...}`` are taken out of the row and kept.

Real documents are messy, so this is a scanner, not a parser: it never recurses, it finds closing delimiters with
``str.find`` (linear time even on a megabyte of unclosed ``\\[``), it skips Markdown code fences, inline code and TeX
comments, and whatever it cannot make sense of is simply not an equation. Directives for the checker
(``% bpv: act=sigmoid cost=bce`` in TeX, ``<!-- bpv: ... -->`` in Markdown) are collected by
:func:`find_directives`.

It does not interpret the mathematics (that is :mod:`derive.claims.notation`), and it never executes anything:
``\\input``, ``\\def`` and friends are text like any other.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from pathlib import Path

from derive.claims.tokens import protect_arrays
from numeric.errors import BadInput

__all__ = [
    "MAX_BYTES",
    "MAX_EQUATIONS",
    "Equation",
    "extract_equations",
    "find_directives",
    "read_document",
]

#: Larger documents are refused (a clean error, exit 2): nobody writes a megabyte of backprop by hand.
MAX_BYTES = 1 << 20
#: At most this many equations are checked per document; the rest are reported as skipped by the caller.
MAX_EQUATIONS = 400

ENVIRONMENTS = ("equation", "align", "eqnarray", "gather", "multline", "displaymath", "flalign", "alignat", "split",
                "aligned", "gathered")
_BEGIN = re.compile(r"\\begin\{(" + "|".join(ENVIRONMENTS) + r")(\*?)\}")
_TAG = re.compile(r"\\tag\*?\s*\{([^{}]{0,80})\}")
_LABEL = re.compile(r"\\label\s*\{([^{}]{0,200})\}")
_NONUMBER = re.compile(r"\\(nonumber|notag)\b")
_DIRECTIVE_TEX = re.compile(r"^[ \t]*%+[ \t]*bpv:(.*)$", re.M)
_RELATION = re.compile(r"=|\\equiv|\\approx|:=|\\coloneqq|\\leftarrow|\\rightarrow|\\to\b|\\gets")


@dataclass(frozen=True)
class Equation:
    """One row of displayed (or inline) mathematics.

    ``line`` is the 1-based line where the row starts; ``latex`` the row without ``&``, ``\\tag``, ``\\label``;
    ``env`` where it came from (``$$``, ``\\[``, ``$``, ``align``, ...); ``raw`` the row as written; ``block`` the
    offset of the block the row belongs to (rows of one ``align`` share it).
    """

    line: int
    latex: str
    tag: str | None
    label: str | None
    env: str
    raw: str
    block: int = 0


def read_document(path: str | Path) -> tuple[str, str]:
    """The text of a ``.tex``/``.md`` file and its kind (``tex`` or ``md``); :class:`BadInput` when unusable."""
    p = Path(path)
    if not p.exists():
        raise BadInput(f"{path}: no such file; give a .tex or .md document")
    if p.is_dir():
        raise BadInput(f"{path}: is a folder; give a .tex or .md document in it")
    if not p.is_file():
        raise BadInput(f"{path}: not a regular file (a device, a pipe or a socket); give a .tex or .md document")
    size = p.stat().st_size
    if size > MAX_BYTES:
        raise BadInput(f"{path}: {size} bytes is more than the {MAX_BYTES} bytes bpv check reads; split the document")
    data = p.read_bytes()
    if b"\x00" in data[:4096]:
        raise BadInput(f"{path}: looks like a binary file; give a .tex or .md document")
    text = data.decode("utf-8", errors="replace")
    kind = "md" if p.suffix.lower() in (".md", ".markdown", ".mdown", ".html", ".htm", ".txt") else "tex"
    return text, kind


def _md_directives(text: str) -> list[tuple[int, str]]:
    """``(offset, body)`` of every ``<!-- bpv: ... -->``, in one pass: each comment is found once, from its ``<!--``
    to the first ``-->`` (comments do not nest). A lazy regex from every opener to its ``-->`` rescans the rest of the
    text for each unclosed opener: 20,000 of them took 35 s."""
    found = []
    pos = 0
    while (start := text.find("<!--", pos)) >= 0:
        end = text.find("-->", start + 4)
        if end < 0:
            break
        body = re.match(r"\s*bpv:(.*)\Z", text[start + 4:end], re.S)
        if body is not None:
            found.append((start, body.group(1)))
        pos = end + 3
    return found


def find_directives(text: str) -> list[tuple[int, str]]:
    """``(line, "act=sigmoid cost=bce ...")`` for every ``% bpv:`` or ``<!-- bpv: -->`` directive."""
    import bisect

    newlines = [i for i, ch in enumerate(text) if ch == "\n"]
    spans = [(m.start(), m.group(1)) for m in _DIRECTIVE_TEX.finditer(text)] + _md_directives(text)
    return sorted((bisect.bisect_left(newlines, start) + 1, body.strip()) for start, body in spans)


def _blanked(m: re.Match) -> str:
    """The match with every character but newlines replaced by a space (offsets and lines stay valid)."""
    return re.sub(r"[^\n]", " ", m.group(0))


_FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$", re.S | re.M)


def _mask_markdown(text: str) -> str:
    """Blank code fences, inline code and HTML comments: no mathematics is read from them."""
    out = _FENCE.sub(_blanked, text)
    out = _blank_between(out, "<!--", "-->")
    return re.sub(r"`[^`\n]*`", _blanked, out)


def _blank_between(text: str, opener: str, closer: str) -> str:
    """Blank every ``opener ... closer`` span (linear: an unclosed opener ends the search)."""
    parts, i = [], 0
    while True:
        p = text.find(opener, i)
        if p < 0:
            break
        q = text.find(closer, p + len(opener))
        if q < 0:
            break
        q += len(closer)
        parts.append(text[i:p])
        parts.append(re.sub(r"[^\n]", " ", text[p:q]))
        i = q
    parts.append(text[i:])
    return "".join(parts)


def _mask_tex_comments(text: str) -> str:
    r"""Blank ``% ...`` comments (not ``\%``), line by line."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        m = re.search(r"(?<!\\)%", line)
        if m:
            lines[i] = line[: m.start()] + " " * (len(line) - m.start())
    return "\n".join(lines)


def _split_rows(body: str) -> list[tuple[int, str]]:
    r"""Rows of an environment body split at top-level ``\\`` (not inside braces): (offset in body, row)."""
    rows, depth, start, i = [], 0, 0, 0
    n = len(body)
    while i < n:
        c = body[i]
        if c == "\\" and i + 1 < n:
            if body[i + 1] == "\\" and depth == 0:
                rows.append((start, body[start:i]))
                i += 2
                # optional spacing argument \\[2pt]
                m = re.match(r"\s*\[[^\]\n]{0,20}\]", body[i:])
                if m:
                    i += m.end()
                start = i
                continue
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth = max(0, depth - 1)
        i += 1
    rows.append((start, body[start:]))
    return rows


def _clean_row(row: str) -> tuple[str, str | None, str | None]:
    tag = label = None
    m = _TAG.search(row)
    if m:
        tag = m.group(1).strip()
        row = row[: m.start()] + " " + row[m.end():]
    for m in list(_LABEL.finditer(row)):
        label = label or m.group(1).strip()
    row = _LABEL.sub(" ", row)
    row = _NONUMBER.sub(" ", row)
    row = re.sub(r"(?<!\\)&", " ", row)
    row = re.sub(r"\s+", " ", row).strip()
    # trailing punctuation of displayed maths ("... + b^l_j ,")
    row = re.sub(r"\s*(\\[,;!]|[,.;])\s*$", "", row).strip()
    return row, tag, label


def _body_rows(body: str, body_offset: int, env: str, starts: list[int]) -> list[Equation]:
    """Rows of one math block; a block holding an environment (``$$\\begin{eqnarray}...``) is split into rows."""
    m = _BEGIN.search(body)
    if m:
        name = m.group(1) + m.group(2)
        end = body.find(f"\\end{{{name}}}", m.end())
        inner_start = m.end()
        inner = body[inner_start:end] if end >= 0 else body[inner_start:]
        # a tag outside the environment ($$\begin{eqnarray}...\end{eqnarray}\tag{BP1}$$) belongs to the only row
        outside = body[: m.start()] + " " + (body[end + len(name) + 6:] if end >= 0 else "")
        outer_tag = _TAG.search(outside)
        rows = _rows_of(inner, body_offset + inner_start, name, starts)
        if outer_tag and len(rows) == 1 and rows[0].tag is None:
            r = rows[0]
            rows = [Equation(r.line, r.latex, outer_tag.group(1).strip(), r.label, r.env, r.raw, r.block)]
        return rows
    return _rows_of(body, body_offset, env, starts, split=False)


def _split_list(row: str) -> list[str]:
    """``a = b, \\quad c = d`` (two equations on one row, as align* writes them) -> [``a = b``, ``c = d``]."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(row):
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth = max(0, depth - 1)
        elif c in ",;" and depth == 0 and (i == 0 or row[i - 1] != "\\"):
            parts.append(row[start:i])
            start = i + 1
    parts.append(row[start:])
    parts = [p.strip() for p in parts]
    if len(parts) > 1 and all(_RELATION.search(p) for p in parts):
        return parts
    return [row]


def _rows_of(body: str, body_offset: int, env: str, starts: list[int], split: bool = True) -> list[Equation]:
    out = []
    for off, raw in (_split_rows(body) if split else [(0, body)]):
        latex, tag, label = _clean_row(raw)
        if not latex:
            continue
        lead = len(raw) - len(raw.lstrip())
        line = bisect.bisect_right(starts, body_offset + off + lead) + 1
        for piece in _split_list(latex):
            out.append(Equation(line, piece, tag, label, env, raw.strip(), body_offset))
    return out


_OPENERS = (("$$", "$$", "$$"), ("\\[", "\\]", "\\["), ("\\(", "\\)", "\\("))


def _at_backslash(masked: str, p: int, starts: list[int], missing: set[str], eqs: list[Equation]) -> int:
    """An environment or a ``\\[``/``\\(`` block at the backslash ``p``: its rows appended, the offset after it."""
    if p > 0 and masked[p - 1] == "\\":
        return p + 1
    m = _BEGIN.match(masked, p)
    if m:
        name = m.group(1) + m.group(2)
        closer = f"\\end{{{name}}}"
        end = -1 if closer in missing else masked.find(closer, m.end())
        if end < 0:
            missing.add(closer)
            return m.end()
        eqs.extend(_rows_of(masked[m.end():end], m.end(), name, starts))
        return end + len(closer)
    for opener, closer, env in _OPENERS[1:]:
        if masked.startswith(opener, p):
            end = -1 if closer in missing else masked.find(closer, p + 2)
            if end < 0:
                missing.add(closer)
                return p + 2
            eqs.extend(_body_rows(masked[p + 2:end], p + 2, env, starts))
            return end + 2
    return p + 1


def extract_equations(text: str, kind: str = "tex", limit: int | None = None) -> list[Equation]:
    """Every equation row of a document, in order (see the module doc). ``kind`` is ``tex`` or ``md``.

    With ``limit``, scanning stops once that many rows were found.
    """
    text = protect_arrays(text)
    masked = _mask_markdown(text) if kind == "md" else _mask_tex_comments(text)
    starts = [m.end() for m in re.finditer("\n", text)]  # offsets where lines 2, 3, ... begin
    eqs: list[Equation] = []
    j, k = masked.find("$"), masked.find("\\")
    missing: set[str] = set()  # closers known to be absent after some point: never search for them again
    i, n = 0, len(masked)
    # j, k: the next '$' and the next backslash at or after i (-1: none left), searched again only when passed
    while i < n and (limit is None or len(eqs) < limit):
        if 0 <= j < i:
            j = masked.find("$", i)
        if 0 <= k < i:
            k = masked.find("\\", i)
        cands = [p for p in (j, k) if p >= 0]
        if not cands:
            break
        p = min(cands)
        if masked[p] == "\\":
            i = _at_backslash(masked, p, starts, missing, eqs)
            continue
        # a dollar sign
        if p > 0 and masked[p - 1] == "\\":
            i = p + 1
            continue
        if masked.startswith("$$", p):
            end = -1 if "$$" in missing else masked.find("$$", p + 2)
            if end < 0:
                missing.add("$$")
                i = p + 2
                continue
            eqs.extend(_body_rows(masked[p + 2:end], p + 2, "$$", starts))
            i = end + 2
            continue
        # inline $...$ on one line, only if it holds a relation
        end = masked.find("$", p + 1)
        if end < 0 or end == p + 1 or masked.find("\n", p + 1, end) >= 0:
            i = p + 1
            continue
        body = masked[p + 1:end]
        if _RELATION.search(body):
            eqs.extend(_rows_of(body, p + 1, "$", starts, split=False))
        i = end + 1
    return eqs
