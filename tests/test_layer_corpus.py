"""check_layer / check_loss on the layer zoo: every correct layer passes, every planted bug is found where it is.

The zoo and its bugs live in tests/layer_zoo.py (the layers themselves in tests/zoo_layers.py). For each bug the
check must call exactly the expected rows wrong, every other row ok, and, where the bug is a pure constant factor, a
transpose or the L2 pattern, say so in the diagnosis; in both ``full`` and ``auto`` mode.
"""


import layer_zoo as zoo
import numpy as np
import pytest

from numeric import BadInput, check_layer, check_loss

MODES = ("full", "auto")

#: planted bugs the checker misses today: bugs of numeric's checker (reported), not relaxed expectations
KNOWN_MISSES: dict[str, str] = {}  # bug name -> why the checker misses it (an xfail until fixed)


def _bugs() -> list:
    return [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[n])) if n in KNOWN_MISSES
            else n for n in zoo.BUGS]


def _check(case, impl, mode: str):
    if case.is_loss:
        return check_loss(impl, case.make_inputs(), case.wrt, mode=mode, seed=0)
    return check_layer(case.forward, impl, case.make_inputs(), case.wrt, mode=mode, seed=0)


def test_the_corpus_is_big_and_consistent():
    assert len(zoo.BUGS) >= 40
    for name, bug in zoo.BUGS.items():
        assert bug.case in zoo.ZOO, name
        rows = zoo.ZOO[bug.case].rows
        assert bug.wrong and set(bug.wrong) <= set(rows), name
        assert {row for row, _ in bug.phrases} <= set(bug.wrong), name


@pytest.mark.parametrize("name", list(zoo.BUGS))
def test_every_bug_changes_exactly_its_rows(name):
    """Independent of the checker: the buggy backward differs from the correct one on the expected rows only."""
    bug = zoo.BUGS[name]
    case = zoo.ZOO[bug.case]
    right = zoo.gradients(case, case.impl(), case.make_inputs(), np.random.default_rng(0))
    wrong = zoo.gradients(case, case.impl(bug.bug), case.make_inputs(), np.random.default_rng(0))

    def same(a, b) -> bool:
        return np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=1e-9, atol=1e-12)

    assert {n for n in case.rows if not same(right[n], wrong[n])} == set(bug.wrong)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_every_correct_layer_passes(name, mode):
    case = zoo.ZOO[name]
    result = _check(case, case.impl(), mode)
    got = {r.name: str(r.verdict) for r in result.rows}
    assert got == {n: "kink" if n in case.kinks else "ok" for n in case.rows}, str(result)
    assert result.ok, str(result)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", _bugs())
def test_every_planted_bug_is_found_in_the_right_rows(name, mode):
    bug = zoo.BUGS[name]
    case = zoo.ZOO[bug.case]
    result = _check(case, case.impl(bug.bug), mode)
    assert not result.ok, str(result)
    assert {r.name for r in result.rows} == set(case.rows), str(result)
    assert {r.name for r in result.rows if r.verdict == "wrong"} == set(bug.wrong), str(result)
    assert all(r.verdict == "ok" for r in result.rows if r.name not in bug.wrong), str(result)
    for row, phrase in bug.phrases:
        assert phrase in result.row(row).diagnosis, str(result)


@pytest.mark.parametrize("mode", MODES)
def test_a_dropout_drawing_a_new_mask_per_call_is_bad_input(mode):
    case = zoo.FRESH_MASK
    with pytest.raises(BadInput, match="different outputs"):
        check_layer(case.forward, case.backward, case.make_inputs(), mode=mode)
