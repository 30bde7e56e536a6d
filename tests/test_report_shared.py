"""The report chapter of a model with shared weights (lenet_tiny, char_rnn): pictures, key steps, robustness.

The derivation parts are the real layer derivations (derive_conv2d, derive_maxpool, derive_bptt) and the model
functions; every expected equation is printed here from those objects, never typed in. The kernel and the
verification are left out (None), as when their sources fail: the chapter must say so and still be written.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import sympy as sp

from derive.backprop.model_functions import model_function_derivations
from derive.core.book import book_latex
from derive.report import layout
from derive.report.data import KERNEL, PROOF_LOG, VERIFICATION, Rendered, ReportData
from derive.report.documents import SHARED_INTRO, catalog_document, model_document
from derive.report.figures import place_figures
from derive.report.pictures import rnn_unrolled_tikz, shown_steps
from derive.report.sections import SECTIONS, body_tex
from derive.report.shared import KEY_STEPS_TITLE, LAYERS_TITLE, SHARED_SECTIONS, sections_for
from derive.report.shared_steps import (
    CONV_KEY_STEPS,
    POOL_KEY_STEPS,
    find_part,
    find_step,
    printable,
    rnn_key_steps,
    rnn_steps_derived,
)
from numeric.catalog import CATALOG, get_model
from numeric.conv_spec import ConvNetSpec
from numeric.rnn_spec import RnnSpec


def _layer_parts(spec) -> list:
    from derive.layers.conv import derive_conv2d
    from derive.layers.pool import derive_maxpool
    from derive.layers.rnn import derive_bptt

    if spec.kind == "rnn":
        return [derive_bptt()]
    from numeric.conv import MaxPool2d

    pools = any(isinstance(x, MaxPool2d) for x in spec.layers)  # as derive_model: the pool part when the net pools
    return [derive_conv2d(), *([derive_maxpool()] if pools else [])]


def _data(spec, *, parts: bool = True) -> ReportData:
    functions = model_function_derivations(spec)
    data = ReportData(spec, spec.title, functions)
    if parts:
        data.parts = [*functions, *_layer_parts(spec)]
    data.missing[KERNEL] = "the kernel generator does not serve this spec (test)"
    data.missing[VERIFICATION] = "verify_model did not run (test)"
    return data


def _tex(data: ReportData) -> str:
    """The chapter with its pictures inline (as --no-pdf writes it)."""
    return place_figures(body_tex(data, "section", sections_for(data.spec)), data.figures, None)


@pytest.fixture(scope="module")
def lenet() -> tuple[ReportData, str]:
    data = _data(get_model("lenet_tiny"))
    return data, _tex(data)


@pytest.fixture(scope="module")
def rnn() -> tuple[ReportData, str]:
    data = _data(get_model("char_rnn"))
    return data, _tex(data)


def _section(tex: str, title: str) -> str:
    """The text of the section headed ``title`` (to the next \\section)."""
    start = tex.index(f"\\section{{{title}}}")
    end = tex.find("\\section{", start + 1)
    return tex[start:] if end < 0 else tex[start:end]


def test_dispatch_on_kind():
    assert sections_for(next(iter(CATALOG.values()))) is SECTIONS
    assert sections_for(get_model("lenet_tiny")) is SHARED_SECTIONS
    assert sections_for(get_model("char_rnn")) is SHARED_SECTIONS


def test_conv_chapter_pictures_follow_the_spec(lenet):
    data, tex = lenet
    spec = data.spec
    assert tex.count("\\begin{tikzpicture}") == 2  # the convolution and the pool
    shapes = spec.shapes()
    conv = spec.convs[0]
    (c, h, w), (c_out, oh, ow) = shapes[0], shapes[1]
    pictures = list(data.figures.values())
    assert f"${c} \\times {h} \\times {w}$" in pictures[0] and f"${c_out} \\times {oh} \\times {ow}$" in pictures[0]
    assert f"$p = {conv.pad}$" in pictures[0] and f"$s = {conv.stride}$" in pictures[0]
    # the output entry the window makes is labelled with the definition's own left side
    y_def = find_step(find_part(data.parts, "conv2d"), "conv.Y")
    assert f"${book_latex(y_def.lhs)}$" in pictures[0]


def test_conv_picture_for_other_sizes():
    spec = ConvNetSpec.build("3x7x9-c2k3s2-5", "relu,softmax", "cce")
    data = _data(spec)
    tex = _tex(data)
    c_out, oh, ow = spec.shapes()[1]
    assert (c_out, oh, ow) == (2, 3, 4)
    assert f"${c_out} \\times {oh} \\times {ow}$" in tex and "no padding" in tex
    assert "Max-pooling" not in tex  # no pool stage, no pool picture or pool key steps
    assert tex.count("\\begin{tikzpicture}") == 1


def test_conv_key_steps_are_the_derivations(lenet):
    data, tex = lenet
    key = _section(tex, KEY_STEPS_TITLE)
    conv, pool = (printable(find_part(data.parts, s)) for s in ("conv2d", "maxpool2d"))
    for keys, part in ((CONV_KEY_STEPS, conv), (POOL_KEY_STEPS, pool)):
        for k in keys:
            step = part[k.label]
            assert step.holds is True
            assert layout.step_tex(step) in key, k.label  # its equation and its check, as the derivation has them
    # the key steps come before the full derivation, which has every step again
    assert tex.index(KEY_STEPS_TITLE) < tex.index(PROOF_LOG)
    full = _section(tex, PROOF_LOG)
    for step in conv.steps:
        assert layout.step_tex(step) in full, step.label


def test_printable_has_no_double_subscript(lenet):
    data, _ = lenet
    raw = find_part(data.parts, "conv2d")
    dk = raw["conv.dK.correlate"]
    # the book printer itself parenthesises a name with its own script: (G_s)_{noae}, never G_{s}_{noae}
    assert not re.search(r"[A-Za-z]_\{[^{}]*\}_\{", book_latex(dk.rhs))
    assert "(G_{s})_{noae}" in book_latex(dk.rhs)
    for step in printable(raw).steps:
        assert not re.search(r"[A-Za-z]_\{[^{}]*\}_\{", book_latex(step.rhs)), step.label
        assert printable(raw)[step.label].check is step.check


def test_rnn_chapter(rnn):
    data, tex = rnn
    spec: RnnSpec = data.spec
    picture = next(iter(data.figures.values()))
    assert f"$h_{{{spec.steps}}}$" in picture and f"$h_{{{spec.steps + 1}}}$" not in picture
    assert picture.count("dh_{\\mathrm{next}}") == spec.steps - 1
    for name in ("W_{xh}", "W_{hh}", "W_{hy}"):
        assert name in picture
    part = printable(find_part(data.parts, "rnn"))
    keys = rnn_key_steps(part)
    assert {k.label for k in keys} >= {"rnn.dWhh"} and any(k.label.startswith("rnn.dh") for k in keys)
    key = _section(tex, KEY_STEPS_TITLE)
    for k in keys:
        step = part[k.label]
        assert book_latex(step.rhs) in key, k.label
    # the dh_t shown has the dh_next term: W_hh^T times da_{t+1}, as the derivation wrote it
    dh = part[next(k.label for k in keys if k.label.startswith("rnn.dh"))]
    mats = {str(m.name): m for m in dh.rhs.atoms(sp.MatrixSymbol)}
    t = int(dh.label.removeprefix("rnn.dh"))
    assert dh.rhs.has(mats["W_hh"].T * mats[f"da_{t + 1}"]), "the dh_next term"
    layers = _section(tex, LAYERS_TITLE)
    for label in ("rnn.a", "rnn.h", "rnn.z", "rnn.p", "rnn.C"):
        assert book_latex(part[label].rhs) in layers
    assert f"${rnn_steps_derived(part)}$ steps" in layers


def test_rnn_picture_long_unroll():
    pic = rnn_unrolled_tikz(12)
    assert shown_steps(12) == [1, 2, 3, None, 12]
    assert "\\cdots" in pic and "$h_{12}$" in pic and "$h_{4}$" not in pic


def test_missing_kernel_verification_and_derivation():
    for name in ("lenet_tiny", "char_rnn"):
        data = _data(get_model(name))
        tex = _tex(data)
        assert "\\bpvmissing{The kernel listing: the kernel generator does not serve this spec (test)}" in tex
        assert "verify\\_model did not run (test)" in tex or "verify_model did not run (test)" in tex
        bare = _data(get_model(name), parts=False)
        tex = _tex(bare)
        assert "\\begin{tikzpicture}" in tex  # the pictures need only the spec
        assert "\\bpvmissing{The key steps" in tex


def test_catalog_book_has_the_shared_chapters(lenet, rnn):
    rendered = [Rendered(d.spec, d.title, body_tex(d, "section", sections_for(d.spec)), figures=dict(d.figures))
                for d in (lenet[0], rnn[0])]
    book = catalog_document(rendered, graph_chapter="")
    for d in (lenet[0], rnn[0]):
        assert f"\\chapter{{{d.title}}}" in book.replace("\\_", "_")
    assert SHARED_INTRO in book


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex")
def test_pdf_builds(lenet, rnn, tmp_path):
    from derive.report.build import write_document

    for data, _ in (lenet, rnn):
        r = Rendered(data.spec, data.title, body_tex(data, "section", sections_for(data.spec)),
                     figures=dict(data.figures))
        out = write_document(model_document(r), tmp_path / f"{data.spec.slug}.pdf")
        assert out.ok, out.message
        if shutil.which("pdftotext"):
            text = subprocess.run(["pdftotext", str(out.path), "-"], capture_output=True, text=True).stdout
            assert KEY_STEPS_TITLE in text and LAYERS_TITLE in text


def test_bpv_report_with_no_model_takes_the_shared_models_too():
    import argparse

    from derive.cli.args import models_from_args
    from derive.cli.commands import report
    from numeric.catalog import SHARED_CATALOG

    p = argparse.ArgumentParser()
    report.add_arguments(p)
    names = [s.name for s in models_from_args(p.parse_args([]), default_all=True)]
    assert set(SHARED_CATALOG) <= set(names) and set(CATALOG) <= set(names)
    assert [s.kind for s in models_from_args(p.parse_args(["lenet_tiny", "char_rnn"]))] == ["conv", "rnn"]


def test_history_of_a_shared_model_is_refused(tmp_path):
    import argparse

    from derive.cli.commands import report
    from numeric.errors import BadInput

    p = argparse.ArgumentParser()
    report.add_arguments(p)
    with pytest.raises(BadInput, match="bpv train takes dense nets"):
        report.run(p.parse_args(["char_rnn", "--history", str(tmp_path / "run.json"), "-o", str(tmp_path)]))
