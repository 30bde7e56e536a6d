"""bpv report: a small report compiled once and read back with pdftotext; failures keep the previous PDF.

Also the plots' data (derive/report/plots.py): curves evaluated from the derived expressions.
"""

import shutil
import subprocess

import numpy as np
import pytest

import derive.report as report
from derive.cli.app import main
from derive.report.plots import activation_curve, activation_plot_tex, fd_error_plot_tex
from numeric.spec import ActSpec, ModelSpec

NAME = "odd_name 100% & #1 \\ end"
HAVE_TEX = shutil.which("latexmk") is not None and shutil.which("pdftotext") is not None
needs_tex = pytest.mark.skipif(not HAVE_TEX, reason="needs latexmk and pdftotext")


FLAGS = ["--net", "2-1", "--act", "sigmoid", "--cost", "bce"]  # the same model from the command line


def _spec() -> ModelSpec:
    """Logistic regression: the smallest model whose report still has every section and BP1-BP4."""
    return ModelSpec.build("2-1", "sigmoid", "bce")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One small report titled NAME, compiled once: (rendered, outcomes, out_dir, text of the PDF)."""
    out = tmp_path_factory.mktemp("reports")
    rendered, outcomes = report.build_reports([_spec()], out, jobs=1, pdf=HAVE_TEX, title=NAME)
    text = ""
    if HAVE_TEX and outcomes[0].ok:
        text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(outcomes[0].path), "-"], capture_output=True,
                              text=True, check=True).stdout
    return rendered, outcomes, out, text


@needs_tex
def test_the_pdf_is_written_with_the_tex_beside_it(built):
    _, outcomes, out, _ = built
    assert [o.ok for o in outcomes] == [True], outcomes[0].message
    slug = _spec().slug
    assert (out / f"{slug}.pdf").read_bytes().startswith(b"%PDF")
    assert (out / f"{slug}.tex").is_file()
    assert len(outcomes) == 1  # one model: no combined book


@needs_tex
def test_every_section_heading_is_in_the_pdf(built):
    text = built[3]
    for heading in report.HEADINGS:
        assert heading in text, heading


@needs_tex
def test_bp1_to_bp4_are_labelled_in_the_pdf(built):
    body, text = built[0][0].body, built[3]
    for tag in ("BP1", "BP2", "BP3", "BP4"):
        assert f"\\tag{{{tag}}}" in body, tag  # an equation tagged so ...
        assert f"({tag})" in text, tag  # ... and printed as such


@needs_tex
def test_the_verification_table_is_in_the_pdf(built):
    text = built[3]
    assert "witness vs reference" in text and "bound" in text
    assert "hand-written backprop" in text and "complex step" in text
    assert "holds" in text


@needs_tex
def test_a_model_name_with_tex_specials_comes_out_intact(built):
    assert NAME in built[3].replace("\u2019", "'")


def test_nothing_is_missing_from_the_report(built):
    rendered = built[0][0]
    assert rendered.missing == {}, rendered.missing
    assert rendered.errors == []
    assert "<<FIG:" in rendered.body and len(rendered.figures) == 2  # the fd plot, sigmoid and sigma'


@needs_tex
def test_a_latex_error_keeps_the_previous_pdf(built, tmp_path):
    rendered = built[0][0]
    good = built[1][0].path
    target = tmp_path / "kept.pdf"
    shutil.copy(good, target)
    before = target.read_bytes()
    broken = report.load_template().replace("\\begin{document}", "\\begin{document}\\undefinedmacro{}")
    outcome = report.write_document(report.model_document(rendered, template=broken), target)
    assert not outcome.ok
    assert "undefinedmacro" in outcome.message or "Undefined control sequence" in outcome.message
    assert target.read_bytes() == before
    assert "undefinedmacro" in target.with_suffix(".tex").read_text()  # the .tex beside it is the new one


def test_without_a_tex_engine_the_tex_is_written_and_the_packages_named(built, tmp_path, monkeypatch, capsys):
    import derive.core.texbuild as texbuild

    monkeypatch.setattr(texbuild, "tex_available", lambda: False)
    code = main(["report", *FLAGS, "-o", str(tmp_path), "--jobs", "1"])  # reuses the fixture's cached results
    err = capsys.readouterr().err
    assert code == 1
    assert "texlive-latex-extra" in err and "latexmk" in err
    assert list(tmp_path.glob("*.tex")) and not list(tmp_path.glob("*.pdf"))


def test_no_pdf_writes_a_self_contained_tex(built, tmp_path, capsys):
    code = main(["report", *FLAGS, "-o", str(tmp_path), "--no-pdf", "--title", "my_title & more", "--jobs", "1"])
    tex = next(tmp_path.glob("*.tex")).read_text()
    assert "my\\_title \\& more" in tex
    assert "<<" not in tex and "\\includegraphics" not in tex  # figures inline: compiles on its own
    assert code == 0


def test_title_with_several_models_is_bad_input(capsys):
    assert main(["report", "binary_classifier", "tanh_net", "--title", "x", "--no-pdf"]) == 2
    assert "--title" in capsys.readouterr().err


# ----- the section registry ------------------------------------------------------------------------------------
def _data(functions=(), title="t") -> "report.ReportData":
    return report.ReportData(_spec(), title, list(functions))


def test_sections_are_an_ordered_registry_and_a_new_entry_is_a_new_section():
    names = [s.name for s in report.SECTIONS]
    assert len(set(names)) == len(names)
    assert report.HEADINGS == tuple(s.title for s in report.SECTIONS if s.title is not None)
    extra = report.Section("extra", "An extra section", lambda data, level: f"body of {data.title} at {level}")
    tex = report.body_tex(_data(title="m"), "section", sections=(extra,))
    assert tex == "\\section{An extra section}\n\nbody of m at section"


def test_the_cost_and_the_output_error_are_found_by_role_not_by_title():
    import dataclasses

    from derive.backprop.model_functions import model_function_derivations
    from derive.core.steps import Role

    functions = model_function_derivations(_spec())
    roles = [Role.ACTIVATION, Role.COST, Role.OUTPUT_ERROR]
    retitled = [dataclasses.replace(d, title=f"part {i}", role=role) for i, (d, role) in enumerate(zip(functions, roles,
                                                                                                      strict=True))]
    derivation = next(s for s in report.SECTIONS if s.name == "proof log")
    tex = report.body_tex(_data(retitled), "section", sections=(derivation,))
    assert "The cost and its derivative" in tex and "The output error $\\delta^L$" in tex
    assert "from the definition" in tex  # the activation, headed by what it is
    assert "part 1" not in tex and "part 2" not in tex


# ----- plots ---------------------------------------------------------------------------------------------------
def test_activation_curves_come_from_the_derived_expressions():
    c = activation_curve(ActSpec("sigmoid"))
    assert c.z[0] == -6 and c.z[-1] == 6 and 0.0 in c.z
    s = 1 / (1 + np.exp(-c.z))
    np.testing.assert_allclose(c.f, s, rtol=1e-12)
    np.testing.assert_allclose(c.fprime, s * (1 - s), rtol=1e-10)
    assert "\\sigma" in c.f_tex


def test_relu_curve_uses_the_convention_at_the_kink_and_draws_a_jump():
    c = activation_curve(ActSpec("relu"))
    assert c.kink_values == ((0.0, 0.0, 1.0),)
    assert c.fprime[c.z == 0.0][0] == 0.0
    tex = activation_plot_tex(c)
    assert "(0,nan)" in tex and "mark=o" in tex


def test_softmax_curve_is_its_first_component_and_the_jacobian_diagonal():
    c = activation_curve(ActSpec("softmax"))
    s1 = np.exp(c.z) / (np.exp(c.z) + 2)
    np.testing.assert_allclose(c.f, s1, rtol=1e-12)
    np.testing.assert_allclose(c.fprime, s1 * (1 - s1), rtol=1e-10)


def test_fd_plot_marks_the_chosen_step_and_draws_complex_step_as_a_line():
    curve = {"h": [1e-1, 1e-5, 1e-9], "central_error": [1e-3, 1e-11, 1e-7], "richardson_error": [1e-6, 0.0, 1e-7],
             "complex_step_error": 0.0, "chosen_h": 6e-6, "reference": 0.3}
    tex = fd_error_plot_tex(curve, "w^{1}_{11}")
    assert "loglogaxis" in tex and "chosen" in tex and "complex step" in tex
    assert "nan" not in tex.split("Richardson")[0]  # zeros are drawn at the floor, not dropped
