"""Authenticated cache entries: an HMAC-SHA256 with a per-user key, checked before anything is parsed.

A cache folder is writable by whoever can write to the user's cache directory, and both of bpv's cache formats can
be turned against it: a derivation entry is a pickle (unpickling runs code) and a verify entry is JSON whose
``"fails"`` can be edited to ``"holds"``. So every entry is written as one header line and the payload,

    {"format": "bpv-signed-1", "hmac": "<hex>"}\\n<payload bytes>

and read back only when the HMAC of the payload under the user's key matches (:func:`hmac.compare_digest`); only
then is the payload unpickled or parsed. Without the key nobody can write an entry bpv will accept.

The key is 32 random bytes in ``$BPV_KEY_FILE`` or ``~/.config/bpv/cache.key`` — outside the cache folder, created
on first use with mode 0600 (``O_EXCL``: two processes racing to create it agree on one). A key file that another
user can read or write, or that is not a regular file of 32 bytes, is not used: caching is then off for the process
(entries are neither read nor written) and one warning says why. Losing the key only costs a recomputation.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import secrets
import stat
import sys
from pathlib import Path

__all__ = ["FORMAT", "KEY_BYTES", "key_path", "sign", "unsign"]

FORMAT = "bpv-signed-1"
KEY_BYTES = 32


def key_path() -> Path:
    """``$BPV_KEY_FILE``, else ``$XDG_CONFIG_HOME/bpv/cache.key`` (``~/.config/bpv/cache.key``)."""
    env = os.environ.get("BPV_KEY_FILE")
    if env:
        return Path(env)
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "bpv" / "cache.key"


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(KEY_BYTES))


def _read(path: Path) -> bytes:
    """The key, or ValueError/OSError saying why this file cannot serve as one."""
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path} is not a regular file")
    if info.st_mode & 0o077:
        raise ValueError(f"{path} is readable or writable by others (mode {stat.S_IMODE(info.st_mode):o}); "
                         f"chmod 600 {path} or delete it")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise ValueError(f"{path} belongs to another user")
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path} does not hold a {KEY_BYTES}-byte key; delete it and bpv makes a new one")
    return key


@functools.cache
def _key(path: str) -> bytes | None:
    """The user's key (created on first use), or None after one warning when it cannot be had."""
    p = Path(path)
    try:
        if not p.exists():
            _create(p)
        return _read(p)
    except (OSError, ValueError) as exc:
        print(f"warning: bpv caches are off: no usable key ({exc})", file=sys.stderr)
        return None


def _mac(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def sign(payload: bytes) -> bytes | None:
    """The entry to write for ``payload`` (header line + payload); None when there is no usable key."""
    key = _key(str(key_path()))
    if key is None:
        return None
    head = json.dumps({"format": FORMAT, "hmac": _mac(key, payload)}).encode()
    return head + b"\n" + payload


def unsign(entry: bytes) -> bytes | None:
    """The payload of an entry whose HMAC checks under the user's key; None for anything else (unsigned, forged,
    truncated, another format, no key). Never parses the payload."""
    key = _key(str(key_path()))
    if key is None:
        return None
    head, sep, payload = entry.partition(b"\n")
    if not sep or len(head) > 200:
        return None
    try:
        meta = json.loads(head)
    except ValueError:
        return None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not isinstance(meta.get("hmac"), str):
        return None
    return payload if hmac.compare_digest(meta["hmac"], _mac(key, payload)) else None
