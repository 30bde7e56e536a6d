"""A re-run of ``bpv report`` with nothing changed rebuilds nothing (issue 18); a changed input or output rebuilds.

The builds are ``pdf=False`` (the .tex only) so the test needs no TeX engine; the skip logic is the same for PDFs.
"""

import io
import json
import time

import pytest

from derive.report import uptodate
from derive.report.build import build_reports, planned_outputs
from numeric.progress import Progress
from numeric.spec import ModelSpec


def _specs() -> list[ModelSpec]:
    return [ModelSpec.build("2-1", "sigmoid", "bce"), ModelSpec.build("2-1", "sigmoid", "mse")]


def _build(out, specs=None, **kwargs):
    """One build with its progress captured: (rendered, outcomes, progress text)."""
    specs = specs or _specs()
    stream = io.StringIO()
    rendered, outcomes = build_reports(specs, out, pdf=False, jobs=1, progress=Progress(len(specs), stream=stream),
                                       **kwargs)
    return rendered, outcomes, stream.getvalue()


def _mtimes(out) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in out.iterdir() if not p.name.startswith(".")}


@pytest.fixture
def built(tmp_path):
    rendered, outcomes, _ = _build(tmp_path)
    assert all(r.ok for r in rendered) and all(o.ok and o.message == "" for o in outcomes)
    return tmp_path


def test_a_rerun_with_nothing_changed_rebuilds_nothing(built):
    before = _mtimes(built)
    assert {"catalog.inputs.json", "catalog.tex"} <= set(before)
    t0 = time.perf_counter()
    rendered, outcomes, said = _build(built)
    elapsed = time.perf_counter() - t0
    assert _mtimes(built) == before
    assert [o.message for o in outcomes] == ["up to date"] * 3
    assert all(r.ok and r.body == "" for r in rendered)  # nothing gathered
    assert said.count(": up to date") == 2 and "catalog.tex up to date" in said
    assert elapsed < 3.0


def test_an_edited_output_is_rebuilt_and_the_rest_is_not(built):
    spec = _specs()[0]
    tex = built / f"{spec.slug}.tex"
    original = tex.read_text(encoding="utf-8")
    tex.write_text(original + "% edited\n", encoding="utf-8")
    before = _mtimes(built)
    _, outcomes, _ = _build(built)
    assert [o.message for o in outcomes] == ["", "up to date", "up to date"]
    assert tex.read_text(encoding="utf-8") == original
    after = _mtimes(built)
    assert {n for n in before if before[n] != after[n]} == {tex.name, uptodate.sidecar(tex).name}


def test_a_deleted_output_is_rebuilt(built):
    (built / "catalog.tex").unlink()
    _, outcomes, _ = _build(built)
    assert [o.message for o in outcomes] == ["", "", ""]  # the book needs every body: every model is gathered
    assert (built / "catalog.tex").is_file()


def test_a_changed_seed_rebuilds_everything(built):
    _, outcomes, _ = _build(built, seed=1)
    assert [o.message for o in outcomes] == ["", "", ""]
    _, outcomes, _ = _build(built, seed=1)
    assert [o.message for o in outcomes] == ["up to date"] * 3


def test_a_changed_title_rebuilds(tmp_path):
    spec = [_specs()[0]]
    _build(tmp_path, spec, title="one")
    assert [o.message for o in _build(tmp_path, spec, title="one")[1]] == ["up to date"]
    _, outcomes, _ = _build(tmp_path, spec, title="two")
    assert [o.message for o in outcomes] == [""]
    assert "two" in (tmp_path / f"{spec[0].slug}.tex").read_text(encoding="utf-8")


def test_no_cache_forces_a_rebuild(built):
    _, outcomes, _ = _build(built, use_cache=False)
    assert [o.message for o in outcomes] == ["", "", ""]


def test_a_sidecar_with_another_key_is_not_up_to_date(built):
    side = built / "catalog.inputs.json"
    data = json.loads(side.read_text(encoding="utf-8"))
    data["key"] = "0" * 64
    side.write_text(json.dumps(data), encoding="utf-8")
    _, outcomes, _ = _build(built)
    assert [o.message for o in outcomes] == ["", "", ""]


def test_the_key_covers_the_code_and_the_options():
    spec = _specs()[0]
    base = dict(seed=0, title=None, history=None, pdf=True, template=None)
    key = uptodate.model_key(spec, **base)
    assert key == uptodate.model_key(spec, **base)
    for change in ({"seed": 1}, {"title": "t"}, {"pdf": False}, {"template": "x"}, {"history": {"loss": [1.0]}}):
        assert uptodate.model_key(spec, **{**base, **change}) != key, change
    assert uptodate.model_key(_specs()[1], **base) != key


def test_the_sidecars_are_planned_outputs(tmp_path):
    names = {p.name for p in planned_outputs(_specs(), tmp_path)}
    assert {f"{s.slug}.inputs.json" for s in _specs()} | {"catalog.inputs.json"} <= names


def test_a_skipped_report_keeps_the_verdicts_of_its_build(built):
    """A report whose verification failed is skipped too, and still fails the run (its verdicts are carried)."""
    spec = _specs()[0]
    side = built / f"{spec.slug}.inputs.json"
    data = json.loads(side.read_text(encoding="utf-8"))
    assert data["status"] == {"holds": True, "verified": True, "missing": {}}
    data["status"]["verified"] = False  # as if the build had found a failing verification
    side.write_text(json.dumps(data), encoding="utf-8")
    rendered, outcomes, said = _build(built)
    assert [o.message for o in outcomes] == ["up to date"] * 3
    assert rendered[0].verified is False and not rendered[0].ok and rendered[1].ok
    assert "up to date, PROBLEMS" in said
