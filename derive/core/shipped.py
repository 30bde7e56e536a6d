"""Artefacts derived once and shipped with bpv: only results that do not depend on a model (the all-widths rule).

An artefact is a file ``<name>.shipped`` next to the module that produces it: one JSON header line, then the
pickled object. The header records the artefact's **key** and the SHA-256 of the payload. The key is computed the
way the derivation cache keys its entries (:mod:`derive.core.cache`): the SymPy, Python and bpv versions and the
source of every ``derive``/``numeric`` module the producing module can reach through its imports (found by reading
the import statements, never by a list kept by hand). :func:`load` serves the artefact only when the key it
computes now equals the recorded one and the payload's digest matches; anything else (edited mathematics, another
SymPy, a corrupt file) is a miss and the caller derives afresh, as it would without the artefact. So a stale
artefact costs time, never correctness; ``python -m derive.backprop.shipped --check`` (and a test) fail on one,
and ``python -m derive.backprop.shipped`` writes it again.

The payload is a pickle, and a pickle can run code, so the header's own digest (which whoever edits the file can
recompute) is not what makes it trusted: :func:`load` unpickles a payload only when its SHA-256 is the one recorded
in the Python module :mod:`derive.shipped_digests` (written by the same command). Replacing the artefact then needs
an edit of bpv's code, the trust it ships with; a planted or edited file is never unpickled.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import pickle
import re
import sys
from pathlib import Path
from typing import Any

from derive.core.files import atomic_write_bytes

__all__ = ["DIGESTS_MODULE", "artefact_path", "header", "import_closure", "load", "shipped_key", "store",
           "trusted_digests"]

#: the module that records the digest of every shipped payload (code: as trusted as the rest of bpv)
DIGESTS_MODULE = "derive.shipped_digests"

_PACKAGES = ("derive", "numeric")


@functools.cache
def _package_dir(package: str) -> Path | None:
    found = importlib.util.find_spec(package)  # a top-level package: found without importing anything
    return Path(found.origin).parent if found is not None and found.origin else None


def _module_file(name: str) -> Path | None:
    """The source file of a ``derive``/``numeric`` module, or None (not ours, or not a module: an attribute).

    Found by path, never by importing (an import would load NumPy and SymPy just to compute a key).
    """
    top, *rest = name.split(".")
    base = _package_dir(top) if top in _PACKAGES else None
    if base is None:
        return None
    for path in (base.joinpath(*rest).with_suffix(".py") if rest else None, base.joinpath(*rest, "__init__.py")):
        if path is not None and path.is_file():
            return path
    return None


#: ``import a.b, c`` and ``from a.b import (c, d)``, at any indentation (function bodies included)
_IMPORT = re.compile(r"^[ \t]*(?:import[ \t]+([\w., \t]+)|from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*))",
                     re.MULTILINE)


def _imports(path: Path) -> set[str]:
    """Every module an import statement of a source file names (function bodies included), and its parents.

    Read with a regular expression rather than ``ast`` (5x faster; a name too many only widens the key).
    """
    names: set[str] = set()
    for plain, module, listed in _IMPORT.findall(path.read_text(encoding="utf-8")):
        if plain:
            names.update(part.split()[0] for part in plain.split(",") if part.strip())
        else:
            names.add(module)
            names.update(f"{module}.{part.split()[0]}" for part in listed.strip("()").replace("\n", ",").split(",")
                         if part.split() and not part.strip().startswith("#"))
    return {".".join(n.split(".")[:i]) for n in names for i in range(1, n.count(".") + 2)}


@functools.cache
def import_closure(module: str) -> tuple[Path, ...]:
    """The source files of ``module`` and of every ``derive``/``numeric`` module it reaches through imports."""
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen[name] = path
        todo.extend(_imports(path) - seen.keys())
    return tuple(sorted(set(seen.values())))


@functools.cache
def shipped_key(module: str) -> str:
    """The key an artefact produced by ``module`` is valid for (module doc)."""
    from derive import __version__

    h = hashlib.sha256()
    h.update(f"sympy {importlib.metadata.version('sympy')}|python {sys.version_info[:2]}|bpv {__version__}".encode())
    base = _package_dir("derive").parent
    for path in import_closure(module):
        h.update(str(path.relative_to(base)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def artefact_path(module: str, name: str) -> Path:
    """Where the artefact ``name`` of ``module`` lives: beside the module's source."""
    return Path(importlib.util.find_spec(module).origin).with_name(f"{name}.shipped")


def store(module: str, name: str, obj: Any) -> Path:
    """Write the artefact (header line + pickle) atomically."""
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    header = {"artefact": name, "module": module, "key": shipped_key(module),
              "payload_sha256": hashlib.sha256(payload).hexdigest()}
    return atomic_write_bytes(artefact_path(module, name), json.dumps(header).encode() + b"\n" + payload)


def trusted_digests() -> dict[str, str]:
    """``{"module:name": payload sha256}`` from :data:`DIGESTS_MODULE` (empty when it is missing)."""
    import importlib

    try:
        found = importlib.import_module(DIGESTS_MODULE)
    except ImportError:
        return {}
    digests = getattr(found, "DIGESTS", {})
    return dict(digests) if isinstance(digests, dict) else {}


def header(module: str, name: str) -> dict | None:
    """The artefact's header, or None when it is missing or unreadable."""
    try:
        with artefact_path(module, name).open("rb") as fh:
            return json.loads(fh.readline())
    except (OSError, ValueError):
        return None


def load(module: str, name: str, expected_type: type | None = None) -> Any | None:
    """The artefact when it is current and intact (module doc), else None (never raises)."""
    try:
        data = artefact_path(module, name).read_bytes()
        line, payload = data.split(b"\n", 1)
        head = json.loads(line)
    except (OSError, ValueError):
        return None
    digest = hashlib.sha256(payload).hexdigest()
    if head.get("key") != shipped_key(module) or head.get("payload_sha256") != digest:
        return None
    if trusted_digests().get(f"{module}:{name}") != digest:  # not the payload bpv's code vouches for
        return None
    try:
        obj = pickle.loads(payload)
    except Exception:  # a payload that does not unpickle is a miss, like a corrupt cache entry
        return None
    return obj if expected_type is None or isinstance(obj, expected_type) else None
