"""The verify cache: one JSON ``result`` per (model, seed, checks, code), under ``$BPV_CACHE_DIR/verify``.

The key covers the derivation hash and the seed, the checks, the bpv version and the digest of every source file
(:func:`derive.core.cache.source_digest`), the SymPy, NumPy and torch versions and an injected kernel's source.
Entries are signed with the user's key (:mod:`derive.core.signing`): an edited verdict fails authentication and is
recomputed with a warning. An entry that is unreadable or breaks the schema is ignored (and recomputed by the
caller).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from derive.verification.rows import VerificationResult
from derive.verification.schema import load_schema, schema_errors
from derive.verification.torch_oracle import torch_available
from numeric.spec import ModelSpec

__all__ = ["bpv_version", "cache_dir", "cache_key", "cache_load", "cache_path", "cache_store", "kernel_key"]


def cache_dir() -> Path:
    """``$BPV_CACHE_DIR/verify`` or ``~/.cache/bpv/verify`` (the root is derive.core.cache's)."""
    from derive.core.cache import cache_dir as root

    return root() / "verify"


def bpv_version() -> str:
    from derive import __version__

    return __version__


def _package_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "none"


def kernel_key(checks: Sequence[str], kernel_source: str | None) -> str:
    """What part of the key the kernel contributes: nothing, the generated kernel, or an injected one's digest."""
    if "kernel" not in checks:
        return ""
    return "generated" if kernel_source is None else "injected:" + hashlib.sha256(kernel_source.encode()).hexdigest()


def cache_key(spec: ModelSpec, seed: int, derivation_hash: str, kernel: str, checks: Sequence[str]) -> str:
    """The derivation hash and the seed, plus what else changes the rows: the bpv version and code, SymPy and
    NumPy versions, an injected kernel's source, the checks, and whether torch is there."""
    from derive.core.cache import source_digest

    key = json.dumps({"spec": spec.hash(), "name": spec.name, "seed": seed, "derivation": derivation_hash,
                      "kernel": kernel, "bpv": bpv_version(), "code": source_digest(),
                      "sympy": _package_version("sympy"), "numpy": np.__version__, "checks": sorted(checks),
                      "torch": _package_version("torch") if torch_available() else "none"}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def cache_path(key: str, cache_root: str | os.PathLike | None = None) -> Path:
    """The entry of ``key``, under ``cache_root/verify`` when given, else under :func:`cache_dir`."""
    folder = Path(cache_root) / "verify" if cache_root is not None else cache_dir()
    return folder / f"{key}.json"


def cache_load(path: Path) -> VerificationResult | None:
    """The cached result at ``path``; None when absent, unreadable or not valid against the schema."""
    from derive.core.cache import read_signed

    payload = read_signed(path)
    if payload is None:
        return None
    try:
        data = json.loads(payload.decode("utf-8"))
        if schema_errors(data, load_schema()["$defs"]["result"]):
            return None
        return VerificationResult.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cache_store(path: Path, result: VerificationResult) -> None:
    from derive.core.cache import write_signed

    if write_signed(path, (json.dumps(result.to_dict(), indent=1) + "\n").encode("utf-8")) is None:
        # a read-only cache (or no key) must not fail a verification
        print(f"warning: could not write the verify cache {path}", file=sys.stderr)
