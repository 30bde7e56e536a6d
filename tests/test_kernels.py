"""The generated kernels agree with the hand-written backprop, complex step and finite differences; `bpv kernels`."""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from derive.cli.app import main
from derive.codegen import kernel as codegen
from derive.codegen.kernel import generate_kernel_source
from derive.verification.kernel_check import kernel_instance, load_kernel, verify_kernel
from numeric import backprop
from numeric.catalog import CATALOG
from numeric.instances import init_params, random_batch
from numeric.kernels import KERNELS
from numeric.metrics import block_relative_error
from numeric.spec import ModelSpec

ROOT = Path(__file__).resolve().parent.parent

#: Families beyond the catalog: the other layout and reduction, no biases, every activation.
EXTRA = [
    ModelSpec.build("3-5-4", "sigmoid,softmax", "cce", layout="rows"),
    ModelSpec.build("4-6-3-1", "tanh,elu,sigmoid", "bce", reduction="sum", layout="rows"),
    ModelSpec.build("3-4-3-2", "leaky_relu:0.1,softplus,sigmoid", "quadratic", bias=False),
    ModelSpec.build("4-5", "softmax", "bce", layout="rows", bias=False),  # softmax without cce: J^T dC/da
]


@pytest.fixture(scope="module")
def extra_kernels():
    return [(spec, load_kernel(generate_kernel_source(spec), spec.slug)) for spec in EXTRA]


@pytest.mark.parametrize("name", list(CATALOG))
def test_each_shipped_kernel_passes_backprop_complex_step_and_finite_differences(name):
    verdicts = verify_kernel(CATALOG[name], KERNELS[name], seed=1)
    assert all(v.holds for v in verdicts), [(v.check, v.error, v.detail) for v in verdicts if not v.holds]


def test_other_layouts_reductions_and_activations_pass_too(extra_kernels):
    for spec, kernel in extra_kernels:
        verdicts = verify_kernel(spec, kernel, seed=2)
        assert all(v.holds for v in verdicts), (spec.slug, [(v.check, v.error) for v in verdicts if not v.holds])


@pytest.mark.parametrize("widths", [(7, 3, 2), (1, 9, 4), (20, 11, 5)])
@pytest.mark.parametrize("name", ["softmax_classifier", "mnist_nielsen"])
def test_one_kernel_serves_every_width_of_its_family(name, widths):
    spec = CATALOG[name].with_sizes(widths)
    rng = np.random.default_rng(sum(widths))
    params = init_params(spec, rng)
    x, y = random_batch(spec, 6, rng)
    g, ref = KERNELS[name].gradients(params, x, y), backprop.gradients(spec, params, x, y)
    assert list(g) == spec.param_names()
    for key in ref:
        assert block_relative_error(g[key], ref[key]) <= 1e-12, key


def test_rows_kernels_agree_at_several_widths(extra_kernels):
    spec, kernel = extra_kernels[1]
    for widths in [(2, 3, 3, 1), (9, 2, 7, 1)]:
        small, params, x, y = kernel_instance(spec.with_sizes(widths), seed=5, width=100)
        g, ref = kernel.gradients(params, x, y), backprop.gradients(small, params, x, y)
        assert max(block_relative_error(g[k], ref[k]) for k in ref) <= 1e-12


def test_cce_takes_integer_labels_or_one_hot():
    spec = CATALOG["softmax_classifier"].with_sizes([4, 5, 3])
    rng = np.random.default_rng(0)
    params = init_params(spec, rng)
    x, labels = random_batch(spec, 7, rng, labels="int")
    one_hot = np.eye(3)[labels].T
    k = KERNELS["softmax_classifier"]
    assert k.loss(params, x, labels) == k.loss(params, x, one_hot)
    g_int, g_hot = k.gradients(params, x, labels), k.gradients(params, x, one_hot)
    assert all(np.array_equal(g_int[key], g_hot[key]) for key in g_hot)


def test_bad_arguments_raise_value_errors_that_name_the_parameter_and_shape():
    k = KERNELS["mnist_nielsen"]
    spec = CATALOG["mnist_nielsen"].with_sizes([4, 3, 2])
    params = init_params(spec, np.random.default_rng(0))
    x = np.zeros((4, 5))
    with pytest.raises(ValueError, match=r"params\['W2'\] has shape \(2, 4\); expected \(n_2, n_1\) with n_1 = 3"):
        k.forward({**params, "W2": np.zeros((2, 4))}, x)
    with pytest.raises(ValueError, match=r"params is missing 'b1'"):
        k.forward({key: v for key, v in params.items() if key != "b1"}, x)
    with pytest.raises(ValueError, match=r"x has shape \(3, 5\); expected \(n_0, m\) with n_0 = 4"):
        k.forward(params, np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"y has shape \(2, 4\); expected \(n_L, m\) = \(2, 5\)"):
        k.gradients(params, x, np.zeros((2, 4)))


def test_the_kernels_are_stable_at_z_of_a_thousand_without_warnings():
    for name in ("binary_classifier", "softmax_classifier", "tanh_net", "mnist_nielsen"):
        spec = CATALOG[name].with_sizes([min(n, 4) for n in CATALOG[name].sizes])
        rng = np.random.default_rng(3)
        params = {k: np.sign(rng.standard_normal(v.shape)) * 1e3 for k, v in init_params(spec, rng).items()}
        x, y = random_batch(spec, 5, rng)
        x = np.sign(x)
        with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
            warnings.simplefilter("error")
            value = KERNELS[name].loss(params, x, y)
            grads = KERNELS[name].gradients(params, x, y)
        assert np.isfinite(value) and all(np.all(np.isfinite(g)) for g in grads.values()), name


def test_a_kernel_imports_and_runs_where_sympy_cannot_be_imported():
    script = (
        "import sys; sys.modules['sympy'] = None\n"
        "import numpy as np\n"
        "from numeric.kernels import softmax_classifier as k\n"
        "rng = np.random.default_rng(0)\n"
        "p = {'W1': rng.standard_normal((5, 4)), 'b1': np.zeros((5, 1)), 'W2': rng.standard_normal((3, 5)),"
        " 'b2': np.zeros((3, 1))}\n"
        "g = k.gradients(p, rng.standard_normal((4, 6)), np.array([0, 1, 2, 0, 1, 2]))\n"
        "assert 'sympy' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "print(sorted(g))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={"OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['W1', 'W2', 'b1', 'b2']"


def test_bpv_kernels_writes_a_verified_kernel_and_prints_the_import_line(tmp_path, capsys):
    assert main(["kernels", "binary_classifier", "-o", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert (tmp_path / "binary_classifier.py").read_text() == generate_kernel_source(CATALOG["binary_classifier"])
    assert "import binary_classifier" in text and "FAIL" not in text


def test_bpv_kernels_refuses_to_write_a_kernel_that_fails(tmp_path, capsys, monkeypatch):
    real = codegen.generate_kernel_source

    def averaged_twice(spec):
        source = real(spec)
        assert "    E2 /= m\n" in source
        return source.replace("    E2 /= m\n", "    E2 /= m\n    E2 /= m\n")

    monkeypatch.setattr(codegen, "generate_kernel_source", averaged_twice)
    assert main(["kernels", "binary_classifier", "-o", str(tmp_path)]) == 1
    assert not (tmp_path / "binary_classifier.py").exists()
    assert "FAIL gradients vs numeric.backprop.gradients" in capsys.readouterr().out


def test_bpv_kernels_rejects_bad_input_with_exit_2(tmp_path):
    assert main(["kernels", "no_such_model", "-o", str(tmp_path)]) == 2
