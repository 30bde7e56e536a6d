"""Compiling LaTeX to PDF safely: latexmk + pdflatex, no shell escape, in a temporary folder.

``compile_pdf(tex, pdf_path)`` writes ``<pdf_path>.tex`` beside the PDF (atomically) and compiles a copy in a
temporary folder with ``-no-shell-escape -interaction=nonstopmode -halt-on-error``; the PDF is moved into place only
on success, so a failed build leaves the previous PDF untouched. Errors carry the first LaTeX error line with
context. With no TeX engine installed, :class:`TexMissing` says exactly what to install.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Mapping
from pathlib import Path

from derive.core.files import write_output

__all__ = ["DEBIAN_PACKAGES", "TexError", "TexMissing", "compile_pdf", "escape_tex", "tex_available"]

DEBIAN_PACKAGES = (
    "texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-pictures "
    "texlive-fonts-recommended latexmk"
)
TIMEOUT_S = 300

_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
}


class TexError(RuntimeError):
    """LaTeX failed; ``str(err)`` holds the first error line with context."""


class TexMissing(TexError):
    """No TeX engine: the .tex was written, nothing compiled."""


def _unicode_tex(ch: str) -> str:
    """A character outside what pdflatex's T1 fonts typeset: Greek in math mode, else its ASCII letters when
    Unicode decomposes it into some (NFKD), else its code point (no CJK or emoji fonts are installed)."""
    if "\u0391" <= ch <= "\u03c9":
        name = unicodedata.name(ch, "").split()[-1].lower()
        greek = {"lamda": "lambda"}.get(name, name)
        return f"$\\{greek.capitalize() if ch.isupper() else greek}$" if greek.isalpha() else f"U+{ord(ch):04X}"
    ascii_letters = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    if ascii_letters.strip():
        return "".join(_SPECIALS.get(c, c) for c in ascii_letters)
    return f"\\texttt{{U+{ord(ch):04X}}}"


def escape_tex(text: str) -> str:
    r"""Escape a user-supplied string for LaTeX text mode: ``_ % & # \`` and friends come out intact, any Unicode
    a user can type becomes something pdflatex typesets (:func:`_unicode_tex`), and control characters (a blank
    line, ESC, tabs) become spaces: a paragraph break inside a title is a LaTeX error.

    >>> escape_tex("my_net 50% & #1 \\o/")
    'my\\_net 50\\% \\& \\#1 \\textbackslash{}o/'
    >>> escape_tex("Netz für α\n\nβ 中 \x1b")
    'Netz für $\\alpha$ $\\beta$ \\texttt{U+4E2D} '
    """
    out = []
    for ch in str(text):
        if ch in _SPECIALS:
            out.append(_SPECIALS[ch])
        elif unicodedata.category(ch)[0] in "CZ" and ch != " ":  # controls, formats, separators: one space
            if out and out[-1] != " ":
                out.append(" ")
        elif ord(ch) < 0x180:  # ASCII, Latin-1, Latin Extended-A: T1 encoding has them
            out.append(ch)
        else:
            out.append(_unicode_tex(ch))
    return "".join(out)


def tex_available() -> bool:
    return shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None


def _first_error(log: str, context: int = 4) -> str:
    lines = log.splitlines()
    for i, line in enumerate(lines):
        # "! Undefined control sequence." or, with -file-line-error, "./report.tex:63: Undefined control sequence."
        if line.startswith("!") or (re.match(r"^\S+\.tex:\d+: ", line) and "Fatal error" not in line):
            return "\n".join(lines[i : i + context])
    tail = [ln for ln in lines if ln.strip()][-context:]
    return "\n".join(tail) or "LaTeX failed without an error message"


def compile_pdf(tex: str, pdf_path: str | os.PathLike, *, keep_tex: bool = True,
                files: Mapping[str, bytes] | None = None) -> Path:
    """Compile ``tex`` into ``pdf_path``; returns the PDF path. Raises TexError / TexMissing.

    ``files`` are written into the compile folder first (plain names such as ``figures.pdf``, for
    ``\\includegraphics``): TeX may read nothing outside that folder.
    """
    for name in files or {}:
        if Path(name).name != name or name.startswith("."):
            raise ValueError(f"extra file name {name!r} must be a plain file name")
    pdf_path = Path(pdf_path)
    tex_path = pdf_path.with_suffix(".tex")
    if keep_tex:
        write_output(tex_path, tex)
    if not tex_available():
        raise TexMissing(
            f"no TeX engine found (latexmk/pdflatex); wrote {tex_path} but no PDF. Install it with: "
            f"sudo apt-get install --no-install-recommends {DEBIAN_PACKAGES}"
        )
    with tempfile.TemporaryDirectory(prefix="bpv-tex-") as tmp:
        src = Path(tmp) / "report.tex"
        src.write_text(tex, encoding="utf-8")
        for name, data in (files or {}).items():
            (Path(tmp) / name).write_bytes(data)
        cmd = [
            "latexmk", "-pdf", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
            "-file-line-error", "-quiet", "report.tex",
        ]
        env = {**os.environ, "openout_any": "p", "openin_any": "p"}  # TeX may not read or write outside the folder
        try:
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=TIMEOUT_S, env=env,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise TexError(f"LaTeX did not finish within {TIMEOUT_S} s; the previous PDF was kept") from None
        out_pdf = Path(tmp) / "report.pdf"
        if proc.returncode != 0 or not out_pdf.exists():
            log_path = Path(tmp) / "report.log"
            log = log_path.read_text(errors="replace") if log_path.exists() else proc.stdout + proc.stderr
            raise TexError(f"LaTeX failed on {tex_path.name}; the previous PDF was kept:\n{_first_error(log)}")
        write_output(pdf_path, out_pdf.read_bytes())
    return pdf_path
