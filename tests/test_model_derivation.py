"""derive_model: every part in order, a stable hash, an on-disk cache that survives corruption."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import derive.backprop.model as mdmod
from derive.backprop.model import ModelDerivation, derive_model, fixed_width_cap
from derive.core import cache
from numeric.spec import ModelSpec

SPEC = ModelSpec.build("2-3-2", "sigmoid", "quadratic")


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BPV_CACHE_DIR", str(tmp_path / "cache"))


def test_parts_are_in_order_and_all_hold():
    md = derive_model(SPEC, use_cache=False)
    titles = [p.title for p in md.parts]
    assert titles[0].startswith("sigmoid derivative") and titles[1].startswith("quadratic cost")
    assert "output error" in titles[2] and titles[3].startswith("BP1-BP4 for every width")
    assert titles[4].startswith("BP1-BP4 at widths 2-3-2") and titles[5].startswith("batch forms")
    assert "end to end" in titles[6]
    assert md.holds and md.failures() == [] and md.errors == []
    json.dumps(md.to_dict())


def test_hash_is_stable_across_processes():
    here = derive_model(ModelSpec.build("2-1", "sigmoid", "bce"), use_cache=False).hash()
    code = ("from derive.backprop.model import derive_model; from numeric.spec import ModelSpec; "
            "print(derive_model(ModelSpec.build('2-1', 'sigmoid', 'bce'), use_cache=False).hash())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ}, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == here


def test_second_call_comes_from_the_cache_with_the_same_hash():
    first = derive_model(SPEC)
    assert cache.cache_path(SPEC.hash()).exists()
    second = derive_model(SPEC)
    assert second.from_cache and not first.from_cache and second.hash() == first.hash()


def test_a_corrupt_cache_entry_is_recomputed(tmp_path):
    path = cache.cache_path(SPEC.hash())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a pickle")
    md = derive_model(SPEC)
    assert isinstance(md, ModelDerivation) and not md.from_cache and md.holds
    assert cache.load(SPEC.hash(), ModelDerivation) is not None  # rewritten


def test_a_part_that_raises_is_reported_not_holding(monkeypatch):
    def broken(spec):
        raise RuntimeError("planted")

    monkeypatch.setattr(mdmod, "batch_forms_part", broken)
    md = derive_model(SPEC, use_cache=True)
    assert not md.holds and "planted" in md.errors[0]
    assert not cache.cache_path(SPEC.hash()).exists()  # failed derivations are not cached


MUST_SHOW = {
    "2-3-2 sigmoid/quadratic": SPEC,
    "3-30-10-3-1 sigmoid,sigmoid,relu,identity/mse": ModelSpec.build("3-30-10-3-1", "sigmoid,sigmoid,relu,identity",
                                                                     "mse"),
    "4-5-3 relu,softmax/cce": ModelSpec.build("4-5-3", "relu,softmax", "cce"),
    "4-3-1 sigmoid/bce": ModelSpec.build("4-3-1", "sigmoid", "bce"),
    "3-4-2 no-bias rows sum relu": ModelSpec.build("3-4-2", "relu,identity", "squared", "sum", "rows", bias=False),
}


@pytest.mark.parametrize("name", list(MUST_SHOW))
def test_every_part_holds_for_the_must_show_models(name):
    # full_limit=0: the end-to-end sample of the model itself is tested in test_end_to_end (the twin runs here)
    md = derive_model(MUST_SHOW[name], use_cache=False, full_limit=0)
    assert md.holds, [(t, s.label, s.check and s.check.short()) for t, s in md.failures()]
    assert len(md.parts) >= 7 and not md.errors


def test_fixed_width_cap_depends_on_depth():
    assert fixed_width_cap(SPEC) == 3 and fixed_width_cap(ModelSpec.build("2-8-8-1", "tanh", "bce")) == 3
    assert fixed_width_cap(ModelSpec.build("3-30-10-3-1", "sigmoid", "mse")) == 2
