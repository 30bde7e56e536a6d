"""Prose in bpv's reports: escaped text with its ASCII maths typeset, in a book's words.

Every string that comes from a user or from another module's prose goes through :func:`prose`, which escapes it
with :func:`derive.core.texbuild.escape_tex` and typesets ASCII maths tokens (``delta^L``, ``a^{l-1}_k``,
``dC/da``) as math; the code's names for operations (``sympy.diff``) become words (:func:`book_words`).
"""

from __future__ import annotations

import re

from derive.core.texbuild import escape_tex

__all__ = ["book_words", "prose", "sentence_case"]


# ----- text --------------------------------------------------------------------------------------------------
#: ASCII maths inside prose (``delta^L``, ``a^{l-1}_k``, ``sigma'``, ``z^L_j``): typeset as math. The pattern only
#: matches letters, digits, ^, _, braces, + and -, so nothing the user wrote can reach TeX unescaped.
_PROSE_MATH = re.compile(
    r"(?<![\w\\])d(?P<dnum>[A-Za-z](?:_[A-Za-z0-9]+)?)/d(?P<dden>[A-Za-z]+(?:\^\{?[A-Za-z0-9+\-]+\}?)?"
    r"(?:_\{?[A-Za-z0-9,]+\}?)?)(?![\w^])|"
    r"(?<![\w\\])(?P<base>[A-Za-z]+)(?P<prime>'*)(?:\^(?P<sup>\{[A-Za-z0-9+\- ]+\}|\([A-Za-z0-9+\- ]+\)|[A-Za-z0-9]+))"
    r"(?:_(?P<sub>\{[A-Za-z0-9, ]+\}|[A-Za-z0-9]+))?(?![\w^])"
    r"|(?<![\w\\])(?P<gbase>delta|sigma|Delta|nabla|alpha|eta|theta|eps)(?P<gprime>'+)?(?![\w^])"
    r"|(?<![\w\\])(?P<sbase>[A-Za-z])_(?P<ssub>\{[A-Za-z0-9,+\- ]+\}|[A-Za-z0-9]+)(?![\w^])"
    r"|(?<![\w.])(?P<mant>\d+(?:\.\d+)?)e(?P<exp>[+-]?\d+)(?![\w.])"
    r"|(?P<rel><=|>=|->)"
)
_RELATIONS = {"<=": "$\\le$", ">=": "$\\ge$", "->": "$\\to$"}
_GREEK = {"delta", "sigma", "Delta", "nabla", "alpha", "eta", "lambda", "theta", "eps"}


def _ascii_tex(tok: str) -> str:
    """``a^L_j`` -> ``a^{L}_{j}``, ``delta`` -> ``\\delta`` (the token holds only letters, digits, ^ _ { } + - ,)."""
    m = re.fullmatch(r"([A-Za-z]+)(?:\^\{?([^_}]+)\}?)?(?:_\{?([^}]+)\}?)?", tok)
    if not m:
        return tok
    base = m.group(1)
    out = _greek(base) if base in _GREEK else (base if len(base) == 1 else f"\\mathrm{{{base}}}")
    if m.group(2):
        out += f"^{{{m.group(2)}}}"
    if m.group(3):
        out += f"_{{{m.group(3)}}}"
    return out


def _greek(name: str) -> str:
    return "\\varepsilon" if name == "eps" else f"\\{name}"


def _math_token(m: re.Match) -> str:
    if m.group("rel"):
        return _RELATIONS[m.group("rel")]
    if m.group("mant"):
        mant, exp = m.group("mant"), int(m.group("exp"))
        if float(mant) == 0:
            return "$0$"
        return f"$10^{{{exp}}}$" if mant in ("1", "1.0") else f"${mant} \\cdot 10^{{{exp}}}$"
    if m.group("dnum"):
        return f"$\\partial {_ascii_tex(m.group('dnum'))}/\\partial {_ascii_tex(m.group('dden'))}$"
    if m.group("gbase"):
        return f"${_greek(m.group('gbase'))}{m.group('gprime') or ''}$"
    if m.group("sbase"):
        return f"${m.group('sbase')}_{{{m.group('ssub').strip('{}')}}}$"
    base = m.group("base")
    base_tex = _greek(base) if base in _GREEK else (base if len(base) == 1 else f"\\mathrm{{{base}}}")
    sup = m.group("sup").strip("{}()")
    out = f"{base_tex}{m.group('prime')}^{{{sup}}}"
    if m.group("sub"):
        out += f"_{{{m.group('sub').strip('{}')}}}"
    return f"${out}$"


#: names from the code that method texts use, as a book says them (the report's prose carries no code names)
_BOOK_WORDS = {"sympy.diff": "SymPy's derivative", "sp.diff": "SymPy's derivative"}
_CODE_WORDS = re.compile(r"(?<![\w.])(?:sympy\.diff|sp\.diff)(?![\w])")


def book_words(text: str) -> str:
    """``text`` with the code's names for operations (``sympy.diff``) in a book's words."""
    return _CODE_WORDS.sub(lambda m: _BOOK_WORDS[m.group(0)], text)


def prose(text: object) -> str:
    """Escape ``text`` for LaTeX, typesetting ASCII maths tokens such as ``delta^L`` or ``a^{l-1}_k`` as math.

    >>> prose("delta^L = a - y for 50% & #1")
    '$\\\\delta^{L}$ = a - y for 50\\\\% \\\\& \\\\#1'
    """
    text = book_words(str(text))
    out, last = [], 0
    for m in _PROSE_MATH.finditer(text):
        out.append(escape_tex(text[last : m.start()]))
        out.append(_math_token(m))
        last = m.end()
    out.append(escape_tex(text[last:]))
    return "".join(out)


def sentence_case(text: str) -> str:
    """Capitalise the first word when it is a plain lower-case word (``batch forms`` -> ``Batch forms``; a name
    such as ``binary_classifier`` or ``sympy.diff`` is left alone)."""
    m = re.match(r"([a-z]+)(?=[\s,;:(]|$)", text)
    return text[0].upper() + text[1:] if m else text
