"""``bpv train`` and its parts: the data loaders, the fit checks, the SGD loop through the kernel's sgd_step, the
command's table, JSON, saved parameters and exit codes, and the spiral acceptance run."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from derive.cli.app import main
from derive.cli.commands.train import format_history, resolve_kernel, shown_epochs
from numeric.data import Dataset, check_fits, load_csv, load_dataset, load_npz, moons, prepare, spiral
from numeric.errors import BadInput
from numeric.progress import Progress
from numeric.spec import ModelSpec
from numeric.train import Diverged, accuracy, shipped_kernel, train, training_params

ROOT = Path(__file__).resolve().parents[1]
SPIRAL_NET = ModelSpec.build("2-20-3", "relu,softmax", "cce")


def kernel_for(spec: ModelSpec):
    return resolve_kernel(spec, Progress(0, enabled=False))[0]


# ----- data ------------------------------------------------------------------------------------------------------


def test_spiral_has_three_arms_of_100_points_inside_the_unit_disc_and_depends_on_the_seed_only():
    data = spiral(0)
    assert data.x.shape == (300, 2) and data.y.shape == (300,) and data.n_classes == 3
    assert np.bincount(data.y).tolist() == [100, 100, 100]
    assert np.all(np.hypot(data.x[:, 0], data.x[:, 1]) <= 1.0 + 1e-12)
    assert np.array_equal(spiral(0).x, data.x)
    assert not np.allclose(spiral(1).x, data.x)
    # the first point of every arm is the centre (radius 0); the last lies on the unit circle
    assert np.allclose(data.x[[0, 100, 200]], 0.0)
    assert np.allclose(np.hypot(*data.x[[99, 199, 299]].T), 1.0)
    small = spiral(3, per_class=10, classes=4, noise=0.0)
    assert small.x.shape == (40, 2) and small.n_classes == 4
    # without noise, arm j's last angle is 4(j+1): x = (sin t, cos t)
    assert np.allclose(small.x[9], [np.sin(4.0), np.cos(4.0)])


def test_moons_are_two_interleaved_half_circles():
    data = moons(0, n=101, noise=0.0)
    assert data.x.shape == (101, 2) and np.bincount(data.y).tolist() == [50, 51]
    upper, lower = data.x[data.y == 0], data.x[data.y == 1]
    assert np.allclose(np.hypot(*upper.T), 1.0) and np.all(upper[:, 1] >= -1e-12)
    assert np.allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0) and np.all(lower[:, 1] <= 0.5 + 1e-12)
    assert np.array_equal(moons(5).x, moons(5).x) and not np.allclose(moons(5).x, moons(6).x)


def test_csv_with_a_header_gives_labels_and_without_integers_gives_values(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("f1, f2, label\n0.5, 1, 0\n\n# a comment\n-2, 3e-1, 2\n")
    data = load_csv(path)
    assert data.x.tolist() == [[0.5, 1.0], [-2.0, 0.3]] and data.y.tolist() == [0, 2] and data.n_classes == 3
    path.write_text("1,2,0.25\n3,4,1.5\n")
    data = load_dataset(str(path))
    assert data.n_classes is None and data.y.shape == (2, 1) and data.y[:, 0].tolist() == [0.25, 1.5]


@pytest.mark.parametrize("text, words", [
    ("a,b,y\n1,2,0\n1,2\n", ["d.csv:3", "2 fields", "3"]),
    ("1,2,0\n1,x,1\n", ["d.csv:2", "'x' is not a number"]),
    ("a,b,y\n1,2,0\nc,d,e\n", ["d.csv:3", "'c'", "header"]),
    ("1,nan,0\n", ["d.csv:1", "not finite"]),
    ("x,y\n", ["no data rows"]),
    ("1\n2\n", ["one column"]),
])
def test_csv_errors_name_the_line_and_the_fix(tmp_path, text, words):
    path = tmp_path / "d.csv"
    path.write_text(text)
    with pytest.raises(BadInput) as err:
        load_csv(path)
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_npz_round_trip_and_errors(tmp_path):
    path = tmp_path / "d.npz"
    x = np.arange(12.0).reshape(6, 2)
    np.savez(path, x=x, y=np.array([0, 1, 1, 0, 1, 0]))
    data = load_npz(path)
    assert np.array_equal(data.x, x) and data.n_classes == 2
    np.savez(path, x=x, y=np.ones((6, 3)) * 0.5)
    assert load_dataset(str(path)).y.shape == (6, 3)
    np.savez(path, x=x)
    with pytest.raises(BadInput, match="missing key 'y'"):
        load_npz(path)
    np.savez(path, x=x, y=np.zeros(5))
    with pytest.raises(BadInput, match=r"y has shape \(5,\) for 6 samples"):
        load_npz(path)
    np.savez(path, x=np.zeros(6), y=np.zeros(6))
    with pytest.raises(BadInput, match="one sample per row"):
        load_npz(path)
    path.write_text("not a zip")
    with pytest.raises(BadInput, match=r"not a readable \.npz"):
        load_npz(path)


def test_unknown_names_missing_files_and_digits_without_scikit_learn(tmp_path, monkeypatch):
    with pytest.raises(BadInput, match="not a built-in set"):
        load_dataset("mnist")
    with pytest.raises(BadInput, match="no such file"):
        load_dataset(str(tmp_path / "gone.csv"))
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now raises ImportError
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(BadInput, match="pip install scikit-learn"):
        load_dataset("digits")


def test_the_fit_checks_name_the_flag_that_fixes_them():
    data = spiral(0)
    cases = [
        (ModelSpec.build("2-10-2", "relu,softmax", "cce"), "--net 2-...-3 for spiral's 3 classes"),
        (ModelSpec.build("3-10-3", "relu,softmax", "cce"), "use --net 2-...-3"),
        (ModelSpec.build("2-10-1", "relu,sigmoid", "bce"), "one output unit needs 0/1 labels"),
        (ModelSpec.build("2-10-2", "relu,sigmoid", "bce"), "one-hot 0/1 targets"),
        (ModelSpec.build("2-10-2", "relu,identity", "mse"), "--net 2-...-3"),
    ]
    for spec, words in cases:
        with pytest.raises(BadInput, match=words.replace(".", r"\.").replace("'", ".")):
            check_fits(spec, data)
    values = Dataset(np.zeros((4, 2)), np.zeros((4, 1)) + 0.5, None, "v")
    with pytest.raises(BadInput, match="needs class labels"):
        check_fits(SPIRAL_NET, values)


def test_prepare_gives_the_targets_each_cost_takes():
    data = spiral(0)
    ts = prepare(SPIRAL_NET, data)
    assert ts.y.shape == (300, 3) and np.array_equal(ts.y.argmax(axis=1), data.y) and ts.rule == "argmax"
    x, y = ts.batch(SPIRAL_NET, np.array([5, 150]))
    assert x.shape == (2, 2) and y.shape == (3, 2) and np.array_equal(x[:, 1], data.x[150])  # columns: samples
    bce = prepare(ModelSpec.build("2-5-1", "tanh,sigmoid", "bce", layout="rows"), moons(0))
    assert bce.y.shape == (200, 1) and bce.rule == "threshold"
    many = prepare(ModelSpec.build("2-5-3", "sigmoid", "bce"), data)  # Nielsen ch. 3: a sigmoid unit per class
    assert np.array_equal(many.y, ts.y) and many.rule == "argmax"
    reg = prepare(ModelSpec.build("2-5-1", "tanh,identity", "mse"), data)
    assert reg.labels is None and reg.rule is None and reg.y[:, 0].tolist() == data.y.tolist()


# ----- training --------------------------------------------------------------------------------------------------


def test_training_params_are_he_scaled_weights_and_neutral_biases_and_norms():
    spec = ModelSpec.build("400-300-2", "relu,softmax", "cce", norm="batch")
    params = training_params(spec, np.random.default_rng(0))
    assert set(params) == set(spec.param_names()) and all(params[k].shape == s for k, s in spec.param_shapes().items())
    assert abs(params["W1"].std() - np.sqrt(2 / 400)) < 0.02 * np.sqrt(2 / 400)
    assert abs(params["W2"].std() - np.sqrt(2 / 300)) < 0.1 * np.sqrt(2 / 300)
    assert np.all(params["gamma1"] == 1) and np.all(params["beta1"] == 0) and np.all(params["b1"] == 0)


def test_a_shipped_kernel_serves_every_width_of_its_family_and_only_its_family(monkeypatch):
    import numeric.kernels

    spec = ModelSpec.build("2-100-3", "relu,softmax", "cce")

    def module(family, step=True):
        return SimpleNamespace(FAMILY=family, **({"sgd_step": lambda *a, **k: None} if step else {}))

    old, other, own = module(spec.family_key(), step=False), module(spec.family_key()), module(spec.family_key())
    fakes = {"old": old, "other": other, "wrong": module("L=2;act=tanh"), "mine": own}
    monkeypatch.setattr(numeric.kernels, "KERNELS", fakes)
    assert shipped_kernel(spec) is other  # the first of the family that has sgd_step
    assert shipped_kernel(replace(spec, name="mine")) is own  # a catalog model's own module first
    assert shipped_kernel(ModelSpec.build("2-100-3", "tanh,softmax", "cce")) is None
    monkeypatch.undo()
    from numeric.kernels import softmax_classifier

    # the shipped softmax_classifier serves 2-100-3 once it is printed with sgd_step (an older module never)
    expected = softmax_classifier if hasattr(softmax_classifier, "sgd_step") else None
    assert shipped_kernel(spec) is expected
    with pytest.raises(BadInput, match="serves the family"):
        train(ModelSpec.build("2-5-3", "tanh,softmax", "cce"), softmax_classifier, spiral(0), epochs=1,
              batch_size=8, eta=0.1, seed=0)


def test_a_short_run_lowers_the_loss_and_is_reproducible_from_the_seed():
    kernel = kernel_for(SPIRAL_NET)
    runs = [train(SPIRAL_NET, kernel, spiral(0), epochs=30, batch_size=32, eta=0.5, seed=s) for s in (4, 4, 5)]
    history = runs[0].history
    assert [e["epoch"] for e in history] == list(range(31)) and history[0]["seconds"] == 0.0
    assert history[-1]["loss"] < 0.7 * history[0]["loss"]
    assert history[-1]["accuracy"] > history[0]["accuracy"] and 0 <= history[-1]["accuracy"] <= 1
    assert all(b["seconds"] >= a["seconds"] for a, b in itertools.pairwise(history))
    assert all(np.array_equal(runs[0].params[k], runs[1].params[k]) for k in runs[0].params)
    assert not np.array_equal(runs[0].params["W1"], runs[2].params["W1"])
    # the history's loss is the kernel's loss of the returned parameters on the whole set
    ts = prepare(SPIRAL_NET, spiral(0))
    x, y = ts.batch(SPIRAL_NET, slice(None))
    assert kernel.loss(runs[0].params, x, y) == pytest.approx(history[-1]["loss"], rel=1e-12)
    assert accuracy(SPIRAL_NET, kernel.forward(runs[0].params, x), ts.labels, "argmax") == history[-1]["accuracy"]


class _Recorder:
    """A stand-in kernel that records what train passes (no gradient code: a step returns the parameters as they
    are, the loss is a constant). It shows the masks, l2_n and batches, which a real kernel cannot report."""

    def __init__(self, spec: ModelSpec, loss: float = 1.0):
        self.FAMILY = spec.family_key()
        self.spec = spec
        self.calls: list[dict] = []
        self.loss_calls: list[dict] = []
        self.value = loss

    def sgd_step(self, params, x, y, eta, **kw):
        self.calls.append({"m": x.shape[self.spec.layout.sample_axis], "eta": eta, **kw})
        return {k: v.copy() for k, v in params.items()}

    def loss(self, params, x, y, **kw):
        self.loss_calls.append(kw)
        return self.value

    def forward(self, params, x):
        return np.zeros(self.spec.y_shape(x.shape[self.spec.layout.sample_axis]))


def test_dropout_gets_fresh_masks_every_step_and_l2_the_training_set_size():
    spec = ModelSpec.build("2-6-5-3", "relu,relu,softmax", "cce", keep_prob=0.5, l2=0.1, layout="rows")
    kernel = _Recorder(spec)
    train(spec, kernel, spiral(0), epochs=2, batch_size=64, eta=0.3, seed=0)
    assert [c["m"] for c in kernel.calls] == [64, 64, 64, 64, 44] * 2  # 300 = 4 x 64 + 44
    assert all(c["l2_n"] == 300 and c["eta"] == 0.3 for c in kernel.calls)
    masks = [c["masks"] for c in kernel.calls]
    assert all(set(m) == {"M1", "M2"} for m in masks)
    assert masks[0]["M1"].shape == (64, 6) and masks[4]["M2"].shape == (44, 5)  # rows layout: like a^l
    assert all(set(np.unique(m["M1"])) <= {0.0, 1.0} for m in masks)
    assert not np.array_equal(masks[0]["M1"], masks[1]["M1"])
    assert 0.4 < np.mean([m["M1"].mean() for m in masks]) < 0.6
    # the epoch's loss: no masks (dropout off), the same n
    assert kernel.loss_calls == [{"l2_n": 300}] * 3
    fixed = ModelSpec.build("2-6-3", "relu,softmax", "cce", l2=0.1, l2_n=50000)
    kernel = _Recorder(fixed)
    train(fixed, kernel, spiral(0), epochs=1, batch_size=300, eta=0.1, seed=0)
    assert kernel.calls == [{"m": 300, "eta": 0.1, "l2_n": 300}]  # the set trained on, not the spec's n; no masks


def test_a_plain_net_passes_no_extras_and_the_batch_never_exceeds_the_set():
    kernel = _Recorder(SPIRAL_NET)
    train(SPIRAL_NET, kernel, spiral(0), epochs=1, batch_size=1000, eta=0.1, seed=0)
    assert kernel.calls == [{"m": 300, "eta": 0.1}] and kernel.loss_calls == [{}, {}]


def test_a_diverging_run_stops_with_a_message_naming_eta():
    kernel = _Recorder(SPIRAL_NET, loss=float("nan"))
    with pytest.raises(Diverged, match=r"--eta 7.*--eta 0\.7") as err:
        train(SPIRAL_NET, kernel, spiral(0), epochs=3, batch_size=32, eta=7.0, seed=0)
    assert err.value.result.history[-1]["epoch"] == 0


@pytest.mark.parametrize("settings, flag", [
    ({"epochs": 0}, "--epochs"), ({"batch_size": 0}, "--batch-size"), ({"eta": 0.0}, "--eta"),
    ({"eta": -1.0}, "--eta"), ({"eta": float("inf")}, "--eta"), ({"seed": -1}, "--seed"),
])
def test_bad_settings_are_bad_input(settings, flag):
    kw = {"epochs": 1, "batch_size": 8, "eta": 0.1, "seed": 0, **settings}
    with pytest.raises(BadInput, match=flag):
        train(SPIRAL_NET, _Recorder(SPIRAL_NET), spiral(0), **kw)


# ----- the command -----------------------------------------------------------------------------------------------


def test_the_table_is_thinned_for_long_runs_and_always_ends_with_the_last_epoch():
    assert shown_epochs(1000) == list(range(0, 1001, 100))
    assert shown_epochs(12) == list(range(13))
    assert shown_epochs(37)[-2:] == [35, 37] and len(shown_epochs(37)) <= 20
    assert 8 <= len(shown_epochs(12345)) <= 20 and shown_epochs(12345)[-1] == 12345
    history = [{"epoch": e, "loss": 1.0 / (e + 1), "accuracy": None, "seconds": 0.01 * e} for e in range(51)]
    lines = format_history(history).splitlines()
    assert lines[0].split() == ["epoch", "loss", "accuracy", "seconds"]
    assert len(lines) == 12 and lines[-1].split()[0] == "50" and lines[-1].split()[2] == "-"


def test_json_and_saved_parameters(tmp_path, capsys):
    target, saved = tmp_path / "run.json", tmp_path / "out" / "params.npz"
    code = main(["train", "--net", "2-20-3", "--act", "relu,softmax", "--cost", "cce", "--data", "spiral",
                 "--epochs", "25", "--batch-size", "16", "--eta", "0.4", "--seed", "2", "--json", str(target),
                 "--save", str(saved)])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(target.read_text())
    assert doc["spec"] == SPIRAL_NET.to_dict() and doc["data"] == {"name": "spiral", "n": 300}
    assert (doc["seed"], doc["eta"], doc["batch_size"], doc["epochs"]) == (2, 0.4, 16, 25)
    assert [e["epoch"] for e in doc["history"]] == list(range(26))
    assert set(doc["history"][-1]) == {"epoch", "loss", "accuracy", "seconds"}
    final = doc["history"][-1]
    assert f"loss {final['loss']:.6g}" in out and f"{100 * final['accuracy']:.1f} %" in out
    with np.load(saved) as params:
        assert sorted(params.files) == ["W1", "W2", "b1", "b2"] and params["W1"].shape == (20, 2)
        ts = prepare(SPIRAL_NET, spiral(2))
        x, y = ts.batch(SPIRAL_NET, slice(None))
        assert kernel_for(SPIRAL_NET).loss(dict(params), x, y) == pytest.approx(final["loss"], rel=1e-12)
    assert "100%" in err  # the progress bar's last line


def test_json_to_stdout_is_clean(capsys):
    code = main(["train", "--net", "2-8-3", "--act", "relu,softmax", "--cost", "cce", "--data", "spiral",
                 "--epochs", "2", "--json", "-"])
    out, err = capsys.readouterr()
    assert code == 0 and json.loads(out)["epochs"] == 2 and "epoch" in err


@pytest.mark.parametrize("argv, words", [
    (["--epochs", "0"], "--epochs must be a positive integer"),
    (["--eta", "0"], "--eta must be a positive"),
    (["--eta", "-0.5"], "--eta must be a positive"),
    (["--batch-size", "0"], "--batch-size"),
    (["--data", "nowhere.csv"], "no such file"),
    (["--net", "3-10-3"], "n_0 = 3"),
    (["--net", "2-10-2"], "--net 2-...-3 for spiral's 3 classes"),
    (["binary_classifier"], "trains one model"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, words):
    base = {"--net": "2-10-3", "--act": "relu,softmax", "--cost": "cce", "--data": "spiral", "--epochs": "1"}
    flags = [tok for pair in base.items() if pair[0] not in argv for tok in pair]
    code = main(["train", *flags, *argv])
    _out, err = capsys.readouterr()
    assert code == 2
    assert words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_python_minus_m_derive_train_exits_2_on_bad_input():
    proc = subprocess.run([sys.executable, "-m", "derive", "train", "--net", "2-10-3", "--act", "relu,softmax",
                           "--cost", "cce", "--data", "spiral", "--eta", "0"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "--eta" in proc.stderr and "Traceback" not in proc.stderr


def test_acceptance_the_spiral_is_learnt_to_95_percent_in_tens_of_ms_per_epoch(tmp_path, capsys):
    target = tmp_path / "spiral.json"
    t0 = time.perf_counter()
    code = main(["train", "--net", "2-100-3", "--act", "relu,softmax", "--cost", "cce", "--data", "spiral",
                 "--epochs", "1000", "--batch-size", "32", "--eta", "0.5", "--seed", "0", "--json", str(target)])
    wall = time.perf_counter() - t0
    out, _ = capsys.readouterr()
    assert code == 0
    final = json.loads(target.read_text())["history"][-1]
    assert final["accuracy"] >= 0.95, out
    assert final["seconds"] / 1000 < 0.03, f"{final['seconds'] / 1000 * 1e3:.1f} ms per epoch"
    print(f"\nspiral: loss {final['loss']:.4f}, accuracy {final['accuracy']:.3f}, training {final['seconds']:.2f} s, "
          f"command {wall:.2f} s")


def test_a_catalog_model_trains_by_name_with_bce_accuracy(tmp_path, capsys):
    target = tmp_path / "moons.json"
    code = main(["train", "tanh_net", "--data", "moons", "--epochs", "40", "--eta", "0.5", "--json", str(target)])
    _out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(target.read_text())
    assert doc["spec"]["name"] == "tanh_net" and doc["data"] == {"name": "moons", "n": 200}
    first, last = doc["history"][0], doc["history"][-1]
    assert last["loss"] < 0.8 * first["loss"] and last["accuracy"] >= 0.8  # a 0.5 threshold on one sigmoid unit


def test_batch_norm_dropout_and_l2_train_through_the_generated_kernel(tmp_path, capsys):
    target = tmp_path / "blocks.json"
    code = main(["train", "--net", "2-16-3", "--act", "relu,softmax", "--cost", "cce", "--norm", "batch",
                 "--keep-prob", "0.8", "--l2", "0.01", "--data", "spiral", "--epochs", "40", "--eta", "0.2",
                 "--json", str(target)])
    _out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(target.read_text())
    assert {k: doc["spec"][k] for k in ("norm", "keep_prob", "l2")} == {"norm": "batch", "keep_prob": 0.8, "l2": 0.01}
    first, last = doc["history"][0], doc["history"][-1]
    assert last["loss"] < 0.8 * first["loss"] and last["accuracy"] > first["accuracy"]


def test_a_generated_kernel_that_fails_its_checks_is_not_trained_with(monkeypatch, capsys):
    import derive.codegen.kernel as codegen
    import derive.verification.kernel_check as kernel_check

    # a broken generator: the checks bpv kernels runs must catch it, and training must not start
    source = (ROOT / "numeric" / "kernels" / "tanh_net.py").read_text()
    monkeypatch.setattr(codegen, "generate_kernel_source", lambda spec: source)
    monkeypatch.setattr(kernel_check, "verify_kernel", lambda spec, kernel, seed=0: [
        kernel_check.KernelCheck("gradients vs numeric.backprop.gradients", 0.5, 1e-12, False)])
    code = main(["train", "--net", "2-4-3", "--act", "tanh,softmax", "--cost", "cce", "--data", "spiral",
                 "--epochs", "1"])
    out, err = capsys.readouterr()
    assert code == 1 and "fails gradients vs numeric.backprop.gradients" in err and "epoch" not in out
