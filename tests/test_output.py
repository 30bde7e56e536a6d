"""Atomic writes leave either the old file or the new one, never a half-written one."""

import json
import os

import pytest

from derive.core.files import atomic_write_text, write_json


def test_atomic_write_replaces_and_uses_ordinary_permissions(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]

def test_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")

    from derive.core import files as output

    with pytest.raises(TypeError):
        output.atomic_write_bytes(target, object())  # not bytes: the write fails midway
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]

def test_write_json_to_stdout_and_file(tmp_path, capsys):
    write_json("-", {"a": 1})
    assert json.loads(capsys.readouterr().out) == {"a": 1}
    write_json(str(tmp_path / "r.json"), {"b": [1, 2]})
    assert json.loads((tmp_path / "r.json").read_text()) == {"b": [1, 2]}
