"""numeric.gradcheck: catches and diagnoses every planted bug, passes correct code (float32 and ReLU kinks too)."""

import json
import sys

import numpy as np
import planted_bugs as planted
import pytest

from numeric import CATALOG, BadInput, ModelSpec, backprop, gradcheck, init_params, random_batch


@pytest.mark.parametrize("mode", ["full", "fast"])
@pytest.mark.parametrize("bug", list(planted.BUGS))
def test_every_planted_bug_is_caught_in_the_right_blocks_and_diagnosed(bug, mode):
    expected = planted.BUGS[bug]
    for seed in (0, 1):
        loss, grad, params = planted.make_problem(bug, seed=seed)
        result = gradcheck(loss, grad, params, mode=mode, seed=seed)
        assert not result.ok
        wrong = {r.name for r in result.rows if r.verdict == "wrong"}
        assert wrong == set(expected.wrong), str(result)
        assert all(r.verdict == "ok" for r in result.rows if r.name not in expected.wrong), str(result)
        for name, phrase in expected.diagnosis.items():
            assert phrase in result.row(name).diagnosis, str(result)
        if expected.localisation:
            assert result.localisation and expected.localisation in result.localisation, str(result)


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_the_correct_version_of_the_corpus_net_passes(mode):
    loss, grad, params = planted.make_problem(None)
    result = gradcheck(loss, grad, params, mode=mode)
    assert result.ok and {r.verdict for r in result.rows} == {"ok"}, str(result)


@pytest.mark.parametrize("name", list(CATALOG))
def test_backprop_passes_on_every_catalog_model_with_a_sample_of_big_blocks(name, rng):
    spec = CATALOG[name]
    params = init_params(spec, rng)
    x, y = random_batch(spec, 3, rng)
    result = gradcheck(*backprop.problem(spec, params, x, y), mode="full", max_elements=300)
    assert result.ok, str(result)
    # the complex step is the reference here; a block of dead ReLUs has a zero true gradient, said in words
    assert max(r.rel_error for r in result.rows if np.isfinite(r.rel_error)) <= 1e-12
    assert all("true gradient is zero" in r.diagnosis for r in result.rows if not np.isfinite(r.rel_error))
    assert all(r.method == "complex-step" for r in result.rows)


def _relu_at_kinks(seed, hidden="relu", m=6):
    """Integer weights and data with b1 = -W1 x_0: z^1 = 0 exactly for sample 0 (and, by coincidence, others)."""
    rng = np.random.default_rng(seed)
    spec = ModelSpec.build("3-4-4-2", f"{hidden},{hidden},identity", "quadratic")
    p = {k: rng.integers(-3, 4, size=s).astype(float) for k, s in spec.param_shapes().items()}
    x = rng.integers(-2, 3, size=(3, m)).astype(float)
    y = rng.integers(-2, 3, size=(2, m)).astype(float)
    p["b1"] = -(p["W1"] @ x[:, :1])
    zs, _ = backprop.forward_cache(spec, p, x)
    assert np.count_nonzero(zs[0] == 0) >= 4
    return backprop.problem(spec, p, x, y)


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_no_false_failures_on_correct_relu_nets_exactly_at_kinks(mode):
    kinks = 0
    for seed in range(12):
        for hidden in ["relu", "leaky_relu:0.1"]:
            result = gradcheck(*_relu_at_kinks(seed, hidden), mode=mode, seed=seed)
            assert result.ok, f"seed {seed} {hidden}\n{result}"
            kinks += sum(r.verdict == "kink" for r in result.rows)
    assert kinks > 0, "the kinks were reached and reported as kinks"


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_no_false_failures_with_all_zero_initialisation_where_every_relu_sits_at_its_kink(mode, rng):
    spec = ModelSpec.build("4-5-3", "relu,identity", "mse")
    params = {k: np.zeros(s) for k, s in spec.param_shapes().items()}
    params["W2"] = rng.standard_normal((3, 5))
    x, y = random_batch(spec, 7, rng)
    result = gradcheck(*backprop.problem(spec, params, x, y), mode=mode)
    assert result.ok, str(result)
    assert result.row("W1").verdict == "kink"


def test_a_bug_at_a_kink_element_is_still_wrong():
    loss, grad, params = _relu_at_kinks(0)
    result = gradcheck(loss, lambda p: {k: (-v if k == "b1" else v) for k, v in grad(p).items()}, params)
    assert result.row("b1").verdict == "wrong" and not result.ok


def test_near_kinks_from_rounding_are_not_failures(rng):
    spec = CATALOG["regression"]
    params = init_params(spec, rng)
    x, y = random_batch(spec, 5, rng)
    zs, _ = backprop.forward_cache(spec, params, x)
    params["b3"] = params["b3"] - zs[2][:, :1]  # z^3 of sample 0 is now 0 up to rounding
    result = gradcheck(*backprop.problem(spec, params, x, y))
    assert result.ok, str(result)


def test_float32_code_passes_at_float32_accuracy_and_its_bugs_are_still_caught(rng):
    spec = ModelSpec.build("3-6-2", "tanh,sigmoid", "bce")
    params = {k: v.astype(np.float32) for k, v in init_params(spec, rng).items()}
    x, y = (a.astype(np.float32) for a in random_batch(spec, 5, rng))
    loss, grad, p = backprop.problem(spec, params, x, y)
    assert loss(p).__class__ is float and grad(p)["W1"].dtype == np.float32
    for mode in ["full", "fast"]:
        result = gradcheck(loss, grad, p, mode=mode)
        assert result.ok, str(result)
        bad = gradcheck(loss, lambda q: {**grad(q), "W2": grad(q)["W2"] * 2}, p, mode=mode)
        assert [r.name for r in bad.rows if r.verdict == "wrong"] == ["W2"] and "x2" in bad.row("W2").diagnosis


def _quadratic_problem():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((4, 3))
    params = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(4)}

    def loss(p):
        return float(np.sum(np.sin(p["W"]) * A) + np.sum(p["b"] ** 3))

    def grad(p):
        return {"W": np.cos(p["W"]) * A, "b": 3 * p["b"] ** 2}

    return loss, grad, params


@pytest.mark.parametrize("change,name,phrase", [
    (lambda g: g.pop("b"), "b", "grad returned no 'b'"),
    (lambda g: g.update(extra=np.zeros(2)), "extra", "not a parameter"),
    (lambda g: g.update(W=g["W"][:2]), "W", "shape (2, 3) instead of (4, 3)"),
    (lambda g: g.update(b=g["b"].reshape(4, 1)), "b", "reshaped"),
    (lambda g: g.update(W=g["W"].astype(int)), "W", ""),
    (lambda g: g.update(W=g["W"] + 0j), "W", "complex"),
    (lambda g: g.update(W=np.where(np.arange(12).reshape(4, 3) == 5, np.nan, g["W"])), "W", "NaN"),
    (lambda g: g.update(W=g["W"] * np.array([[1.0], [1.0], [3.0], [1.0]])), "W", "confined to rows 2 of 4"),
    (lambda g: g.update(W=np.zeros((4, 3))), "W", "all-zero gradient"),
    (lambda g: g.update(b="four numbers"), "b", "dtype"),
])
def test_structural_errors_give_a_wrong_row_with_an_explanation_never_a_crash(change, name, phrase):
    loss, grad, params = _quadratic_problem()

    def broken(p):
        g = grad(p)
        change(g)
        return g

    result = gradcheck(loss, broken, params)
    assert not result.ok
    assert result.row(name).verdict == "wrong" and phrase in result.row(name).diagnosis, str(result)
    json.dumps(result.to_dict())
    str(result)


def test_a_grad_that_raises_or_returns_a_list_gives_wrong_rows():
    loss, _, params = _quadratic_problem()
    result = gradcheck(loss, lambda p: 1 / 0, params)
    assert not result.ok and "ZeroDivisionError" in result.rows[0].diagnosis
    result = gradcheck(loss, lambda p: [p["W"], p["b"]], params)
    assert not result.ok and "returned list" in result.rows[0].diagnosis


def test_a_loss_that_cannot_be_evaluated_is_bad_input():
    _, grad, params = _quadratic_problem()
    with pytest.raises(BadInput, match=r"loss\(params\) raised KeyError"):
        gradcheck(lambda p: p["nope"], grad, params)
    with pytest.raises(BadInput, match="one number"):
        gradcheck(lambda p: p["W"], grad, params)
    with pytest.raises(BadInput, match="mode must be"):
        gradcheck(lambda p: 0.0, grad, params, mode="slow")


def test_a_non_analytic_loss_is_detected_and_central_differences_are_used():
    params = {"w": np.array([0.5, -1.5, 2.0])}

    def loss(p):  # |w| w: np.abs drops the imaginary part of a complex step
        return np.sum(np.abs(p["w"]) * p["w"])

    result = gradcheck(loss, lambda p: {"w": 2 * np.abs(p["w"])}, params)
    assert result.ok and "rejected" in result.rows[0].method
    assert any("not analytic" in n for n in result.notes)


def test_fast_mode_finds_a_single_wrong_element_in_a_big_block(rng):
    spec = ModelSpec.build("30-20-3", "tanh,identity", "quadratic")
    params = init_params(spec, rng)
    x, y = random_batch(spec, 4, rng)
    loss, grad, p = backprop.problem(spec, params, x, y)

    def one_off(q):
        g = grad(q)
        g["W1"] = g["W1"].copy()
        g["W1"][7, 11] += 0.5 * np.max(np.abs(g["W1"]))
        return g

    fast = gradcheck(loss, one_off, p, mode="fast", k=4)
    assert [r.name for r in fast.rows if r.verdict == "wrong"] == ["W1"], str(fast)
    full = gradcheck(loss, one_off, p)
    assert full.row("W1").n_bad == 1 and full.row("W1").worst_index == (7, 11)
    assert "confined to rows 7 of 20 and columns 11 of 30" in full.row("W1").diagnosis


def test_the_table_lists_the_worst_rows_first_and_to_dict_is_json():
    loss, grad, params = planted.make_problem("double_averaged_bias")
    result = gradcheck(loss, grad, params)
    lines = str(result).splitlines()
    assert lines[0].split()[:3] == ["param", "shape", "verdict"]
    assert [line.split()[2] for line in lines[2:8]] == ["wrong"] * 3 + ["ok"] * 3
    d = json.loads(json.dumps(result.to_dict()))
    assert d["ok"] is False and d["rows"][0]["verdict"] == "wrong" and len(d["rows"]) == 6
    assert {"name", "shape", "rel_error", "max_abs_error", "worst_index", "n_bad", "verdict", "diagnosis"} <= set(
        d["rows"][0])


def test_batch_size_can_be_passed_to_name_the_factor():
    loss, grad, params = _quadratic_problem()
    result = gradcheck(loss, lambda p: {**grad(p), "b": grad(p)["b"] / 5}, params, batch_size=5)
    assert "x1/m with m = 5" in result.row("b").diagnosis


def test_numeric_gradcheck_is_the_function_after_every_submodule_is_imported():
    import importlib
    import pkgutil

    import numeric

    for info in pkgutil.iter_modules(numeric.__path__):
        importlib.import_module(f"numeric.{info.name}")
        assert info.name not in numeric.__all__, f"numeric.{info.name} is both a module and a public name"
    from numeric import gradcheck as imported

    assert callable(imported) and imported is numeric.gradcheck and imported.__module__ == "numeric.checker"


def test_importing_numeric_blas_loads_no_numpy():
    import subprocess

    code = "import sys, numeric.blas; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"  # so a benchmark can pin BLAS before NumPy loads it


def test_verdicts_are_an_enum_with_the_table_words():
    from numeric import Verdict

    loss, grad, params = planted.make_problem(None)
    result = gradcheck(loss, grad, params)
    assert all(isinstance(r.verdict, Verdict) for r in result.rows)
    assert [str(v) for v in Verdict] == ["ok", "kink", "wrong"]
    assert {r["verdict"] for r in json.loads(json.dumps(result.to_dict()))["rows"]} == {"ok"}
