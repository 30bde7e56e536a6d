"""On-disk cache of model derivations, so that a second ``bpv derive`` of the same model is fast.

An entry is keyed by the model spec's hash, the SymPy version, the bpv version and a fingerprint of the source of
the derive modules that produce a derivation (so editing the mathematics never serves a stale entry). Entries live
in ``$BPV_CACHE_DIR`` or ``~/.cache/bpv`` (folder ``derive/``), are written atomically (temporary file + rename) and
are pickles of :class:`~derive.model_derivation.ModelDerivation` objects: the cache folder must be as trusted as the
rest of the user's home. A corrupt, truncated, unreadable or mismatching entry is treated as a miss and recomputed,
never an error.

This module does not decide what is derived; see :mod:`derive.model_derivation`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sympy as sp

from derive.output import atomic_write_bytes

__all__ = ["SOURCES", "cache_dir", "cache_key", "cache_path", "load", "source_digest", "store"]

#: modules whose source changes the derivation (their fingerprint is part of the key)
SOURCES = ("activations", "costs", "output_delta", "model_functions", "general_rule", "fixed_width", "batch",
           "compose", "end_to_end", "model_derivation", "proof", "steps", "symbols")


def cache_dir() -> Path:
    """``$BPV_CACHE_DIR`` if set, else ``~/.cache/bpv``."""
    env = os.environ.get("BPV_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "bpv"


def source_digest(modules: Iterable[str]) -> str:
    """Digest of the source of the named modules (``derive.costs``, ``numeric.backprop``, ...).

    Cache keys include it so that editing the code that produced an entry never serves that entry again.
    A module that cannot be found contributes its name, so adding it later also changes the digest.
    """
    h = hashlib.sha256()
    for name in modules:
        try:
            found = importlib.util.find_spec(name)
            origin = found.origin if found else None
            h.update(Path(origin).read_bytes() if origin else f"{name}: missing".encode())
        except (ImportError, OSError, ValueError):
            h.update(f"{name}: missing".encode())
    return h.hexdigest()


def cache_key(spec_hash: str) -> str:
    from derive import __version__

    return f"{spec_hash}-sympy{sp.__version__}-bpv{__version__}-{source_digest(f'derive.{m}' for m in SOURCES)[:12]}"


def cache_path(spec_hash: str) -> Path:
    return cache_dir() / "derive" / f"{cache_key(spec_hash)}.pickle"


def load(spec_hash: str, expected_type: type | None = None) -> Any | None:
    """The cached object, or None when absent, unreadable, corrupt or of the wrong type (never raises)."""
    path = cache_path(spec_hash)
    try:
        with path.open("rb") as fh:
            obj = pickle.load(fh)
    except Exception:  # any failure to read is a miss: recompute
        return None
    if expected_type is not None and not isinstance(obj, expected_type):
        return None
    return obj


def store(spec_hash: str, obj: Any) -> Path | None:
    """Write ``obj`` atomically; returns the path, or None when it cannot be written (a read-only home, ...)."""
    try:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        return atomic_write_bytes(cache_path(spec_hash), data)
    except Exception:  # caching is an optimisation: failing to cache must not fail
        return None
