"""Any Unicode a user can type in a title or a model name reaches TeX as something pdflatex typesets."""

from __future__ import annotations

import pytest

from derive.core.texbuild import compile_pdf, escape_tex, tex_available

TITLES = ["Netz für α-Test", "blank\n\nline", "emoji 😀 and CJK 中文", "ESC \x1b[31m red", "tab\tand\u200bzero-width",
          "Ωmega, λ, naïve café, Łódź", "50% & #1 \\o/ {x}_^~<>", "\u202eright-to-left override"]


@pytest.mark.parametrize("title", TITLES)
def test_escaped_titles_hold_no_control_character(title):
    out = escape_tex(title)
    assert all(ch == " " or ch.isprintable() for ch in out)
    assert "\n" not in out and "\x1b" not in out


@pytest.mark.skipif(not tex_available(), reason="no pdflatex")
def test_pdflatex_typesets_every_title(tmp_path):
    body = "\n\n".join(f"\\section{{{escape_tex(t)}}}" for t in TITLES)
    tex = ("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
           f"\\begin{{document}}\n{body}\n\\end{{document}}\n")
    assert compile_pdf(tex, tmp_path / "titles.pdf").stat().st_size > 0
