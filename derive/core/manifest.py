"""Which files in a folder bpv wrote: a command may overwrite those, and refuses any other existing file.

Every user-facing output (reports, kernels, JSON, trained parameters, graph PDFs) is written through
:func:`derive.core.files.write_output`, which records the file's name and the SHA-256 of what was written in the
folder's ``.bpv-manifest.json``. Before any work, a command asks :func:`refuse_overwrite` about the files it is
going to write: an existing file may be replaced only when the manifest lists it **with its current content** (so a
file bpv wrote and the user then edited is protected too) or when it starts with the header of a generated kernel;
anything else is refused with :class:`~numeric.errors.BadInput` unless ``--force`` is given.

The manifest is updated under an exclusive ``flock`` so that concurrent commands writing into one folder do not lose
each other's entries. A manifest that cannot be read is treated as empty (the safe side: nothing may be overwritten).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from numeric.errors import BadInput

__all__ = ["MANIFEST", "may_overwrite", "record_written", "refuse_overwrite"]

MANIFEST = ".bpv-manifest.json"

#: what generated files of bpv begin with, for files written before the manifest existed (the shipped kernels,
#: reports); a PDF of bpv's says so in its document information (the template sets pdfauthor)
_HEADERS = (b'"""Generated NumPy kernel for ', b"% bpv report template")
_PDF_CREATOR = b"/Author (bpv "


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(folder: Path) -> dict[str, str]:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = data.get("files", {})
        return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}
    except (OSError, ValueError, AttributeError):
        return {}


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    import fcntl

    # lock the folder itself: the manifest is replaced atomically (a lock on it would not hold), a lock file litters
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def record_written(path: Path, data: bytes) -> None:
    """Note in the folder's manifest that bpv wrote ``data`` to ``path`` (best effort: never fails the write)."""
    from derive.core.files import atomic_write_text

    folder = path.parent
    try:
        with _locked(folder):
            files = _read(folder)
            files[path.name] = _digest(data)
            atomic_write_text(folder / MANIFEST, json.dumps({"files": files}, indent=1, sort_keys=True) + "\n")
    except OSError:
        pass


def may_overwrite(path: str | os.PathLike) -> bool:
    """Whether bpv may replace ``path``: absent, written by bpv and unchanged since, or a generated kernel."""
    p = Path(path)
    if not p.exists():
        return True
    if not p.is_file():
        return False
    try:
        data = p.read_bytes()
    except OSError:
        return False
    if _read(p.parent).get(p.name) == _digest(data):
        return True
    return data.startswith(_HEADERS) or (data.startswith(b"%PDF") and _PDF_CREATOR in data)


def refuse_overwrite(paths: Iterable[str | os.PathLike], force: bool, flag: str = "") -> None:
    """BadInput for the first existing file of ``paths`` that bpv did not write, unless ``force``."""
    if force:
        return
    for path in paths:
        if not may_overwrite(path):
            where = f"{flag} {path}" if flag else str(path)
            raise BadInput(f"{where}: the file exists and was not written by bpv (or was edited since); give "
                           "another name, or --force to overwrite it")
