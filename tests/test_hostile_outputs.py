"""What hostile input must not do besides failing cleanly: overwrite what bpv did not write, run or fake a cached
result (tests/test_signed_cache.py), take m = 0 samples, or end a document check in an internal error."""

from __future__ import annotations

import numpy as np
import pytest

from derive.cli.app import main
from numeric import backprop, conv_net
from numeric.catalog import get_model
from numeric.errors import BadInput
from numeric.instances import init_params
from numeric.kernels import KERNELS


def test_a_command_may_replace_its_own_output_but_not_an_edited_one(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["graph", "x*y", "--at", "x=1,y=2", "--pdf", "g.pdf"]
    assert main(argv) == 0
    assert main(argv) == 0  # its own files: replaced
    (tmp_path / "g.tex").write_text((tmp_path / "g.tex").read_text() + "% my edit\n")
    capsys.readouterr()
    assert main(argv) == 2
    assert "g.tex: the file exists" in capsys.readouterr().err
    assert (tmp_path / "g.tex").read_text().endswith("% my edit\n")  # nothing of the user's overwritten
    assert main([*argv, "--force"]) == 0


def test_json_output_is_replaced_only_when_bpv_wrote_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["derive", "binary_classifier", "--functions-only", "--json", "d.json"]) == 0
    assert main(["derive", "binary_classifier", "--functions-only", "--json", "d.json"]) == 0
    (tmp_path / "mine.json").write_text("{}\n")
    assert main(["derive", "binary_classifier", "--functions-only", "--json", "mine.json"]) == 2
    assert (tmp_path / "mine.json").read_text() == "{}\n"


@pytest.mark.parametrize("name", ["binary_classifier", "bn_net", "dropout_net", "lenet_tiny"])
def test_an_empty_batch_is_refused_by_the_kernels_and_the_references(name):
    spec = get_model(name)
    rng = np.random.default_rng(0)
    kernel = KERNELS[name]
    if name == "lenet_tiny":
        params = conv_net.init_params(spec, rng)
        x, y = np.zeros((0, 1, 8, 8)), np.zeros((0, 10))
        with pytest.raises(BadInput, match="m = 0"):
            conv_net.gradients(spec, params, x, y)
    else:
        params = init_params(spec, rng)
        x, y = np.zeros(spec.x_shape(0)), np.zeros(spec.y_shape(0))
        with pytest.raises(BadInput, match="m = 0"):
            backprop.gradients(spec, params, x, y)
    with pytest.raises(ValueError, match=r"m = 0|m >= 1|no samples|at least one"):
        kernel.gradients(params, x, y)


def test_an_overflowing_equation_is_not_checkable_with_a_reason(tmp_path, capsys):
    doc = tmp_path / "e.md"
    doc.write_text("<!-- bpv: net=3-1 act=sigmoid cost=bce -->\n"
                   "$$ \\frac{\\partial C}{\\partial z} = e^{e^{e^{e^{e^{e^{e^{z}}}}}}} $$\n")
    assert main(["check", str(doc)]) == 0
    out = capsys.readouterr().out
    assert "too large to evaluate" in out and "internal error" not in out


def test_numbers_that_identify_a_model_keep_every_digit():
    from numeric.spec import ModelSpec

    a = ModelSpec.build("3-2-1", "leaky_relu:0.123456789,sigmoid", "bce", l2=0.123456789)
    b = ModelSpec.build("3-2-1", "leaky_relu:0.1234571,sigmoid", "bce", l2=0.1234571)
    assert a.hash() != b.hash() and a.slug != b.slug and a.family_key() != b.family_key()
    assert "leaky_relu:0.123456789" in a.cli_args() and "--l2 0.123456789" in a.cli_args()
    assert ModelSpec.build("3-2-1", "leaky_relu:0.01", "bce", l2=5.0).cli_args().count("0.01") == 1
