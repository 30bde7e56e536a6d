"""``bpv verify``: the table, the summary, the seed, the JSON and its schema, exit codes 0/1/2, --jobs, the cache."""

from __future__ import annotations

import json

import pytest

from derive.cli.app import main
from derive.codegen import kernel as codegen
from derive.verification.schema import SCHEMA_VERSION, load_schema, schema_errors


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Never touch the user's ~/.cache/bpv from a test."""
    monkeypatch.setenv("BPV_CACHE_DIR", str(tmp_path / "bpv-cache"))


def run(capsys, *argv):
    code = main(["verify", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_catalog_model_verifies_and_the_output_says_what_was_checked(capsys):
    code, out, err = run(capsys, "binary_classifier")
    assert code == 0, out
    assert "seed 0" in out.splitlines()[0]
    for check in ("derivation", "kernel vs backprop", "backprop vs central", "kernel vs complex"):
        assert f"binary_classifier  {check}" in out
    assert "check (witness vs reference)" in out and "all 12 elements" in out
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("bpv verify: 1 model(s), ") and summary.endswith("all hold")
    assert " 0 fail" in summary and "seed 0" in summary
    assert "[1/1] binary_classifier: verified" in err  # progress on stderr


def test_json_validates_against_the_documented_schema(capsys, tmp_path):
    target = tmp_path / "verify.json"
    code, _out, _err = run(capsys, "binary_classifier", "--net", "3-2", "--act", "tanh", "--cost", "mse",
                           "--layout", "rows", "--seed", "11", "--json", str(target))
    assert code == 0
    doc = json.loads(target.read_text())
    assert schema_errors(doc, load_schema()) == []
    assert doc["seed"] == 11 and doc["ok"] is True and len(doc["models"]) == 2
    assert doc["schema_version"] == SCHEMA_VERSION == 2
    assert doc["models"][1]["spec"]["layers"] == [
        {"kind": "dense", "n_in": 3, "n_out": 2, "activation": "tanh", "bias": True}]
    assert doc["models"][1]["reproduce"] == (
        "bpv verify --net 3-2 --act tanh --cost mse --reduction mean --layout rows --seed 11")


def test_json_to_stdout_is_clean_json(capsys):
    code, out, err = run(capsys, "binary_classifier", "--json", "-")
    assert code == 0
    assert schema_errors(json.loads(out)) == []
    assert "all hold" in err


def test_a_corrupted_kernel_exits_1_and_names_model_check_and_parameter(capsys, monkeypatch):
    real = codegen.generate_kernel_source

    def corrupted(spec):
        return real(spec) + (
            "\n\n_correct = gradients\n\n\ndef gradients(params, x, y):\n"
            "    grads = _correct(params, x, y)\n    grads['b1'] = grads['b1'] + 1e-3\n    return grads\n")

    monkeypatch.setattr(codegen, "generate_kernel_source", corrupted)
    code, out, _err = run(capsys, "binary_classifier", "--no-cache", "--seed", "5")
    assert code == 1
    (failed,) = [line for line in out.splitlines() if line.startswith("FAILED ")]
    assert failed.startswith("FAILED binary_classifier: ")
    for where in ("kernel vs backprop [b1]", "kernel vs central [b1]", "kernel vs complex [b1]"):
        assert where in failed
    # the corrupted generator no longer prints the shipped kernel: that is reported too
    assert "shipped kernel vs generated kernel [source]" in failed
    assert "[W1]" not in failed and "[W2]" not in failed and "[b2]" not in failed
    assert "  reproduce: bpv verify binary_classifier --seed 5" in out
    assert out.strip().splitlines()[-1].endswith("1 model(s) NOT verified")
    assert "FAILS" in out  # the failing rows stand out in the table


def test_quiet_prints_only_failing_rows_and_the_summary(capsys):
    code, out, _err = run(capsys, "--net", "2-1", "--act", "identity", "--cost", "squared", "--quiet")
    assert code == 0
    assert len(out.strip().splitlines()) == 2  # the header line and the summary


def test_a_second_run_reuses_the_cache(capsys):
    assert run(capsys, "binary_classifier")[0] == 0
    code, _out, err = run(capsys, "binary_classifier")
    assert code == 0 and "(cached)" in err


def test_two_jobs_give_the_same_rows_as_one_in_the_given_order(capsys, tmp_path):
    docs = {}
    for jobs in ("1", "2"):
        target = tmp_path / f"v{jobs}.json"
        code, _out, _err = run(capsys, "--jobs", jobs, "--no-cache", "binary_classifier", "--net", "3-2",
                               "--act", "tanh", "--cost", "mse", "--layout", "rows", "--json", str(target))
        assert code == 0
        docs[jobs] = json.loads(target.read_text())
    assert [m["model"] for m in docs["2"]["models"]] == ["binary_classifier", "3-2 tanh / mse"]
    assert docs["2"]["jobs"] == 2
    assert [m["rows"] for m in docs["1"]["models"]] == [m["rows"] for m in docs["2"]["models"]]


@pytest.mark.parametrize("argv, message", [
    (["no_such_model"], "unknown model 'no_such_model'"),
    (["--jobs", "0", "binary_classifier"], "--jobs/-j: 0 is not a number of processes"),
    (["--act", "relu"], "describe a model given with --net"),
    (["--net", "3-x"], "is not a list of positive layer sizes"),
    (["--seed", "-3", "binary_classifier"], "--seed: -3 is out of range; give a non-negative integer"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and out == ""
