"""On-disk cache of model derivations, so that a second ``bpv derive`` of the same model is fast.

An entry is keyed by the model spec's hash, the SymPy version, the bpv version and a fingerprint of the source of
the derive modules that produce a derivation (so editing the mathematics never serves a stale entry). Entries live
in ``$BPV_CACHE_DIR`` or ``~/.cache/bpv`` (folder ``derive/``), are written atomically (temporary file + rename) and
are pickles of :class:`~derive.backprop.model.ModelDerivation` objects **signed** with the user's key
(:mod:`derive.core.signing`): an entry is unpickled only after its HMAC checks, so a pickle planted in the cache
folder never runs. An entry that fails authentication is recomputed with a warning; a corrupt, truncated,
unreadable or mismatching one is a silent miss, never an error.

This module does not decide what is derived; see :mod:`derive.backprop.model`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import sympy as sp

from derive.core.files import atomic_write_bytes
from derive.core.signing import sign, unsign

__all__ = ["cache_dir", "cache_key", "cache_path", "load", "read_signed", "source_digest", "store", "write_signed"]


def cache_dir() -> Path:
    """``$BPV_CACHE_DIR`` if set, else ``~/.cache/bpv``."""
    env = os.environ.get("BPV_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "bpv"


@functools.cache
def source_digest() -> str:
    """Digest of every source file of the ``derive`` and ``numeric`` packages: the one list a cache depends on.

    Cache keys include it, so editing any code that could have produced an entry never serves that entry again.
    Hashing the whole tree (well under a megabyte, a few milliseconds) beats keeping a list of the modules that
    matter by hand, which was forgotten whenever a module was added.
    """
    h = hashlib.sha256()
    for package in ("derive", "numeric"):
        found = importlib.util.find_spec(package)
        if found is None or not found.origin:
            continue
        base = Path(found.origin).parent
        for path in sorted(base.rglob("*")):
            if path.suffix in (".py", ".json", ".tex") and "__pycache__" not in path.parts:
                h.update(str(path.relative_to(base)).encode())
                h.update(path.read_bytes())
    return h.hexdigest()


def cache_key(spec_hash: str) -> str:
    from derive import __version__

    return f"{spec_hash}-sympy{sp.__version__}-bpv{__version__}-{source_digest()[:12]}"


def cache_path(spec_hash: str) -> Path:
    return cache_dir() / "derive" / f"{cache_key(spec_hash)}.pickle"


def read_signed(path: Path) -> bytes | None:
    """The payload of the signed entry at ``path``; None when absent or unreadable (silently) or when it fails
    authentication (with a warning: someone or something wrote it without the user's key)."""
    try:
        entry = path.read_bytes()
    except OSError:
        return None
    payload = unsign(entry)
    if payload is None:
        print(f"warning: ignoring the cache entry {path}: it fails authentication (not written by bpv with this "
              "user's key); recomputing", file=sys.stderr)
    return payload


def write_signed(path: Path, payload: bytes) -> Path | None:
    """Write ``payload`` signed, atomically; None when it cannot be (no key, a read-only cache)."""
    entry = sign(payload)
    if entry is None:
        return None
    try:
        return atomic_write_bytes(path, entry)
    except OSError:
        return None


def load(spec_hash: str, expected_type: type | None = None) -> Any | None:
    """The cached object, or None when absent, unauthentic, unreadable, corrupt or of the wrong type (never raises)."""
    payload = read_signed(cache_path(spec_hash))
    if payload is None:
        return None
    try:
        obj = pickle.loads(payload)  # authenticated above: written by bpv with this user's key
    except Exception:  # any failure to read is a miss: recompute
        return None
    if expected_type is not None and not isinstance(obj, expected_type):
        return None
    return obj


def store(spec_hash: str, obj: Any) -> Path | None:
    """Write ``obj`` signed and atomically; returns the path, or None when it cannot be written (a read-only home,
    no key, ...)."""
    try:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # caching is an optimisation: failing to cache must not fail
        return None
    return write_signed(cache_path(spec_hash), data)
