"""The shipped all-widths rule is current, equals a fresh derivation, and a stale or corrupt copy is never served."""

import shutil

from derive.backprop import shipped as shipped_artefacts
from derive.backprop.general_rule import derive_default_rule, derive_general_rule
from derive.core import shipped
from derive.core.steps import Derivation

MODULE, NAME = "derive.backprop.general_rule", "general_rule"


def test_the_shipped_artefacts_are_current():
    assert shipped_artefacts.stale() == [], "stale: run python -m derive.backprop.shipped"


def test_the_shipped_rule_is_the_derived_rule():
    served = shipped.load(MODULE, NAME, Derivation)
    assert served is not None
    fresh = derive_default_rule()
    assert served.hash() == fresh.hash() and served.holds and fresh.holds
    assert [s.check.method if s.check else None for s in served] == [s.check.method if s.check else None
                                                                     for s in fresh]


def test_the_key_covers_the_sources_the_rule_imports():
    files = {p.name for p in shipped.import_closure(MODULE)}
    assert {"general_rule.py", "sums.py", "proof.py", "steps.py", "dense.py"} <= files


def test_a_tampered_or_stale_copy_is_a_miss(tmp_path, monkeypatch):
    copy = tmp_path / f"{NAME}.shipped"
    shutil.copy(shipped.artefact_path(MODULE, NAME), copy)
    monkeypatch.setattr(shipped, "artefact_path", lambda module, name: copy)
    assert shipped.load(MODULE, NAME, Derivation) is not None
    head, payload = copy.read_bytes().split(b"\n", 1)
    copy.write_bytes(head + b"\n" + payload[:-1] + bytes([payload[-1] ^ 1]))  # one bit of the payload
    assert shipped.load(MODULE, NAME, Derivation) is None
    copy.write_bytes(head.replace(b'"key": "', b'"key": "0') + b"\n" + payload)  # another key: stale
    assert shipped.load(MODULE, NAME, Derivation) is None


def test_planted_claims_are_derived_not_served():
    from derive.backprop.general_rule import delta, j, l

    assert not derive_general_rule({"BP4": delta[l, j]})["BP4"].holds  # a wrong BP4 (no a^(l-1)_k) is refuted
