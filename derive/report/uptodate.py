"""Whether a report is up to date: a key of its inputs, kept beside its outputs, decides without rebuilding anything.

A re-run of ``bpv report`` with nothing changed should rebuild nothing. Comparing a regenerated ``.tex`` with the
old one would already cost the derivation, the verification and the typesetting; instead each report's **inputs**
are hashed, cheaply and before any of that work (:func:`model_key`):

- the model spec (every field, the name included: it titles the report), the seed, the title, the ``--history``
  run, whether PDFs are compiled, and the template (when not the shipped one);
- the bpv version and :func:`derive.core.cache.source_digest`, a digest of every source, JSON and TeX file of the
  ``derive`` and ``numeric`` packages, so all of the code and the shipped templates;
- the versions of SymPy, NumPy and torch (read from the installed package metadata, not by importing them).

Why this key is a sound proxy for the outputs: the derivation is a deterministic function of the spec, the SymPy
version and the code (the derivation cache is keyed on exactly that, :func:`derive.core.cache.cache_key`); the
verification and the plot data are deterministic functions of the spec, the seed, the code and the numeric
libraries (the verification cache is keyed likewise); the typesetting is a function of those results, the title,
the history, the template and the code. So equal keys mean equal ``.tex`` files, and the PDFs compiled from them
(the TeX installation is outside the key: upgrading it does not rebuild; ``--no-cache`` does).

The key is kept in a sidecar ``<slug>.inputs.json`` (written through :func:`derive.core.files.write_output`, so it
is in the folder's manifest) together with the SHA-256 of every output the build wrote. A report is up to date when
the sidecar's key equals the current one **and** every recorded output still has its recorded digest, which is the
manifest's "written by bpv and unchanged since" (:func:`derive.core.manifest.may_overwrite`) made strict: an output
that was deleted or edited is rebuilt. A sidecar is written only after every file was written and nothing crashed
(no :attr:`Rendered.errors`); it also keeps the report's verdicts (the derivation holds, the verification passes,
what is missing), which are as deterministic as the report, so a skipped report gives the same warnings and the
same exit status as its build did. The catalog book's key is the keys of its chapters, in order, plus its own
options (:func:`book_key`).

This module does not build anything (:mod:`derive.report.build` does) and computes no derivative.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["SUFFIX", "book_key", "is_up_to_date", "model_key", "record", "recorded_status", "sidecar"]

#: the sidecar of ``<name>.pdf`` is ``<name>.inputs.json``
SUFFIX = ".inputs.json"


def _version(package: str) -> str:
    """The installed version of ``package`` (from its metadata: importing torch would cost seconds)."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def _environment() -> dict[str, str]:
    """What every report depends on besides its own options: the code and the libraries computing with it."""
    from derive import __version__
    from derive.core.cache import source_digest

    env = {"bpv": __version__, "source": source_digest()}
    env.update({p: _version(p) for p in ("sympy", "numpy", "torch")})
    return env


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def model_key(spec: Any, *, seed: int, title: str | None, history: dict | None, pdf: bool,
              template: str | None) -> str:
    """The key of one model's report: a digest of everything its outputs are a function of (module docstring)."""
    inputs = {
        "spec": spec.to_dict(), "kind": getattr(spec, "kind", "dense"), "seed": seed,
        "title": title or spec.title, "history": history, "pdf": pdf,
        "template": None if template is None else hashlib.sha256(template.encode("utf-8")).hexdigest(),
        "environment": _environment(),
    }
    return _digest(inputs)


def book_key(chapter_keys: Sequence[str], *, pdf: bool, template: str | None) -> str:
    """The key of the catalog book: its chapters' keys in order (each already holds the code), and its options."""
    tpl = None if template is None else hashlib.sha256(template.encode("utf-8")).hexdigest()
    return _digest({"chapters": list(chapter_keys), "pdf": pdf, "template": tpl, "environment": _environment()})


def sidecar(output: str | os.PathLike) -> Path:
    """The sidecar holding the key of the report whose main output is ``output`` (``x.pdf`` -> ``x.inputs.json``)."""
    p = Path(output)
    return p.with_name(p.stem + SUFFIX)


def _file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _read(side: Path) -> dict:
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_up_to_date(output: str | os.PathLike, key: str) -> bool:
    """Whether the outputs recorded beside ``output`` were built from ``key`` and are unchanged since (never raises)."""
    side = sidecar(output)
    data = _read(side)
    recorded, files = data.get("key"), data.get("outputs")
    if recorded != key or not isinstance(files, dict) or not files:
        return False
    return all(_file_digest(side.parent / str(name)) == digest for name, digest in files.items())


def recorded_status(output: str | os.PathLike) -> dict:
    """The verdicts kept beside ``output`` by :func:`record` (empty when there are none)."""
    status = _read(sidecar(output)).get("status", {})
    return status if isinstance(status, dict) else {}


def record(output: str | os.PathLike, key: str, written: Sequence[str | os.PathLike],
           status: dict | None = None) -> None:
    """After a build that wrote every file, keep ``key``, the digest of each file in ``written`` and the report's
    verdicts ``status`` (JSON: holds, verified, missing) beside ``output``."""
    from derive.core.files import write_output

    side = sidecar(output)
    files = {}
    for path in written:
        digest = _file_digest(Path(path))
        if digest is None:  # a file that is not there cannot be vouched for: no sidecar, rebuild next time
            return
        files[Path(path).name] = digest
    text = json.dumps({"key": key, "outputs": files, "status": status or {}}, indent=1, sort_keys=True)
    write_output(side, text + "\n")
