"""The generated kernels of the models with shared weights (lenet_tiny, char_rnn, other convolutional nets) agree with
the hand-written reference numeric.conv_net, keep float32, check their arguments, stay stable and vectorised, and the
shipped modules are byte-identical to what the generator prints."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from derive.backprop.model import ModelDerivation, derive_model
from derive.codegen import conv_kernel
from derive.codegen.kernel import generate_kernel_source
from derive.core.proof import Check
from derive.core.steps import Derivation, Role, Step
from derive.verification.kernel_check import load_kernel
from numeric import conv_net
from numeric.catalog import SHARED_CATALOG
from numeric.conv_spec import ConvNetSpec
from numeric.kernels import KERNELS, SHARED_KERNELS, char_rnn, lenet_tiny
from numeric.metrics import block_relative_error
from numeric.rnn_spec import RnnSpec

ROOT = Path(__file__).resolve().parent.parent
LENET = SHARED_CATALOG["lenet_tiny"]

#: convolutional nets past lenet_tiny: stride 2 with padding 1, a second convolution without padding, no pool, a
#: pool before any convolution, overlapping pools (np.add.at), the sum reduction, bce and a hidden dense layer
EXTRA = [
    ConvNetSpec.build("2x7x6-c3k3s2p1-c2k2-pool2-5", "tanh,relu,softmax", "cce", "sum"),
    ConvNetSpec.build("2x9x9-pool3s2-c3k2-pool2s1-4", "elu,softmax", "cce"),
    ConvNetSpec.build("1x5x5-c2k2s2-flat-4-3", "sigmoid,relu,sigmoid", "bce"),
]


def _relative(value: float, reference: float) -> float:
    return abs(value - reference) / max(abs(reference), 1e-300)


def _assert_agrees(kernel, spec, params, x, y, **h0) -> None:
    """Loss and every gradient block within 1e-12 of the reference (relative to the block), keys in KEYS order."""
    assert _relative(kernel.loss(params, x, y, **h0), conv_net.loss(spec, params, x, y, **h0)) <= 1e-12
    g, ref = kernel.gradients(params, x, y, **h0), conv_net.gradients(spec, params, x, y, **h0)
    assert list(g) == list(kernel.KEYS) == spec.param_names()
    for key in ref:
        assert g[key].shape == ref[key].shape, key
        assert block_relative_error(g[key], ref[key]) <= 1e-12, (key, block_relative_error(g[key], ref[key]))


@pytest.fixture(scope="module")
def extra_kernels():
    return [(spec, load_kernel(generate_kernel_source(spec), spec.slug)) for spec in EXTRA]


# ----- agreement with the reference -------------------------------------------------------------------------


@pytest.mark.parametrize("m", [1, 5, 17])
@pytest.mark.parametrize("labels", ["onehot", "int"])
def test_lenet_tiny_kernel_matches_the_reference(m, labels):
    rng = np.random.default_rng(m)
    params = conv_net.init_params(LENET, rng)
    x, y = conv_net.random_batch(LENET, m, rng, labels=labels)
    _assert_agrees(lenet_tiny, LENET, params, x, y)


def test_lenet_tiny_routes_tied_maxima_as_the_reference_does():
    """An all-zero image makes every pool window a tie (relu(b) is constant per channel): the first maximum."""
    rng = np.random.default_rng(4)
    params = conv_net.init_params(LENET, rng)
    x, y = np.zeros((3, 1, 8, 8)), rng.integers(0, 10, size=3)
    _assert_agrees(lenet_tiny, LENET, params, x, y)


def test_other_convolutional_nets_match_the_reference(extra_kernels):
    for spec, kernel in extra_kernels:
        rng = np.random.default_rng(len(spec.net))
        params = conv_net.init_params(spec, rng)
        for m, labels in ((4, "onehot"), (3, "int"), (1, "onehot")):
            if labels == "int" and spec.cost != "cce":
                continue
            x, y = conv_net.random_batch(spec, m, rng, labels=labels)
            _assert_agrees(kernel, spec, params, x, y)


def test_the_sum_reduction_is_m_times_the_mean(extra_kernels):
    spec, kernel = extra_kernels[0]
    assert spec.reduction == "sum"
    rng = np.random.default_rng(0)
    params = conv_net.init_params(spec, rng)
    x, y = conv_net.random_batch(spec, 6, rng)
    mean = ConvNetSpec.build(spec.net, spec.act_text, spec.cost, "mean")
    assert _relative(kernel.loss(params, x, y), 6 * conv_net.loss(mean, params, x, y)) <= 1e-12


@pytest.mark.parametrize(("net", "T", "m"), [("5-8-5", 1, 1), ("5-8-5", 4, 1), ("5-8-5", 4, 3), ("7-3-7", 9, 6),
                                             ("5-8-5", 25, 64)])
@pytest.mark.parametrize("given_h0", [False, True])
def test_char_rnn_kernel_matches_the_reference(net, T, m, given_h0):
    spec = RnnSpec.build(net, T)
    rng = np.random.default_rng(T * m)
    params = conv_net.init_params(spec, rng)
    x, y = conv_net.random_batch(spec, m, rng)
    h0 = {"h0": rng.standard_normal((spec.hidden, m))} if given_h0 else {}
    _assert_agrees(char_rnn, spec, params, x, y, **h0)
    p = char_rnn.forward(params, x, **h0)
    assert p.shape == (T, spec.vocab, m) and np.allclose(p.sum(axis=1), 1.0)


def test_forward_matches_the_reference():
    rng = np.random.default_rng(6)
    params = conv_net.init_params(LENET, rng)
    x, _ = conv_net.random_batch(LENET, 5, rng)
    assert block_relative_error(lenet_tiny.forward(params, x), conv_net.forward(LENET, params, x)) <= 1e-12
    spec = RnnSpec.build("5-8-5", 6)
    params = conv_net.init_params(spec, rng)
    x, _ = conv_net.random_batch(spec, 3, rng)
    h0 = rng.standard_normal((8, 3))
    assert block_relative_error(char_rnn.forward(params, x, h0=h0), conv_net.forward(spec, params, x, h0=h0)) <= 1e-12


@pytest.mark.parametrize("name", list(SHARED_CATALOG))
def test_the_loss_is_analytic_so_the_complex_step_gives_every_block(name):
    """Im C(theta + i h e_k) / h = dC/dtheta_k to rounding: one entry of every block, one block complex at a time."""
    spec, kernel = SHARED_CATALOG[name], SHARED_KERNELS[name]
    rng = np.random.default_rng(7)
    params = conv_net.init_params(spec, rng)
    x, y = conv_net.random_batch(spec, 4, rng)
    g = kernel.gradients(params, x, y)
    for key, value in params.items():
        bumped = value.astype(complex)
        bumped.flat[value.size // 2] += 1e-30j
        step = np.imag(kernel.loss({**params, key: bumped}, x, y)) / 1e-30
        assert abs(step - g[key].flat[value.size // 2]) <= 1e-12 * max(1.0, np.abs(g[key]).max()), key


# ----- dtypes, the update, stability ------------------------------------------------------------------------


def _float32(params):
    return {k: v.astype(np.float32) for k, v in params.items()}


def test_float32_stays_float32_end_to_end():
    rng = np.random.default_rng(1)
    params = conv_net.init_params(LENET, rng)
    x, y = conv_net.random_batch(LENET, 6, rng)
    p32, x32 = _float32(params), x.astype(np.float32)
    assert lenet_tiny.forward(p32, x32).dtype == np.float32
    g32, ref = lenet_tiny.gradients(p32, x32, y), conv_net.gradients(LENET, params, x, y)
    for key in ref:
        assert g32[key].dtype == np.float32, key
        assert block_relative_error(g32[key], ref[key]) <= 1e-4, key
    assert all(v.dtype == np.float32 for v in lenet_tiny.sgd_step(p32, x32, y, 0.1).values())
    spec = SHARED_CATALOG["char_rnn"]
    params = conv_net.init_params(spec, rng)
    x, y = conv_net.random_batch(spec, 3, rng)
    p32 = _float32(params)
    h0 = rng.standard_normal((spec.hidden, 3)).astype(np.float32)
    assert char_rnn.forward(p32, x).dtype == np.float32
    for kwargs in ({}, {"h0": h0}):
        g32, ref = char_rnn.gradients(p32, x, y, **kwargs), conv_net.gradients(spec, params, x, y, **kwargs)
        assert all(g32[key].dtype == np.float32 for key in ref)
        assert max(block_relative_error(g32[key], ref[key]) for key in ref) <= 1e-4


def test_float64_is_the_default_for_integer_inputs():
    params = {k: np.ones(s, dtype=np.int64) for k, s in LENET.param_shapes().items()}
    g = lenet_tiny.gradients(params, np.ones((2, 1, 8, 8), dtype=np.int64), np.array([0, 3]))
    assert all(v.dtype == np.float64 for v in g.values())


def test_sgd_step_is_params_minus_eta_times_the_gradient():
    rng = np.random.default_rng(2)
    params = conv_net.init_params(LENET, rng)
    x, y = conv_net.random_batch(LENET, 4, rng)
    step, g = lenet_tiny.sgd_step(params, x, y, 0.3), lenet_tiny.gradients(params, x, y)
    assert all(np.array_equal(step[k], params[k] - 0.3 * g[k]) for k in params)
    spec = SHARED_CATALOG["char_rnn"]
    params = conv_net.init_params(spec, rng)
    x, y = conv_net.random_batch(spec, 2, rng)
    h0 = rng.standard_normal((spec.hidden, 2))
    step, g = char_rnn.sgd_step(params, x, y, 0.3, h0=h0), char_rnn.gradients(params, x, y, h0=h0)
    assert all(np.array_equal(step[k], params[k] - 0.3 * g[k]) for k in params)


def test_no_overflow_or_invalid_warning_at_pre_activations_of_a_thousand():
    rng = np.random.default_rng(3)
    conv = {k: np.sign(rng.standard_normal(v.shape)) * 1e3 for k, v in conv_net.init_params(LENET, rng).items()}
    x, y = conv_net.random_batch(LENET, 4, rng)
    spec = SHARED_CATALOG["char_rnn"]
    rnn = {k: np.sign(v) * 1e3 for k, v in conv_net.init_params(spec, rng).items()}
    xs, ys = conv_net.random_batch(spec, 3, rng)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        values = [lenet_tiny.loss(conv, np.sign(x), y), char_rnn.loss(rnn, xs, ys)]
        grads = [*lenet_tiny.gradients(conv, np.sign(x), y).values(), *char_rnn.gradients(rnn, xs, ys).values()]
    assert np.all(np.isfinite(values)) and all(np.all(np.isfinite(g)) for g in grads)


# ----- bad arguments ----------------------------------------------------------------------------------------


def test_the_conv_kernel_names_what_is_wrong():
    params = conv_net.init_params(LENET, np.random.default_rng(0))
    x = np.zeros((2, 1, 8, 8))
    cases = [
        (lambda: lenet_tiny.forward([1, 2], x), r"params must be a dict with keys W1, b1, W2, b2, got list"),
        (lambda: lenet_tiny.forward({k: v for k, v in params.items() if k != "b2"}, x), r"params is missing 'b2'"),
        (lambda: lenet_tiny.forward({**params, "W1": np.zeros((4, 1, 5, 5))}, x),
         r"params\['W1'\] has shape \(4, 1, 5, 5\); expected \(4, 1, 3, 3\)"),
        (lambda: lenet_tiny.forward(params, np.zeros((2, 8, 8))), r"x has shape \(2, 8, 8\); expected \(m, C, H, W\)"),
        (lambda: lenet_tiny.forward(params, np.array([["a"]])), r"x must be a numeric array"),
        (lambda: lenet_tiny.loss(params, x, np.array([0, 10])), r"class labels outside 0\.\.9"),
        (lambda: lenet_tiny.gradients(params, x, np.zeros((2, 9))), r"y has shape \(2, 9\); expected \(m, n_L\)"),
        (lambda: lenet_tiny.gradients(params, x, np.array([0, 1, 2])), r"expected 2 integer class labels"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


def test_the_rnn_kernel_names_what_is_wrong():
    spec = SHARED_CATALOG["char_rnn"]
    params = conv_net.init_params(spec, np.random.default_rng(0))
    x = np.zeros((4, 2), dtype=np.int64)
    cases = [
        (lambda: char_rnn.loss({**params, "Whh": np.zeros((8, 5))}, x, x),
         r"params\['Whh'\] has shape \(8, 5\); expected \(8, 8\) with n_h = 8, V = 5"),
        (lambda: char_rnn.loss(params, x.astype(float), x),
         r"x has shape \(4, 2\) and dtype float64; expected integer"),
        (lambda: char_rnn.loss(params, x + 5, x), r"x holds tokens outside 0\.\.4"),
        (lambda: char_rnn.loss(params, x, x[:3]), r"y has shape \(3, 2\); expected the shape of x, \(4, 2\)"),
        (lambda: char_rnn.gradients(params, x, x, h0=np.zeros((8, 3))), r"h0 has shape \(8, 3\); expected \(n_h, m\)"),
        (lambda: char_rnn.forward(params, np.zeros((0, 2), dtype=int)), r"both >= 1"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


# ----- generation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SHARED_CATALOG))
def test_the_shipped_kernels_are_byte_identical_to_the_generated_ones(name):
    shipped = (ROOT / "numeric" / "kernels" / f"{name}.py").read_text(encoding="utf-8")
    assert KERNELS[name] is SHARED_KERNELS[name]
    assert generate_kernel_source(SHARED_CATALOG[name]) == shipped, f"regenerate numeric/kernels/{name}.py"
    assert f"Derivation:  {derive_model(SHARED_CATALOG[name]).hash()}" in shipped
    shipped.encode("ascii")
    assert max(len(line) for line in shipped.splitlines()) <= 120


def test_the_header_lists_every_checked_step_and_the_forms_of_each_section():
    text = (ROOT / "numeric" / "kernels" / "lenet_tiny.py").read_text(encoding="utf-8")
    for part in derive_model(LENET).parts:
        for step in part.steps:
            if not step.kind.unchecked:
                assert f"  {step.label}: {step.verdict()}, " in text, step.label
    for form in ("conv.dK.correlate", "conv.db.sum", "conv.dX.full", "pool.dX.route", "relu.prime_kernel",
                 "lse.shift", "cce.softmax_fused"):
        assert form in text
    rnn = (ROOT / "numeric" / "kernels" / "char_rnn.py").read_text(encoding="utf-8")
    assert all(f"rnn.{d}" in rnn for d in ("dz", "dh", "da", "dWhh", "dWxh", "dWhy", "dbh", "dby"))


def test_generation_refuses_a_derivation_that_does_not_hold(monkeypatch):
    planted = Derivation("planted", role=Role.MODEL)
    planted.add(Step("conv.planted", sp.Symbol("u"), sp.Symbol("v"), "claim", "a planted failure",
                     Check(False, "planted")))
    real = derive_model(LENET)
    monkeypatch.setattr(conv_kernel, "derive_model", lambda spec: ModelDerivation(spec, [*real.parts, planted]))
    with pytest.raises(ValueError, match=r"does not hold: planted: conv\.planted"):
        conv_kernel.generate_conv_kernel_source(LENET)


def test_a_cited_step_must_exist_in_the_derivation():
    with pytest.raises(ValueError, match=r"cites step conv\.dX\.flipped, which the derivation does not have"):
        conv_kernel.check_cited("# conv.dX.flipped", derive_model(LENET).parts)


def _is_loop(node: ast.AST) -> bool:
    """A for or while statement, or a comprehension over anything but a literal tuple (the parameters' casts)."""
    return isinstance(node, ast.For | ast.While) or (isinstance(node, ast.comprehension)
                                                      and not isinstance(node.iter, ast.Tuple))


def _loops(path: Path) -> dict[str, int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {f.name: sum(_is_loop(n) for n in ast.walk(f)) for f in tree.body if isinstance(f, ast.FunctionDef)}


def test_the_kernels_are_vectorised_and_import_numpy_only():
    conv = _loops(ROOT / "numeric" / "kernels" / "lenet_tiny.py")
    for name in ("_im2col", "_conv", "_conv_dK", "_conv_db", "_conv_dX", "_pool", "_pool_dX", "forward", "loss",
                 "gradients"):
        assert conv[name] == 0, name
    rnn = _loops(ROOT / "numeric" / "kernels" / "char_rnn.py")
    assert rnn["_unroll"] == 1 and rnn["gradients"] == 1 and rnn["loss"] == 0  # one loop over time, each way
    for module in ("lenet_tiny", "char_rnn"):
        tree = ast.parse((ROOT / "numeric" / "kernels" / f"{module}.py").read_text(encoding="utf-8"))
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert imported <= {"numpy", "__future__"}, imported
