"""derive.verification: every witness compared, rows per (model, check, block), the cache, the schema, failures
named."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

import derive.verification.api as api
from derive.core import signing
from derive.verification import sampling
from derive.verification.api import verify, verify_model, verify_models
from derive.verification.kernel_check import generated_source, shipped_kernel_row
from derive.verification.rows import BOUNDS, Row, Verdict, VerificationResult, reproduce_command
from derive.verification.schema import SCHEMA_VERSION, load_schema, report_dict, schema_errors
from derive.verification.torch_oracle import torch_available
from numeric.catalog import get_model
from numeric.errors import BadInput, SpecError
from numeric.metrics import block_relative_error
from numeric.spec import ModelSpec

SMALL = ModelSpec.build("3-4-2", "tanh,softmax", "cce", layout="rows")
NUMERIC = ("kernel", "central", "complex")


def corrupt_bias_gradient(source: str, block: str = "b1", factor: float = 1.001) -> str:
    """The kernel source with ``gradients`` wrapped so that one block is scaled: a planted bug."""
    return source + (
        "\n\n_correct_gradients = gradients\n\n\n"
        "def gradients(params, x, y):\n"
        "    grads = _correct_gradients(params, x, y)\n"
        f"    grads[{block!r}] = grads[{block!r}] * float({str(factor)!r})\n"
        "    return grads\n"
    )


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Never touch the user's ~/.cache/bpv from a test."""
    monkeypatch.setenv("BPV_CACHE_DIR", str(tmp_path / "bpv-cache"))


# ----- the error metric -----------------------------------------------------------------------------------------
def test_block_relative_error_divides_by_the_largest_reference_element():
    r = np.array([[1.0, 1e-8], [4.0, -2.0]])
    g = r + np.array([[0.0, 1e-8], [0.0, 0.0]])  # element-relative error 1, block-relative 2.5e-9
    assert block_relative_error(g, r) == pytest.approx(1e-8 / 4.0)


def test_block_relative_error_is_infinite_for_nan_or_a_shape_mismatch():
    assert block_relative_error(np.array([np.nan]), np.array([1.0])) == float("inf")
    assert block_relative_error(np.zeros((2, 1)), np.zeros((1, 2))) == float("inf")
    assert block_relative_error(np.zeros(3), np.zeros(3)) == 0.0


# ----- a correct model verifies ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def binary_result():
    return verify_model(get_model("binary_classifier"), seed=0, use_cache=False)


def test_a_catalog_model_verifies_with_every_witness(binary_result):
    res = binary_result
    assert res.ok, res.summary()
    checks = {r.check for r in res.rows}
    for check in ("derivation", "kernel vs backprop", "kernel vs central", "backprop vs central",
                  "kernel vs complex", "backprop vs complex", "torch.autograd vs backprop"):
        assert check in checks
    blocks = {r.block for r in res.rows if r.check == "kernel vs backprop"}
    assert blocks == {"loss", "W1", "b1", "W2", "b2"}
    assert not res.sampled


def test_every_numerical_row_states_its_bound_and_is_within_it(binary_result):
    for r in binary_result.rows:
        if r.check in ("derivation", "shipped kernel vs generated kernel") or r.verdict is Verdict.SKIPPED:
            assert r.error is None and r.bound is None
            continue
        method = r.check.split(" vs ")[1]
        assert r.bound == BOUNDS.get(method, BOUNDS["exact"]), r
        assert r.error is not None and 0 <= r.error <= r.bound, r
        if r.block != "loss":
            assert r.method.startswith("all "), r


def test_torch_is_an_outside_oracle_or_skipped_with_the_reason(binary_result):
    rows = [r for r in binary_result.rows if r.check == "torch.autograd vs backprop"]
    if torch_available():
        assert {r.block for r in rows} == {"W1", "b1", "W2", "b2"} and all(r.verdict is Verdict.HOLDS for r in rows)
    else:
        assert [(r.verdict, r.detail) for r in rows] == [("skipped", "skipped: torch not installed")]


def test_the_result_serialises_to_schema_valid_json_and_back(binary_result):
    d = binary_result.to_dict()
    assert schema_errors(d, load_schema()["$defs"]["result"]) == []
    back = VerificationResult.from_dict(json.loads(json.dumps(d)))
    assert back.rows == binary_result.rows and back.spec == binary_result.spec and back.ok


# ----- it can fail, and it says where --------------------------------------------------------------------------------
def test_a_corrupted_bias_gradient_fails_and_names_model_check_and_parameter():
    spec = get_model("binary_classifier")
    bad = corrupt_bias_gradient(generated_source(spec), "b2")
    res = verify_model(spec, kernel_source=bad, use_cache=False, checks=NUMERIC)
    assert not res.ok
    failed = {(r.check, r.block) for r in res.failures()}
    assert failed == {("kernel vs backprop", "b2"), ("kernel vs central", "b2"), ("kernel vs complex", "b2")}
    assert res.kernel == "injected"
    text = res.summary()
    assert "binary_classifier" in text and "kernel vs backprop [b2]" in text
    assert "reproduce: bpv verify binary_classifier --seed 0" in text


def test_a_kernel_that_does_not_import_fails_instead_of_crashing():
    res = verify_model(SMALL, kernel_source="def gradients(:\n", use_cache=False, checks=NUMERIC)
    assert not res.ok
    assert any("does not import" in r.detail for r in res.failures())
    assert all(r.holds for r in res.rows if r.witness == "hand-written backprop")


def test_a_kernel_returning_nan_fails_with_a_reason():
    bad = corrupt_bias_gradient(generated_source(SMALL), "W2", float("nan"))
    res = verify_model(SMALL, kernel_source=bad, use_cache=False, checks=("kernel",))
    (row,) = res.failures()
    assert (row.check, row.block) == ("kernel vs backprop", "W2")
    assert row.error is None and row.to_dict()["error"] is None and "8 of 8 entries are NaN" in row.detail


# ----- big models: sampled, and the sample still catches a bug ----------------------------------------------------
def test_above_the_exhaustive_limit_a_stratified_sample_and_probes_are_used(monkeypatch):
    monkeypatch.setattr(sampling, "EXHAUSTIVE_MAX", 10)
    monkeypatch.setattr(sampling, "SAMPLE_PER_BLOCK", 5)
    spec = ModelSpec.build("6-7-3", "relu,sigmoid", "bce")
    res = verify_model(spec, use_cache=False, checks=NUMERIC)
    assert res.ok, res.summary()
    assert res.sampled and any("stratified sample" in n for n in res.notes)
    w1 = next(r for r in res.rows if r.check == "backprop vs central" and r.block == "W1")
    assert w1.method == "stratified sample of 5 of 42 elements"
    probes = [r for r in res.rows if r.check.endswith("(probes)")]
    assert {r.block for r in probes} == {"W1", "b1", "W2", "b2"}
    assert all(r.method == f"{sampling.N_PROBES} signed Gaussian directions" for r in probes)


def test_the_stratified_sample_covers_every_stratum_of_a_block(monkeypatch):
    monkeypatch.setattr(sampling, "EXHAUSTIVE_MAX", 0)
    monkeypatch.setattr(sampling, "SAMPLE_PER_BLOCK", 4)
    plan, sampled = sampling.element_plan(ModelSpec.build("5-8-2", "sigmoid", "quadratic"), np.random.default_rng(0))
    assert sampled
    w1 = plan["W1"]  # 40 elements, strata of 10
    assert list(w1 // 10) == [0, 1, 2, 3]
    assert list(plan["b2"]) == [0, 1]  # a block smaller than the sample is taken whole


def test_probes_catch_a_corrupted_bias_gradient_in_a_sampled_model(monkeypatch):
    monkeypatch.setattr(sampling, "EXHAUSTIVE_MAX", 10)
    spec = ModelSpec.build("6-7-3", "relu,sigmoid", "bce")
    bad = corrupt_bias_gradient(generated_source(spec), "b1", 1.0 + 1e-6)
    res = verify_model(spec, kernel_source=bad, use_cache=False, checks=NUMERIC)
    failed = {(r.check, r.block) for r in res.failures()}
    assert ("kernel vs complex (probes)", "b1") in failed
    assert all(block == "b1" for _check, block in failed)


# ----- the cache ------------------------------------------------------------------------------------------------------
def _entry(path) -> dict:
    """A verify cache entry's JSON, read past its signature line (derive.core.signing)."""
    payload = signing.unsign(path.read_bytes())
    assert payload is not None, f"{path} is not a signed entry"
    return json.loads(payload)


def test_results_are_cached_by_seed_and_a_corrupt_entry_is_recomputed(tmp_path):
    first = verify_model(SMALL, seed=3, checks=NUMERIC, cache_root=tmp_path)
    assert not first.cached
    again = verify_model(SMALL, seed=3, checks=NUMERIC, cache_root=tmp_path)
    assert again.cached and again.rows == first.rows
    other = verify_model(SMALL, seed=4, checks=NUMERIC, cache_root=tmp_path)
    assert not other.cached
    (entry,) = [p for p in (tmp_path / "verify").glob("*.json") if _entry(p)["seed"] == 3]
    entry.write_text('{"model": "half a file')
    redo = verify_model(SMALL, seed=3, checks=NUMERIC, cache_root=tmp_path)
    assert not redo.cached and redo.rows == first.rows
    assert _entry(entry)["seed"] == 3  # rewritten whole
    assert not list((tmp_path / "verify").glob(".*.tmp"))


def test_an_injected_kernel_never_reuses_the_generated_kernels_cache_entry(tmp_path):
    good = verify_model(SMALL, checks=("kernel",), cache_root=tmp_path)
    bad_source = corrupt_bias_gradient(generated_source(SMALL), "b1")
    bad = verify_model(SMALL, checks=("kernel",), cache_root=tmp_path, kernel_source=bad_source)
    assert good.ok and not bad.ok and not bad.cached


def test_a_cache_entry_that_breaks_the_schema_is_not_used(tmp_path):
    verify_model(SMALL, checks=("kernel",), cache_root=tmp_path)
    (entry,) = (tmp_path / "verify").glob("*.json")
    d = _entry(entry)
    d["rows"][0]["verdict"] = "maybe"
    entry.write_bytes(signing.sign(json.dumps(d).encode()))  # authentic, but not a valid result
    assert not verify_model(SMALL, checks=("kernel",), cache_root=tmp_path).cached


# ----- the public API ---------------------------------------------------------------------------------------------
def test_verify_takes_a_catalog_name_or_a_spec():
    res = verify("binary_classifier", checks=("kernel",), use_cache=False)
    assert res.ok and res.model == "binary_classifier"
    assert verify(SMALL, checks=("kernel",), use_cache=False).model == SMALL.title


def test_bad_input_is_reported_as_bad_input():
    with pytest.raises(SpecError, match="unknown model"):
        verify("no_such_model")
    with pytest.raises(BadInput, match="catalog model name or a ModelSpec"):
        verify(42)  # type: ignore[arg-type]
    with pytest.raises(BadInput, match="unknown check"):
        verify(SMALL, checks=("kernel", "vibes"))
    with pytest.raises(BadInput, match="seed"):
        verify(SMALL, seed=-1)
    with pytest.raises(BadInput, match="jobs"):
        verify_models([SMALL], jobs=0)


def test_reproduce_command_names_the_catalog_model_or_the_flags():
    assert reproduce_command(get_model("tanh_net"), 5) == "bpv verify tanh_net --seed 5"
    assert reproduce_command(SMALL, 0) == (
        "bpv verify --net 3-4-2 --act tanh,softmax --cost cce --reduction mean --layout rows --seed 0")


def test_verify_models_keeps_the_order_and_reports_progress():
    seen = []
    specs = [SMALL, ModelSpec.build("2-1", "identity", "squared", reduction="sum")]
    results = verify_models(specs, jobs=1, progress=seen.append, checks=NUMERIC, use_cache=False)
    assert [r.spec for r in results] == specs and all(r.ok for r in results)
    assert seen[-1].startswith("[2/2] ") and any("complex step" in s for s in seen)


def test_several_processes_start_the_longest_model_first_and_report_in_the_given_order(tmp_path):
    from derive.verification.pool import in_processes
    from derive.verification.schedule import expected_seconds, longest_first

    catalog = [get_model(n) for n in ("binary_classifier", "regression", "tanh_net", "mnist_nielsen")]
    order = longest_first(catalog)
    assert sorted(order) == [0, 1, 2, 3] and order[:2] == [1, 2]  # regression (depth 4), then tanh_net (depth 3)
    assert expected_seconds(catalog[1]) > expected_seconds(catalog[2]) > expected_seconds(catalog[3])
    started, finished = tmp_path / "started", {}
    in_processes(functools.partial(_note_start, started), ["a", "b", "c"], jobs=1, order=[2, 0, 1],
                 done=finished.__setitem__, failed=lambda i, exc: pytest.fail(f"{i}: {exc}"))
    assert started.read_text() == "cab" and finished == {0: "A", 1: "B", 2: "C"}
    with pytest.raises(ValueError, match="every index"):
        in_processes(str.upper, ["a", "b"], jobs=1, order=[0, 0], done=finished.__setitem__, failed=print)


def _note_start(log, item: str) -> str:
    """A worker that appends its item to ``log`` as it starts (one process: the start order is the log's)."""
    with open(log, "a") as f:
        f.write(item)
    return item.upper()


# ----- the schema validator ---------------------------------------------------------------------------------------
def test_the_schema_validator_finds_what_is_wrong():
    row = Row("m", "kernel vs backprop", "W1", "a", "b", 0.0, 1e-12, "holds").to_dict()
    row_schema = {"$ref": "#/$defs/row"}
    root = load_schema()
    assert schema_errors(row, row_schema, root=root) == []
    assert schema_errors({**row, "verdict": "maybe"}, row_schema, root=root) == [
        "$.verdict: 'maybe' is not one of ['holds', 'fails', 'skipped']"]
    missing = {k: v for k, v in row.items() if k != "bound"}
    assert schema_errors(missing, row_schema, root=root) == ["$: missing required key 'bound'"]
    assert schema_errors({**row, "extra": 1}, row_schema, root=root) == ["$: unexpected key 'extra'"]
    assert schema_errors({**row, "error": "small"}, row_schema, root=root) == [
        "$.error: expected number or null, got str"]


# ----- the shipped kernel -------------------------------------------------------------------------------------------
def test_the_shipped_kernel_of_a_catalog_model_is_the_one_verified(binary_result):
    (row,) = [r for r in binary_result.rows if r.check == "shipped kernel vs generated kernel"]
    assert row.verdict is Verdict.HOLDS and row.witness == "numeric/kernels/binary_classifier.py"


def test_a_stale_shipped_kernel_fails_and_says_how_to_regenerate_it():
    spec = get_model("binary_classifier")
    row = shipped_kernel_row("binary_classifier", spec, generated_source(spec) + "# changed\n")
    assert row.verdict is Verdict.FAILS and "bpv kernels binary_classifier -o numeric/kernels" in row.detail
    assert shipped_kernel_row("x", SMALL, "") is None  # not a catalog model: nothing shipped


def test_a_worker_that_dies_fails_its_model_and_the_others_still_report(monkeypatch):
    real = api.verify_model

    def fragile(spec, **kwargs):
        if spec.sizes == (2, 1):
            raise MemoryError("out of memory")
        return real(spec, **kwargs)

    monkeypatch.setattr(api, "verify_model", fragile)  # forked workers inherit the patch
    specs = [SMALL, ModelSpec.build("2-1", "identity", "squared")]
    first, second = verify_models(specs, jobs=2, checks=("central",), use_cache=False)
    assert first.ok and not second.ok
    (row,) = second.rows
    assert row.check == "worker" and "MemoryError: out of memory" in row.detail
    assert schema_errors(second.to_dict(), load_schema()["$defs"]["result"]) == []


# ----- the package, the enum, the versioned schema ------------------------------------------------------------------
def test_from_derive_import_verify_is_the_function_even_after_importing_the_package():
    import derive.verification  # noqa: F401 - the package must not shadow the function
    from derive import verify as public
    from derive import verify_model as public_model

    assert callable(public) and public is verify and public_model is verify_model


def test_importing_the_package_loads_neither_sympy_nor_the_modules():
    import subprocess
    import sys

    script = ("import sys, derive.verification as v\n"
              "assert 'sympy' not in sys.modules and 'numpy' not in sys.modules, sorted(sys.modules)\n"
              "assert v.verify.__module__ == 'derive.verification.api'\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_verdicts_are_an_enum_that_serialises_as_its_value(binary_result):
    assert {r.verdict for r in binary_result.rows} <= set(Verdict)
    row = Row("m", "c", "W1", "a", "b", 0.0, 1e-12, "holds")
    assert row.verdict is Verdict.HOLDS and row.to_dict()["verdict"] == "holds" and str(Verdict.FAILS) == "fails"
    assert json.loads(json.dumps(row.to_dict()))["verdict"] == "holds"


def test_the_report_document_is_versioned_and_lists_the_layers(binary_result):
    doc = report_dict([binary_result], seed=0, elapsed=1.0, jobs=1)
    assert doc["schema_version"] == SCHEMA_VERSION == load_schema()["properties"]["schema_version"]["const"]
    assert schema_errors(doc) == []
    layers = doc["models"][0]["spec"]["layers"]
    sizes = binary_result.spec.sizes
    assert [(d["kind"], d["n_in"], d["n_out"]) for d in layers] == [
        ("dense", sizes[0], sizes[1]), ("dense", sizes[1], sizes[2])]
    old = {k: v for k, v in doc.items() if k != "schema_version"}
    assert schema_errors(old) == ["$: missing required key 'schema_version'"]
    no_layers = json.loads(json.dumps(doc))
    del no_layers["models"][0]["spec"]["layers"]
    assert schema_errors(no_layers) == ["$.models[0].spec: missing required key 'layers'"]


# ----- the torch oracle reads the registries ---------------------------------------------------------------------
@pytest.mark.skipif(not torch_available(), reason="needs torch")
@pytest.mark.parametrize("spec", [
    ModelSpec.build("3-4-2", "leaky_relu:0.2,softmax", "bce", layout="rows"),   # bce after softmax: no fused torch
    ModelSpec.build("3-4-2", "elu:0.5,sigmoid", "bce", reduction="sum"),        # the fused softplus(z) - y z
    ModelSpec.build("2-3-2", "softplus,tanh", "mse", bias=False),
])
def test_the_torch_oracle_holds_for_every_cost_path(spec):
    res = verify_model(spec, checks=("torch",), use_cache=False)
    rows = [r for r in res.rows if r.check == "torch.autograd vs backprop"]
    assert rows and all(r.verdict is Verdict.HOLDS for r in rows), res.summary()
    assert {r.block for r in rows} == set(spec.param_names())


@pytest.mark.skipif(not torch_available(), reason="needs torch")
@pytest.mark.parametrize("act, cost", [("swish,sigmoid", "bce"), ("gelu,softmax", "cce")])
def test_swish_and_gelu_verify_with_torch_rows_holding(act, cost):
    """Needs the swish/gelu entries of both registries (numeric.functions and derive.functions.registry)."""
    spec = ModelSpec.build("3-5-2", act, cost)
    res = verify(spec, use_cache=False)
    assert res.ok, res.summary()
    torch_rows = [r for r in res.rows if r.check == "torch.autograd vs backprop"]
    assert {r.block for r in torch_rows} == {"W1", "b1", "W2", "b2"}
    assert all(r.verdict is Verdict.HOLDS for r in torch_rows)
    assert any(r.check == "derivation" for r in res.rows) and any(r.check == "kernel vs backprop" for r in res.rows)


# ----- the kink test ---------------------------------------------------------------------------------------------
def test_a_subgradient_at_a_relu_kink_is_recognised_and_a_wrong_value_is_not():
    from numeric.finite_diff import between_one_sided, differences

    def loss(p):  # relu(t): slopes 0 on the left, 1 on the right of t = 0
        return float(np.maximum(p["t"][0], 0.0))

    d = differences(loss, {"t": np.zeros(1)}, "t")
    margin, gap = d.one_sided_error, 10 * d.one_sided_error
    assert between_one_sided(np.array([0.0]), d, margin=margin, gap=gap).all()
    assert between_one_sided(np.array([0.5]), d, margin=margin, gap=gap).all()
    assert not between_one_sided(np.array([1.5]), d, margin=margin, gap=gap).any()
