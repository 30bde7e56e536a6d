"""The JSON schema of ``bpv verify --json`` (``schemas/verify.schema.json``), its validator, and the document.

The schema is versioned (:data:`SCHEMA_VERSION`, the document's ``schema_version``): version 2 added
``schema_version`` and the spec's ``layers``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from derive.verification import sampling
from derive.verification.rows import BOUNDS, Verdict, VerificationResult

__all__ = ["SCHEMA_PATH", "SCHEMA_VERSION", "load_schema", "report_dict", "schema_errors"]

SCHEMA_PATH = Path(__file__).with_name("schemas") / "verify.schema.json"
#: the version of the document's layout; raise it when a field changes meaning or a required field is added
SCHEMA_VERSION = 2


def load_schema() -> dict:
    """The documented JSON schema of ``bpv verify --json`` (``derive/verification/schemas/verify.schema.json``)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _scalar_errors(value: Any, schema: dict, where: str) -> list[str]:
    """``enum``, ``const``, ``minimum``, ``pattern``."""
    errors = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: expected {schema['const']!r}, got {value!r}")
    if "minimum" in schema and _TYPES["number"](value) and value < schema["minimum"]:
        errors.append(f"{where}: {value} < minimum {schema['minimum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    return errors


def _object_errors(value: dict, schema: dict, root: dict, where: str) -> list[str]:
    """``properties``, ``required``, ``additionalProperties`` (false or a schema)."""
    props = schema.get("properties", {})
    errors = [f"{where}: missing required key {key!r}" for key in schema.get("required", []) if key not in value]
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in props:
            errors += schema_errors(item, props[key], root=root, where=f"{where}.{key}")
        elif extra is False:
            errors.append(f"{where}: unexpected key {key!r}")
        elif isinstance(extra, dict):
            errors += schema_errors(item, extra, root=root, where=f"{where}.{key}")
    return errors


def _array_errors(value: list, schema: dict, root: dict, where: str) -> list[str]:
    """``minItems``, ``items``."""
    errors = []
    if "minItems" in schema and len(value) < schema["minItems"]:
        errors.append(f"{where}: fewer than {schema['minItems']} items")
    if "items" in schema:
        for i, item in enumerate(value):
            errors += schema_errors(item, schema["items"], root=root, where=f"{where}[{i}]")
    return errors


def schema_errors(value: Any, schema: dict | None = None, *, root: dict | None = None, where: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema`` (default: the verify schema); empty when valid.

    A small validator for the JSON-Schema subset the verify schema uses: ``type`` (one or a list), ``enum``,
    ``const``, ``properties``, ``required``, ``additionalProperties`` (false or a schema), ``items``, ``minimum``,
    ``minItems``, ``pattern``, ``$ref`` to ``#/$defs/...``. It exists so bpv needs no ``jsonschema`` dependency.
    """
    if schema is None:
        schema = load_schema()
    root = root if root is not None else (schema if "$defs" in schema else load_schema())
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/$defs/"):
            return [f"{where}: unsupported $ref {ref}"]
        return schema_errors(value, root["$defs"][ref.rsplit("/", 1)[1]], root=root, where=where)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            return [f"{where}: expected {' or '.join(types)}, got {type(value).__name__}"]
    errors = _scalar_errors(value, schema, where)
    if isinstance(value, dict):
        errors += _object_errors(value, schema, root, where)
    if isinstance(value, list):
        errors += _array_errors(value, schema, root, where)
    return errors


def report_dict(results: Sequence[VerificationResult], *, seed: int, elapsed: float, jobs: int) -> dict:
    """The document ``bpv verify --json`` writes (validated by the schema)."""
    from derive.verification.cache import bpv_version

    counts = {v.value: sum(r.counts()[v.value] for r in results) for v in Verdict}
    return {
        "bpv": "verify",
        "schema_version": SCHEMA_VERSION,
        "version": bpv_version(),
        "seed": seed,
        "jobs": jobs,
        "ok": all(r.ok for r in results),
        "counts": counts,
        "elapsed_s": round(elapsed, 4),
        "bounds": dict(BOUNDS),
        "exhaustive_max": sampling.EXHAUSTIVE_MAX,
        "models": [r.to_dict() for r in results],
    }
