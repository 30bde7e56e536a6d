"""The layout rules of bpv's reports: prose, displayed equations, derivations, tables, listings, the document.

Every equation comes from a SymPy object printed by :func:`derive.core.book.book_latex`; this module decides only how to
*lay out* what the printer gives (numbered displays, BP1-BP4 tags, line breaks for long sums, tables, listings).
Every string that comes from a user or from another module's prose goes through :func:`prose` (which escapes it
with :func:`derive.core.texbuild.escape_tex`). The data is gathered by :mod:`derive.report.gather`, the sections
are listed in :mod:`derive.report.sections` and the plots are drawn by :mod:`derive.report.plots`.

It is not a LaTeX engine or a general document model: just the layout rules of bpv's reports.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources

import sympy as sp

from derive.core.book import book_latex
from derive.core.steps import Derivation, Step, StepKind
from derive.core.texbuild import escape_tex
from derive.report.prose import book_words, prose, sentence_case

__all__ = [
    "LEVELS",
    "MAX_LINE",
    "MAX_NODES",
    "MAX_STEPS",
    "SHOWN_STEPS",
    "book_words",
    "bp_tag",
    "derivation_tex",
    "display",
    "document",
    "heading",
    "kernel_tex",
    "load_template",
    "math_width",
    "missing_tex",
    "prints_as",
    "prose",
    "sentence_case",
    "step_anchor",
    "step_tex",
    "steps_table_tex",
    "sub_level",
    "table_tex",
    "tt",
    "verdict_link",
]

LEVELS = ("chapter", "section", "subsection", "subsubsection", "paragraph")
#: Estimated width (in "characters" of math, see :func:`math_width`) that fits a 160 mm line at 11 pt.
MAX_LINE = 62.0
#: Expressions with more nodes than this are not printed (a 10^4-term expansion helps nobody).
MAX_NODES = 2500
#: A derivation with more steps than this shows the first SHOWN_STEPS in full and lists the rest in a table.
MAX_STEPS = 40
SHOWN_STEPS = 16

_BP_TAG = re.compile(r"(?<![A-Za-z])(BP[1-4][a-z]?)(?![0-9])")


def heading(level: str, title_tex: str, bookmark: str | None = None, *, star: bool = False) -> str:
    """``\\section{...}`` etc.; ``bookmark`` is the plain-text PDF bookmark when the title holds math."""
    if level not in LEVELS:
        raise ValueError(f"unknown heading level {level!r}")
    title = title_tex if bookmark is None else f"\\texorpdfstring{{{title_tex}}}{{{escape_tex(book_words(bookmark))}}}"
    return f"\\{level}{'*' if star else ''}{{{title}}}"


def sub_level(level: str, by: int = 1) -> str:
    """The heading level ``by`` steps below ``level`` (``section`` -> ``subsection``)."""
    return LEVELS[LEVELS.index(level) + by]


def missing_tex(what: str, why: str) -> str:
    """A visible box where a section would be whose data is not available."""
    return f"\\bpvmissing{{{prose(what)}: {prose(why)}}}"


# ----- equations ---------------------------------------------------------------------------------------------
def _node_count(expr, cap: int = MAX_NODES + 1) -> int:
    n = 0
    for _ in sp.preorder_traversal(expr):
        n += 1
        if n >= cap:
            break
    return n


def _brace_group(s: str, i: int) -> tuple[str, int]:
    """The balanced ``{...}`` group starting at s[i] (or the single token there) and the index after it."""
    if i >= len(s):
        return "", i
    if s[i] != "{":
        if s[i] == "\\":
            m = re.match(r"\\[A-Za-z]+|\\.", s[i:])
            return m.group(0), i + len(m.group(0))
        return s[i], i + 1
    depth, j = 0, i
    while j < len(s):
        if s[j] == "\\":
            j += 2
            continue
        if s[j] == "{":
            depth += 1
        elif s[j] == "}":
            depth -= 1
            if depth == 0:
                return s[i + 1 : j], j + 1
        j += 1
    return s[i + 1 :], len(s)


_ZERO_WIDTH = {"left", "right", "mathbf", "mathsf", "mathrm", "operatorname", "displaystyle", "quad", "qquad",
               "text", "begin", "end", "bigl", "bigr", "Bigl", "Bigr", "limits", "nonumber", "mathit"}
_WIDE = {"sum": 1.8, "prod": 1.8, "int": 1.2, "ln": 1.6, "log": 2.2, "exp": 2.4, "max": 2.4, "tanh": 3.2,
         "odot": 2.0, "cdot": 1.5, "times": 2.0, "cdots": 2.5, "ldots": 2.5, "partial": 1.1, "infty": 1.3}


def math_width(tex: str) -> float:
    """Rough width of math-mode LaTeX in character units (fractions count their wider part, scripts 0.7)."""
    w, i = 0.0, 0
    while i < len(tex):
        ch = tex[i]
        if ch == "\\":
            m = re.match(r"\\([A-Za-z]+)|\\(.)", tex[i:])
            name = m.group(1) or m.group(2)
            i += len(m.group(0))
            if name == "frac":
                num, i = _brace_group(tex, i)
                den, i = _brace_group(tex, i)
                w += max(math_width(num), math_width(den)) + 0.4
            elif name in ("text", "mathrm", "operatorname", "mathbf", "mathsf"):
                arg, i = _brace_group(tex, i)
                w += len(arg) * (0.9 if name != "mathbf" else 1.0)
            elif name in ("begin", "end"):
                _, i = _brace_group(tex, i)
            elif name in _ZERO_WIDTH or name in ("{", "}", ",", ";", ":", "!", " "):
                w += {",": 0.2, ";": 0.3, ":": 0.25, " ": 0.3}.get(name, 0.0)
            elif name == "\\":
                pass
            else:
                w += _WIDE.get(name, 1.0)
        elif ch in "^_":
            arg, i = _brace_group(tex, i + 1)
            w += 0.7 * math_width(arg)
        elif ch in "{} ":
            i += 1
        elif ch in "+-=<>":
            w += 2.2
            i += 1
        elif ch in "()[]|,":
            w += 0.6
            i += 1
        elif ch == "&":
            i += 1
        else:
            w += 1.0
            i += 1
    return w


def _terms_tex(expr: sp.Expr) -> list[str]:
    """An Add as signed terms, in the printer's own order: ['a', '- b', '+ c']."""
    terms = sp.Add.make_args(expr)
    try:
        from sympy.printing.latex import LatexPrinter

        terms = LatexPrinter()._as_ordered_terms(expr)
    except Exception:  # pragma: no cover - ordering is cosmetic
        pass
    out = []
    for i, t in enumerate(terms):
        if t.could_extract_minus_sign():
            out.append(f"- {book_latex(-t)}")
        else:
            out.append(book_latex(t) if i == 0 else f"+ {book_latex(t)}")
    if out and out[0].startswith("+ "):
        out[0] = out[0][2:]
    return out


def _pack(pieces: Sequence[str], first_room: float, room: float) -> list[str]:
    """Greedy line filling: pieces joined by spaces, the first line with less room."""
    lines, cur, cur_w = [], [], 0.0
    limit = first_room
    for p in pieces:
        pw = math_width(p)
        if cur and cur_w + pw > limit:
            lines.append(" ".join(cur))
            cur, cur_w, limit = [], 0.0, room
        cur.append(p)
        cur_w += pw
    if cur:
        lines.append(" ".join(cur))
    return lines


def _width_of(expr, tex: str) -> float:
    """math_width, with matrices measured row by row (their cells sit side by side, their rows stack)."""
    if isinstance(expr, sp.MatrixBase) and expr.rows and expr.cols:
        rows = [sum(math_width(book_latex(expr[i, j])) + 2.0 for j in range(expr.cols)) for i in range(expr.rows)]
        return max(rows) + 2.0
    return math_width(tex)


def _tag(tag: str | None) -> str:
    return f" \\tag{{{tag}}}" if tag else ""


def display(lhs, rhs, *, tag: str | None = None, relation: str = "=", numbered: bool = True,
            max_line: float = MAX_LINE) -> str:
    """A displayed equation ``lhs = rhs`` printed by ``book_latex``, broken over lines when it is too wide.

    Sums are broken between terms (``aligned``, continuation lines indented); an equation whose right side alone
    is one wide term is set with the relation on its own line; what still does not fit is scaled down to the line
    width, and an expression too large to be worth printing (> :data:`MAX_NODES` nodes) is replaced by a sentence.
    """
    lhs_tex = book_latex(lhs)
    env = "equation" if numbered or tag else "equation*"
    if _node_count(rhs) > MAX_NODES:
        n_terms = len(sp.Add.make_args(rhs))
        body = f"{lhs_tex} {relation} \\text{{(an expression of {n_terms} terms, not printed)}}"
        return f"\\begin{{{env}}}\n{body}{_tag(tag)}\n\\end{{{env}}}"
    rhs_tex = book_latex(rhs)
    lw, rw = math_width(lhs_tex), _width_of(rhs, rhs_tex)
    if lw + rw + 3 <= max_line:
        return f"\\begin{{{env}}}\n{lhs_tex} {relation} {rhs_tex}{_tag(tag)}\n\\end{{{env}}}"
    lines: list[str]
    if isinstance(rhs, sp.Add):
        pieces = _terms_tex(rhs)
        first_room = max(max_line - lw - 3, max_line * 0.5)
        lines = _pack(pieces, first_room, max_line - 6)
        widths = [math_width(ln) for ln in lines]
    else:
        lines, widths = [rhs_tex], [rw]
    if lw + 3 + widths[0] > max_line:
        # the left side alone on the first line, then "= ..." and the continuation lines below it
        rows = [f"&{lhs_tex}", f"&\\quad {relation} {lines[0]}", *[f"&\\qquad {ln}" for ln in lines[1:]]]
    else:
        rows = [f"{lhs_tex} &{relation} {lines[0]}", *[f"&\\quad {ln}" for ln in lines[1:]]]
    body = " \\\\\n".join(rows)
    widest = max(widths)
    aligned = f"\\begin{{aligned}}\n{body}\n\\end{{aligned}}"
    if widest > max_line:
        fit = "\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi"
        aligned = f"\\resizebox{{{fit}}}{{!}}{{$\\displaystyle {aligned}$}}"
    return f"\\begin{{{env}}}\n{aligned}{_tag(tag)}\n\\end{{{env}}}"


# ----- derivations -------------------------------------------------------------------------------------------
_KIND_WORDS = {
    StepKind.DEFINITION: "Definition",
    StepKind.AXIOM: "Axiom (stated, not computed)",
    StepKind.CONVENTION: "Convention",
    StepKind.DERIVED: "Derived",
    StepKind.CLAIM: "Claim (a textbook form, checked against the derived result)",
}


def bp_tag(label: str) -> str | None:
    """``BP1``..``BP4`` (or ``BP1a``) when a step's label names one of the four equations, else None."""
    m = _BP_TAG.search(label)
    return m.group(1) if m else None


def _verdict_tex(step: Step) -> str:
    if step.kind.unchecked:
        return ""
    return {True: "\\bpvok", False: "\\bpvbad", None: "\\bpvundecided"}[step.holds]


def verdict_link(step: Step, anchor: str, strength: str = "") -> str:
    """A step's verdict (with how strongly it was established) as a link to its proof-log entry."""
    if step.kind.unchecked:
        return f"\\hyperlink{{{anchor}}}{{\\bpvkind{{{step.kind.value}}}}}"
    words = f"~{{\\footnotesize {strength}}}" if strength else ""
    return f"\\hyperlink{{{anchor}}}{{{_verdict_tex(step)}}}{words}"


def prints_as(step: Step, previous: Step | None) -> bool:
    """True when ``step`` is a textbook claim that prints exactly as ``previous`` (same book LaTeX on both sides):
    the reader is told so instead of seeing the same display twice in a row."""
    if previous is None or step.kind is not StepKind.CLAIM:
        return False
    return (book_latex(step.lhs), book_latex(step.rhs)) == (book_latex(previous.lhs), book_latex(previous.rhs))


def step_anchor(prefix: str, label: str) -> str:
    """The hyperref target of a step's proof-log entry: unique in a book (``prefix``: the model's slug)."""
    # a digest, not the label itself: labels are the code's names for steps, and the TeX source carries no code names
    digest = hashlib.sha256(label.encode()).hexdigest()[:12]
    return "step:" + re.sub(r"[^A-Za-z0-9.-]", "-", prefix) + ":" + digest


def step_tex(step: Step, previous: Step | None = None, *, anchor: str | None = None) -> str:
    """One step: its equation (tagged BP1..BP4 where it is one), then kind, justification and how it was checked.

    A textbook claim that prints as ``previous`` (the step displayed just before it) becomes one sentence.
    ``anchor`` (:func:`step_anchor`) makes the step a link target (the main text's marks point to it)."""
    tag = bp_tag(step.label)
    target = f"\\hypertarget{{{anchor}}}{{}}%\n" if anchor else ""
    if prints_as(step, previous):
        of = f" of {tag}" if tag else ""
        return target + (f"\\bpvwhy{{\\bpvkind{{Claim}}: the textbook form{of} is exactly this. "
                         f"Checked: {prose(step.method)}. \\hfill {_verdict_tex(step)}}}")
    eq = display(step.lhs, step.rhs, tag=tag)
    kind = _KIND_WORDS[step.kind]
    just = step.justification.strip().rstrip(".")
    if just.lower().startswith(step.kind.value):  # "definition (per sample)" under a Definition: say it once
        just = just[len(step.kind.value):].strip(" :,")
    if not just:
        why = f"\\bpvkind{{{kind}}}."
    elif just.startswith("("):
        why = f"\\bpvkind{{{kind}}} {prose(just)}."
    else:
        why = f"\\bpvkind{{{kind}}}: {prose(just)}."
    if not step.kind.unchecked:
        checked = prose(step.method)
        if step.check is not None and step.check.detail:
            checked += f" ({prose(step.check.detail)})"
        why += f" Checked: {checked}. \\hfill {_verdict_tex(step)}"
        if step.check is not None and step.check.counterexample:
            ce = ", ".join(f"{prose(k)} = {prose(v)}" for k, v in step.check.counterexample.items())
            why += f"\\\\ \\textcolor{{bpvred}}{{Counterexample: {ce}}}"
    if step.index_form is not None:  # the entry the matrix was read from, printed, not as text
        why += f"\\\\ \\emph{{Entry by entry}} (indices from 0): ${book_latex(step.index_form)}$"
    elif step.note:
        why += f"\\\\ \\emph{{Note:}} {prose(step.note)}"
    return f"{target}{eq}\n\\bpvwhy{{{why}}}"


def derivation_tex(d: Derivation, level: str, *, title_tex: str | None = None, intro: str = "",
                   steps: Iterable[Step] | None = None, anchors: str | None = None) -> str:
    """A derivation as a headed run of steps; ``steps`` selects a subset (default: all, in order); ``anchors``
    (a model's slug) makes every step a link target (:func:`step_anchor`)."""
    chosen = list(d.steps if steps is None else steps)
    head = heading(level, title_tex if title_tex is not None else prose(sentence_case(d.title)),
                   bookmark=sentence_case(d.title))
    parts = [head]
    if intro:
        parts.append(intro)
    if d.summary:
        parts.append(prose(sentence_case(d.summary)))
    shown, rest = (chosen, []) if len(chosen) <= MAX_STEPS else (chosen[:SHOWN_STEPS], chosen[SHOWN_STEPS:])
    parts.extend(step_tex(s, prev, anchor=None if anchors is None else step_anchor(anchors, s.label))
                 for prev, s in zip([None, *shown], shown, strict=False))
    if rest:
        parts.append(f"The remaining {len(rest)} steps repeat the same check for other indices or parameters; "
                     "each is listed with its verdict and method:")
        parts.append(steps_table_tex(rest, anchors=anchors))
    n_checked = sum(1 for s in chosen if not s.kind.unchecked)
    n_hold = sum(1 for s in chosen if not s.kind.unchecked and s.holds is True)
    if n_checked:
        parts.append(f"{{\\small {n_hold} of {n_checked} checked steps hold.}}")
    return "\n\n".join(parts)


def steps_table_tex(steps: Sequence[Step], *, anchors: str | None = None) -> str:
    """Steps as table rows: label, the equation when it is short, verdict, method (each row a link target when
    ``anchors`` names the model)."""
    rows = []
    for s in steps:
        eq = ""
        if _node_count(s.lhs) + _node_count(s.rhs) < 60:
            tex = f"{book_latex(s.lhs)} = {book_latex(s.rhs)}"
            eq = f"${tex}$" if math_width(tex) < 34 else ""
        verdict = _verdict_tex(s) or escape_tex(s.kind.value)
        target = "" if anchors is None else f"\\hypertarget{{{step_anchor(anchors, s.label)}}}{{}}"
        rows.append([f"{target}{{\\scriptsize {escape_tex(s.label)}}}", eq, verdict,
                     f"{{\\scriptsize {prose(s.method)}}}"])
    return table_tex(["step", "equation", "verdict", "checked by"], rows,
                     ">{\\raggedright\\arraybackslash}p{0.2\\linewidth}>{\\raggedright\\arraybackslash}"
                     "p{0.36\\linewidth}p{0.1\\linewidth}>{\\raggedright\\arraybackslash}p{0.22\\linewidth}", long=True)


# ----- tables and listings -----------------------------------------------------------------------------------
def table_tex(header: Sequence[str], rows: Iterable[Sequence[str]], spec: str, *, caption: str = "",
              long: bool = False, small: bool = True) -> str:
    """A booktabs table; cells are LaTeX already (escape them with :func:`prose`)."""
    head = " & ".join(header) + " \\\\"
    body = "\n".join(r[0].rstrip("%").rstrip() if len(r) == 1 and r[0].startswith("\\midrule")
                     else " & ".join(r) + " \\\\" for r in rows)
    size = "\\small\n" if small else ""
    if long:
        cap = f"\\caption*{{{caption}}}\\\\\n" if caption else ""
        return (f"{{{size}\\begin{{longtable}}{{{spec}}}\n{cap}\\toprule\n{head}\n\\midrule\n\\endhead\n"
                f"{body}\n\\bottomrule\n\\end{{longtable}}}}")
    cap = f"\\par\\smallskip{{\\small {caption}}}" if caption else ""
    return (f"\\begin{{center}}{size}\\begin{{tabular}}{{{spec}}}\n\\toprule\n{head}\n\\midrule\n{body}\n"
            f"\\bottomrule\n\\end{{tabular}}{cap}\\end{{center}}")


def tt(text: object) -> str:
    """User text in typewriter type, escaped; ``--`` stays two hyphens (no en-dash ligature)."""
    return f"\\texttt{{{escape_tex(text).replace('-', '-{}')}}}"


def kernel_tex(source: str, *, caption: str = "") -> str:
    """A code listing (``listings``); the source is forced to ASCII and cannot close the environment early."""
    ascii_src = source.encode("ascii", "replace").decode("ascii")
    ascii_src = ascii_src.replace("\\end{lstlisting}", "\\end {lstlisting}")
    cap = f"caption={{{caption}}}," if caption else ""
    return f"\\begin{{lstlisting}}[language=Python,{cap}]\n{ascii_src.rstrip()}\n\\end{{lstlisting}}"


# ----- the document ------------------------------------------------------------------------------------------
def load_template(name: str = "report.tex") -> str:
    """The shipped template ``derive/report/templates/<name>``."""
    return resources.files("derive.report").joinpath("templates", name).read_text(encoding="utf-8")


def document(body: str, *, title_block: str, documentclass: str = "article", class_options: str = "",
             template: str | None = None, extra: Mapping[str, str] | None = None, pictures: bool = True,
             single_pass: bool = False) -> str:
    """Fill the template's ``<<...>>`` slots. A template without ``<<BODY>>`` is an error (it would drop the body).

    ``pictures=False`` drops the template lines marked ``% pictures`` (TikZ, pgfplots): a document whose figures
    are included as PDF pages does not pay for loading them in every LaTeX pass. ``single_pass=True`` adds
    ``\\nofiles``: no .aux/.toc/.out, so latexmk needs one pass (no table of contents, no PDF outline).
    """
    from derive import __version__

    tpl = load_template() if template is None else template
    if not pictures:
        tpl = "".join(ln for ln in tpl.splitlines(keepends=True) if not ln.rstrip().endswith("% pictures"))
    if "<<BODY>>" not in tpl:
        raise ValueError("report template has no <<BODY>> slot")
    slots = {
        "<<DOCUMENTCLASS>>": documentclass,
        "<<CLASSOPTIONS>>": f",{class_options}" if class_options else "",
        "<<VERSION>>": escape_tex(__version__),
        "<<TITLEBLOCK>>": title_block,
        "<<SETUP>>": "\\nofiles% one LaTeX pass: nothing refers back to an earlier pass" if single_pass else "",
        **(extra or {}),
    }
    for key, value in slots.items():
        tpl = tpl.replace(key, value)
    return tpl.replace("<<BODY>>", body)
