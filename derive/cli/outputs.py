"""Every output location a command was given, validated before any work starts.

A command that derives for a minute and then finds that ``--json`` names a folder, or that ``-o`` lies under a
file or in a read-only place, has wasted the minute; so :func:`validate_outputs` looks at the flags every command
shares (``--json FILE``, ``-o/--output DIR``, ``--pdf FILE``, ``--save FILE``) as soon as the arguments are parsed and
raises :class:`~numeric.errors.BadInput` (exit 2, nothing written) for a location that cannot be written.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from numeric.errors import BadInput

__all__ = ["DIR_FLAGS", "FILE_FLAGS", "validate_outputs", "writable_dir", "writable_file"]

#: argparse destination -> the flag as the user typed it, for file outputs and folder outputs
FILE_FLAGS = {"json": "--json", "pdf": "--pdf", "save": "--save", "csv": "--csv"}
#: file flags whose file comes with a companion written beside it (``--pdf x.pdf`` writes ``x.tex`` too)
COMPANIONS = {"pdf": (".tex",)}
DIR_FLAGS = {"output": "-o"}


def _existing_ancestor(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path(".")


def _creatable(path: Path, flag: str) -> None:
    """``path`` does not exist: its first existing ancestor must be a folder bpv may create entries in."""
    ancestor = _existing_ancestor(path.absolute())
    if not ancestor.is_dir():
        raise BadInput(f"{flag} {path}: {ancestor} is a file, not a folder; give a path in a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise BadInput(f"{flag} {path}: the folder {ancestor} is not writable; give a path you can write to")


def writable_file(path: str | os.PathLike, flag: str) -> None:
    """A file output: not a folder or a special file, and writable (or creatable)."""
    p = Path(path)
    if p.is_dir():
        raise BadInput(f"{flag} {p}: is a folder; give a file name, e.g. {p / 'out'}")
    if p.exists():
        if not p.is_file():
            raise BadInput(f"{flag} {p}: not a regular file (a device or a pipe); give a file name")
        if not os.access(p.parent if str(p.parent) else Path("."), os.W_OK | os.X_OK):
            raise BadInput(f"{flag} {p}: its folder is not writable (bpv writes a temporary file beside it)")
        return
    _creatable(p, flag)


def writable_dir(path: str | os.PathLike, flag: str) -> None:
    """A folder output: an existing writable folder, or one that can be created."""
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise BadInput(f"{flag} {p}: not a folder; give a folder to write into")
        if not os.access(p, os.W_OK | os.X_OK):
            raise BadInput(f"{flag} {p}: the folder is not writable; give a folder you can write to")
        return
    _creatable(p, flag)


def validate_outputs(args: argparse.Namespace) -> None:
    """Check every output flag ``args`` has (``--json -`` is stdout and needs no check): writable, and not an
    existing file bpv did not write unless ``--force`` (:mod:`derive.core.manifest`)."""
    from derive.core.manifest import refuse_overwrite

    force = bool(getattr(args, "force", False))
    for dest, flag in FILE_FLAGS.items():
        value = getattr(args, dest, None)
        if isinstance(value, str) and value and value != "-":
            writable_file(value, flag)
            paths = [Path(value), *(Path(value).with_suffix(ext) for ext in COMPANIONS.get(dest, ()))]
            refuse_overwrite(paths, force, flag)
    for dest, flag in DIR_FLAGS.items():
        value = getattr(args, dest, None)
        if isinstance(value, str) and value:
            writable_dir(value, flag)
