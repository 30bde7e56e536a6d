"""``bpv verify`` on the nets with shared weights: lenet_tiny and char_rnn hold with every witness, torch included,
and a wrong gradient fails on the block it is in."""

from __future__ import annotations

import numpy as np
import pytest

from derive.cli.app import main
from derive.verification.api import verify_model
from derive.verification.rows import Verdict
from numeric import conv_net
from numeric.catalog import get_model

pytest.importorskip("torch")


@pytest.fixture(scope="module", params=["lenet_tiny", "char_rnn"])
def result(request):
    return verify_model(get_model(request.param), use_cache=False)


def test_every_witness_holds(result):
    assert result.ok, result.summary()
    checks = {r.check for r in result.rows}
    for expected in ("derivation", "kernel vs backprop", "kernel vs central", "kernel vs complex",
                     "backprop vs central", "backprop vs complex", "torch.autograd vs backprop"):
        assert expected in checks, checks
    torch_rows = [r for r in result.rows if r.check.startswith("torch")]
    assert {r.block for r in torch_rows} == set(result.spec.param_names())
    assert all(r.verdict is Verdict.HOLDS and r.error <= 1e-12 for r in torch_rows)
    assert result.reproduce() == f"bpv verify {result.model} --seed 0"


def test_the_result_round_trips(result):
    from derive.verification.rows import VerificationResult

    again = VerificationResult.from_dict(result.to_dict())
    assert again.spec == result.spec and [r.to_dict() for r in again.rows] == [r.to_dict() for r in result.rows]


@pytest.mark.parametrize("name, block", [("lenet_tiny", "W1"), ("char_rnn", "Whh")])
def test_a_wrong_reference_fails_on_its_block(monkeypatch, name, block):
    right = conv_net.gradients

    def wrong(spec, params, x, y, **kw):
        g = right(spec, params, x, y, **kw)
        g[block] = g[block] * 1.01
        return g

    monkeypatch.setattr(conv_net, "gradients", wrong)
    r = verify_model(get_model(name), use_cache=False, checks=("central", "complex", "torch"))
    failed = {(row.check, row.block) for row in r.failures()}
    assert failed == {("backprop vs central", block), ("backprop vs complex", block),
                      ("torch.autograd vs backprop", block)}


def test_cli_conv_flags_and_errors(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("BPV_CACHE_DIR", str(tmp_path))
    assert main(["verify", "--net", "2x5x6-c3k3s2p1-pool2-3", "--act", "tanh,softmax", "--cost", "cce",
                 "-q", "--no-torch", "--seed", "1"]) == 0
    assert main(["verify", "--rnn", "4-3-4", "--steps", "2", "-q"]) == 0
    capsys.readouterr()
    assert main(["verify", "--net", "1x8x8-c4k3-10", "--act", "relu,softmax", "--cost", "cce",
                 "--norm", "batch"]) == 2
    assert "not available for a convolutional net" in capsys.readouterr().err
    assert main(["verify", "--rnn", "5-8-5", "--net", "3-1"]) == 2
    assert "--rnn describes the whole recurrent net" in capsys.readouterr().err
    assert main(["train", "char_rnn", "--data", "spiral"]) == 2
    assert "works on dense nets" in capsys.readouterr().err


def test_stride_two_conv_with_an_unreached_column():
    """Stride 2 on an even width leaves input columns no window reads: their gradient is exactly 0 everywhere."""
    spec = get_model("lenet_tiny").__class__.build("1x5x6-c2k3s2-3", "relu,softmax", "cce")
    r = verify_model(spec, use_cache=False, checks=("central", "complex", "torch"))
    assert r.ok, r.summary()
    rng = np.random.default_rng(0)
    params = conv_net.init_params(spec, rng)
    x, y = conv_net.random_batch(spec, 2, rng)
    assert np.isfinite(conv_net.loss(spec, params, x, y))
