"""Caches cannot run code or fake a verdict: every entry is authenticated with the user's key before it is parsed."""

from __future__ import annotations

import json
import os
import pickle
import stat

import pytest

from derive.backprop.model import ModelDerivation, derive_model
from derive.cli.app import main
from derive.core import cache, shipped, signing
from numeric.catalog import get_model

SPEC = get_model("binary_classifier")


class _Planted:
    """Unpickling this writes a file: proof that a planted pickle ran."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """A cache folder and a key of this test's own."""
    monkeypatch.setenv("BPV_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BPV_KEY_FILE", str(tmp_path / "key" / "cache.key"))
    signing._key.cache_clear()
    yield tmp_path
    signing._key.cache_clear()


def test_the_key_is_private_and_outside_the_cache(fresh):
    assert signing.sign(b"x") is not None
    key = fresh / "key" / "cache.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.stat().st_size == signing.KEY_BYTES
    assert not str(key).startswith(str(cache.cache_dir()))


def test_round_trip_and_forgery(fresh):
    entry = signing.sign(b"payload")
    assert signing.unsign(entry) == b"payload"
    head, _, payload = entry.partition(b"\n")
    assert signing.unsign(head + b"\n" + payload + b"!") is None  # edited payload
    forged = json.dumps({"format": signing.FORMAT, "hmac": "0" * 64}).encode() + b"\n" + payload
    assert signing.unsign(forged) is None
    assert signing.unsign(b"payload") is None  # unsigned


def test_a_planted_pickle_never_runs(fresh, capsys):
    marker = fresh / "ran"
    path = cache.cache_path(SPEC.hash())
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps(_Planted(str(marker))))
    assert main(["derive", "binary_classifier"]) == 0
    assert not marker.exists()
    assert "fails authentication" in capsys.readouterr().err
    assert cache.load(SPEC.hash(), ModelDerivation) is not None  # recomputed and stored signed


def test_a_signed_entry_is_a_hit(fresh):
    first = derive_model(SPEC)
    again = derive_model(SPEC)
    assert not first.from_cache and again.from_cache and again.hash() == first.hash()


def test_an_edited_verdict_is_recomputed(fresh, capsys):
    argv = ["verify", "binary_classifier", "--no-torch", "--quiet", "--json", str(fresh / "out.json")]
    assert main(argv) == 0
    entries = list((fresh / "cache" / "verify").glob("*.json"))
    assert len(entries) == 1
    text = entries[0].read_bytes().replace(b'"holds"', b'"fails"', 1)
    entries[0].write_bytes(text)
    capsys.readouterr()
    assert main(argv) == 0  # recomputed: the edit neither fails nor passes a model
    assert "fails authentication" in capsys.readouterr().err
    assert json.loads((fresh / "out.json").read_text())["models"][0]["cached"] is False


def test_a_key_others_can_read_turns_caching_off(fresh, capsys):
    key = fresh / "key" / "cache.key"
    key.parent.mkdir()
    key.write_bytes(os.urandom(signing.KEY_BYTES))
    key.chmod(0o644)
    assert signing.sign(b"x") is None
    assert "caches are off" in capsys.readouterr().err
    assert cache.store(SPEC.hash(), {"a": 1}) is None and cache.load(SPEC.hash()) is None


def test_a_shipped_payload_runs_only_when_the_code_vouches_for_it(tmp_path, monkeypatch):
    module, name = "derive.backprop.general_rule", "general_rule"
    path = shipped.artefact_path(module, name)
    head = shipped.header(module, name)
    marker = tmp_path / "ran"
    payload = pickle.dumps(_Planted(str(marker)))
    import hashlib

    head = {**head, "payload_sha256": hashlib.sha256(payload).hexdigest()}  # a self-consistent header
    planted = tmp_path / "general_rule.shipped"
    planted.write_bytes(json.dumps(head).encode() + b"\n" + payload)
    monkeypatch.setattr(shipped, "artefact_path", lambda m, n: planted)
    assert shipped.load(module, name) is None and not marker.exists()
    assert path.exists()  # the real artefact is untouched
