"""The report past the dense layer: the blocks in the model section, the card, and the Training section."""

import json

import pytest

from derive.report.blocks import blocks_card, blocks_tex
from derive.report.training import load_history, training_tex
from numeric.catalog import CATALOG
from numeric.errors import BadInput
from numeric.spec import ModelSpec


def test_blocks_are_printed_from_their_forms():
    tex = blocks_tex(CATALOG["bn_net"], "subsection")
    assert "Past the dense layer" in tex and r"\mu^{l}" in tex and r"(\sigma^{l})^{2}" in tex
    assert r"\hat{z}^{l}" in tex and r"\epsilon = 10^{-5}" in tex
    assert "over the $m$ samples" in tex
    assert "over the $n_l$ units" in blocks_tex(CATALOG["layernorm_net"], "subsection")
    assert r"\tilde{a}^{l}" in blocks_tex(CATALOG["dropout_net"], "subsection")
    l2 = blocks_tex(CATALOG["nielsen_ch3"], "subsection")
    assert r"\lambda = 5" in l2 and "50000" in l2
    assert blocks_tex(CATALOG["tanh_net"], "subsection") == ""
    assert blocks_card(CATALOG["tanh_net"]) is None
    assert "keep probability 0.5" in blocks_card(CATALOG["dropout_net"])


def _run(tmp_path, spec, history):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"spec": spec.to_dict(), "data": "spiral", "seed": 0, "eta": 0.5,
                                "batch_size": 32, "epochs": len(history) - 1, "history": history}))
    return path


def test_history_becomes_a_training_section(tmp_path):
    spec = ModelSpec.build("2-100-3", "relu,softmax", "cce")
    rows = [{"epoch": e, "loss": 1.0 / (e + 1), "accuracy": min(1.0, 0.3 + e / 10), "seconds": e * 0.01}
            for e in range(11)]
    history = load_history(_run(tmp_path, spec, rows), spec)

    class Data:
        def __init__(self):
            self.figures = {}

        def figure(self, tikz):
            self.figures[len(self.figures)] = tikz
            return f"<<FIG:{len(self.figures)}>>"

    data = Data()
    data.history = history
    tex = training_tex(data, "section")
    assert "Training" in tex and "after epoch 10" in tex.lower() and "training accuracy 100.0" in tex
    assert len(data.figures) == 2 and all("addplot" in f for f in data.figures.values())


def test_bad_histories_are_refused(tmp_path):
    spec = ModelSpec.build("2-100-3", "relu,softmax", "cce")
    with pytest.raises(BadInput, match="no such file"):
        load_history(tmp_path / "missing.json", spec)
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(BadInput, match="not a bpv train JSON file"):
        load_history(tmp_path / "junk.json", spec)
    other = ModelSpec.build("2-50-3", "relu,softmax", "cce")
    with pytest.raises(BadInput, match="is a run of 2-50-3"):
        load_history(_run(tmp_path, other, [{"epoch": 0, "loss": 1.0, "accuracy": None}]), spec)
    with pytest.raises(BadInput, match=r"history\[0\].loss must be a finite number"):
        load_history(_run(tmp_path, spec, [{"epoch": 0, "loss": "NaN", "accuracy": None}]), spec)
