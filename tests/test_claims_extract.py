"""Finding equations in messy documents: rows, line numbers, tags, labels, directives; linear time on junk."""

import time
from pathlib import Path

import pytest

from derive.claims.extract import MAX_BYTES, extract_equations, find_directives, read_document
from numeric.errors import BadInput

DATA = Path(__file__).parent / "data" / "claims"


def test_blog_post_eqnarray_blocks_keep_their_tags_and_lines():
    text, kind = read_document(DATA / "blog_post.md")
    assert kind == "md"
    eqs = extract_equations(text, kind)
    by_tag = {e.tag: e for e in eqs if e.tag}
    assert set(by_tag) == {"BP1", "BP2", "BP3", "BP4"}
    lines = text.split("\n")
    for eq in by_tag.values():
        # the row starts on the reported line
        assert eq.latex.split()[0].rstrip(".,")[:6] in lines[eq.line - 1]
    assert by_tag["BP1"].env == "eqnarray"
    assert by_tag["BP3"].latex == r"\frac{\partial C}{\partial b^l_j} = \delta^l_j"


def test_markdown_code_fences_and_prose_are_not_maths():
    text, kind = read_document(DATA / "blog_post.md")
    latex = [e.latex for e in extract_equations(text, kind)]
    assert not any("x = y" in t for t in latex)  # inside a code fence
    assert r"\delta^l_j" not in latex  # inline maths without a relation is not a claim
    assert r"\sigma'(z) = \sigma(z)(1-\sigma(z))" in latex  # inline maths with one is


def test_tex_align_rows_tags_labels_and_comments():
    text, kind = read_document(DATA / "lecture_notes.tex")
    eqs = extract_equations(text, kind)
    tags = [(e.line, e.tag) for e in eqs if e.tag]
    assert tags == [(15, "BP1"), (16, "BP2"), (29, "chain")]
    z_row = next(e for e in eqs if e.label == "eq:z")
    assert z_row.latex == r"z^l_j = \sum_k w^l_{jk} a^{l-1}_k + b^l_j" and z_row.line == 9
    assert next(e for e in eqs if e.tag == "BP2").label == "eq:bp2"
    assert all("%" not in e.latex and "&" not in e.latex for e in eqs)
    continuation = next(e for e in eqs if e.tag == "chain")
    assert continuation.latex.startswith("= ")


def test_two_equations_on_one_align_row_are_two_claims():
    eqs = extract_equations(r"\begin{align*} a &= b, & c &= d \\ e &= f(x, y) \end{align*}")
    assert [e.latex for e in eqs] == ["a = b", "c = d", "e = f(x, y)"]


def test_directives_in_tex_and_markdown():
    assert find_directives("x\n% bpv: act=tanh cost=bce\n") == [(2, "act=tanh cost=bce")]
    assert find_directives("<!-- bpv: net=3-1 -->\n") == [(1, "net=3-1")]


def test_all_display_forms():
    text = "$$a=b$$ and \\[c = d\\] and \\(e = f\\) and $g=h$ and \\begin{equation*}i=j\\end{equation*}"
    assert [e.latex for e in extract_equations(text)] == ["a=b", "c = d", "e = f", "g=h", "i=j"]
    assert [e.env for e in extract_equations(text)] == ["$$", "\\[", "\\(", "$", "equation*"]


def test_escaped_dollars_and_prices_are_not_maths():
    assert extract_equations(r"it costs \$5 and \$10 = a lot, $x$ alone") == []


def test_unclosed_delimiters_in_a_large_file_take_linear_time():
    junk = ("\\[ $$ \\begin{align} $ x = " * 40000)[: MAX_BYTES - 10]
    t0 = time.perf_counter()
    extract_equations(junk)
    assert time.perf_counter() - t0 < 5.0


def test_too_large_or_missing_or_binary_files_are_bad_input(tmp_path):
    big = tmp_path / "big.md"
    big.write_bytes(b"a" * (MAX_BYTES + 1))
    with pytest.raises(BadInput, match="more than"):
        read_document(big)
    with pytest.raises(BadInput, match="no such file"):
        read_document(tmp_path / "missing.tex")
    binary = tmp_path / "x.tex"
    binary.write_bytes(b"\x00\x01\x02")
    with pytest.raises(BadInput, match="binary"):
        read_document(binary)
