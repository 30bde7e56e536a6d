"""Kernel source generation: printed from proven forms, deterministic, ASCII, NumPy only, shipped kernels current."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from derive.backprop.batch import derive_batch_forms
from derive.codegen import KernelPrinter, derivation_hash, generate_kernel_source, piece_source
from derive.codegen.elementwise import inlined
from derive.codegen.model_lines import matrix_names, overwrites_input
from derive.codegen.validation import fill_template, validation_source
from derive.functions.stable import Piece, derive_stable_forms, stable_activation, z
from numeric.catalog import CATALOG
from numeric.spec import ActSpec, Layout, ModelSpec

KERNELS = Path(__file__).resolve().parent.parent / "numeric" / "kernels"


def test_the_same_model_gives_the_same_bytes():
    spec = CATALOG["binary_classifier"]
    assert generate_kernel_source(spec) == generate_kernel_source(spec)


def test_the_source_is_ascii_numpy_only_and_made_of_matrix_products():
    src = generate_kernel_source(CATALOG["mnist_nielsen"])
    src.encode("ascii")
    assert "import numpy as np" in src and "sympy" not in src.split('"""', 2)[2]
    assert 'Z1 = np.matmul(W1, A0, out=ws["Z", 1])\n    Z1 += b1\n' in src  # the bias added in place
    assert 'E1 = np.matmul(W2.T, E2, out=ws["E", 1])\n    E1 *= sigmoid_prime(Z1, A1, out=ws["S", 1])\n' in src
    assert "np.where" not in src and "np.select" not in src


def test_the_header_records_family_versions_hash_and_methods_but_no_timings():
    spec = CATALOG["regression"]
    src = generate_kernel_source(spec)
    header = src.split('"""')[1]
    assert f"SymPy {sp.__version__}" in header and "bpv 0.1.0" in header
    assert derivation_hash(spec) in header
    assert "sigmoid,sigmoid,relu,identity" in header and "mse" in header
    assert "batch.Delta1: holds" in header and "sigmoid.prime_kernel: holds" in header
    assert not re.search(r"\d+(\.\d+)? ?(ms|s)\b", header), "no measured times in the header"


def test_rows_layout_and_sum_reduction_print_their_own_forms():
    spec = ModelSpec.build("4-5-3", "relu,identity", "squared", reduction="sum", layout="rows", bias=False)
    src = generate_kernel_source(spec)
    assert 'Z1 = np.matmul(A0, W1, out=ws["Z", 1])' in src and '"W1": A0.T @ E1' in src
    assert "/ m" not in src.split("def gradients")[1] and "/= m" not in src.split("def gradients")[1]


def test_a_piecewise_is_printed_as_masks_on_the_real_part():
    fwd, _, _ = stable_activation(ActSpec.parse("softplus"))
    src = piece_source(fwd)
    assert "pos = z.real > 0" in src and "out[neg] = np.log1p(np.exp(z[neg]))" in src


def test_polynomial_branches_are_blended_with_the_mask_in_one_pass():
    fwd, prime, _ = stable_activation(ActSpec.parse("leaky_relu:0.1"))
    src = piece_source(fwd)
    assert "mask = z.real > 0\n" in src and "np.multiply(mask, z, out=t1)\n    t1 *= 9/10\n    out += t1\n" in src
    assert "np.multiply(mask, 9/10, out=out)\n    out += 1/10\n" in piece_source(prime)
    namespace = {"np": np}
    exec(src + piece_source(prime), namespace)  # our own generated code, not user text
    zz = np.array([-2.0, 0.0, 3.0], dtype=np.float32)
    for f, expected in ((namespace["leaky_relu_0_1"](zz), [-0.2, 0.0, 3.0]),
                        (namespace["leaky_relu_0_1_prime"](zz, None), [0.1, 0.1, 1.0])):
        assert f.dtype == np.float32 and np.allclose(f, expected, rtol=1e-6)


def test_relu_prime_convention_prints_as_a_mask():
    assert KernelPrinter().doprint(sp.Heaviside(z, 0)) == "(z.real > 0) * 1.0"
    with pytest.raises(ValueError):
        KernelPrinter().doprint(sp.Heaviside(z))


def test_relu_prime_is_copied_from_a_bool_comparison():
    _, prime, _ = stable_activation(ActSpec.parse("relu"))
    assert "np.copyto(out, z.real > 0)" in piece_source(prime)  # np.greater writing floats is a casting loop


def test_a_hidden_a_overwrites_z_only_where_nothing_reads_z_later():
    # sigmoid' and tanh' are computed from a; relu' reads z, so relu's A^l keeps an array of its own
    assert overwrites_input(ActSpec.parse("sigmoid")) and overwrites_input(ActSpec.parse("tanh"))
    assert not overwrites_input(ActSpec.parse("relu")) and not overwrites_input(ActSpec.parse("identity"))
    src = generate_kernel_source(ModelSpec.build("4-3-3-2", "sigmoid,relu,softmax", "cce"))
    assert 'A1 = sigmoid(Z1, out=ws["Z", 1]' in src and 'A2 = relu(Z2, out=ws["A", 2])' in src
    assert 'A3 = softmax(Z3, out=ws["A", 3])' in src  # the output layer: Z^L is read by the cost


def test_the_printed_sigmoid_derivative_is_stable_where_the_raw_one_is_nan():
    raw = sp.diff(1 / (1 + sp.exp(-z)), z)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        assert np.isnan(sp.lambdify(z, raw, "numpy")(np.array([-1000.0]))[0])
    namespace = {"np": np}
    for piece in stable_activation(ActSpec.parse("sigmoid"))[:2]:
        exec(piece_source(piece), namespace)  # our own generated code, not user text
    zz = np.array([-1000.0, 0.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is the right answer
        value = namespace["sigmoid_prime"](zz, namespace["sigmoid"](zz))
    assert np.array_equal(value, [0.0, 0.25, 0.0])


def test_a_piece_that_is_not_split_on_z_positive_is_refused():
    piece = Piece("bad", (z,), sp.Piecewise((z, z > 1), (0, True)), "bad")
    with pytest.raises(ValueError, match="masks"):
        piece_source(piece)


@pytest.mark.parametrize("name", list(CATALOG))
def test_shipped_kernels_are_what_the_generator_prints_today(name):
    path = KERNELS / f"{name}.py"
    shipped = path.read_text(encoding="ascii")
    version = re.search(r"with SymPy (\S+) ", shipped).group(1)
    if version != sp.__version__:
        pytest.skip(f"shipped kernel printed with SymPy {version}, installed {sp.__version__} (CI pins it)")
    assert generate_kernel_source(CATALOG[name]) == shipped, (
        f"{path} is stale: regenerate with bpv kernels {name} -o numeric/kernels")


def test_a_chain_of_scalings_and_one_function_is_evaluated_in_one_buffer():
    fwd, _, _ = stable_activation(ActSpec.parse("sigmoid"))
    src = piece_source(fwd)
    assert "np.multiply(z, 1/2, out=out)\n    np.tanh(out, out=out)\n    out *= 1/2\n    out += 1/2" in src
    namespace = {"np": np}
    exec(src, namespace)  # our own generated code, not user text
    zz = np.linspace(-5, 5, 11)
    assert np.allclose(namespace["sigmoid"](zz), 1 / (1 + np.exp(-zz)), rtol=1e-15, atol=1e-16)


def test_the_printer_prints_the_batch_forms_with_one_method_per_node():
    spec = CATALOG["mnist_nielsen"]
    forms = derive_batch_forms(spec)
    printer = KernelPrinter(matrices=matrix_names(spec, forms, derive_stable_forms(spec)))
    N = forms.names
    assert printer.doprint(forms.layers[1].Z) == "W1 @ A0 + b1"  # _print_MatAdd, _print_MatMul (b 1^T broadcasts)
    assert printer.doprint(forms.layers[1].E) == "(W2.T @ E2) * sigmoid_prime(Z1, A1)"  # Hadamard, Transpose, Apply
    assert printer.doprint(forms.layers[2].code_b) == "E2 @ ws.ones"  # E 1: a sum over the batch, as E times ones
    assert printer.doprint(N.W(2)) == spec.layers[1].W  # names from the layer, not parsed from "W^{2}"
    # without a model the matrix nodes print as SymPy's NumPy printer prints them
    W, A = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("A", 3, 4)
    assert KernelPrinter().doprint(W * A) == "(W).dot(A)"


def test_identity_pieces_are_inlined_by_their_form_not_their_name():
    fwd, prime, _ = stable_activation(ActSpec.parse("identity"))
    assert inlined(fwd) and inlined(prime)
    assert not any(inlined(p) for p in stable_activation(ActSpec.parse("sigmoid"))[:2])
    spec = ModelSpec.build("3-4-2", "tanh,identity", "quadratic")
    src = generate_kernel_source(spec)
    assert "A2 = Z2" in src and "def identity" not in src and "identity_prime" not in src


@pytest.mark.parametrize("layout", list(Layout))
@pytest.mark.parametrize(("cost", "out", "bias"), [("cce", "softmax", True), ("mse", "identity", False)])
def test_the_validation_template_is_filled_completely_for_every_layout_and_section(layout, cost, out, bias):
    spec = ModelSpec.build("3-4-2", f"tanh,{out}", cost, layout=layout.value, bias=bias)
    src = validation_source(spec)
    assert "TPL_" not in src and "# <" not in src
    compile(src, "validation", "exec")
    assert ("one_hot" in src) == (cost == "cce") and ("params['b{l}'] has shape" in src) == bias
    assert f"({layout} layout)" in src and str(layout.batch("n_L", "m")).replace("'", "") in src


def test_an_unknown_template_placeholder_is_an_error():
    with pytest.raises(KeyError, match="TPL_NOPE"):
        fill_template("x = TPL_NOPE\n", Layout.COLUMNS, {}, {})
    assert fill_template("s = TPL_MATRIX(a, f(b, c))\n", Layout.ROWS, {}, {}) == "s = (f(b, c), a)\n"
