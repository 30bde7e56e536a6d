"""Writing results: atomic file writes and JSON output (``--json FILE`` or ``-`` for stdout).

Nothing is ever half-written: every file goes to a temporary file in the same folder and is moved into place with
``os.replace`` only when complete.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "atomic_write_text", "write_json", "write_output"]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        # mkstemp makes the file 0600; give it the permissions an ordinary write would (0666 less the umask)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_output(path: str | os.PathLike, data: bytes | str) -> Path:
    """A user-facing output: written atomically and recorded in its folder's manifest (:mod:`derive.core.manifest`),
    so that a later run may replace it and no other file."""
    from derive.core.manifest import record_written

    raw = data.encode("utf-8") if isinstance(data, str) else data
    written = atomic_write_bytes(path, raw)
    record_written(written, raw)
    return written


def write_json(target: str, obj: Any) -> None:
    """Write ``obj`` as JSON to ``target`` (a path, or ``-`` for stdout)."""
    text = json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n"
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_output(target, text)
