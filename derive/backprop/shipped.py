"""The artefacts bpv ships derived (:mod:`derive.core.shipped`): only what does not depend on a model.

Today three: the all-widths rule (:func:`derive.backprop.general_rule.derive_general_rule` with the textbook
claims), ~1 s to derive, the same for every model; the derivation of every element-wise activation of the registry
(:func:`derive.functions.activations.shipped_activations`, default parameters), whose symbolic check of f' (the
limit of the difference quotient) takes 0.5 s for σ, 2 s for tanh, 12 s for GELU; and the batch forms of the
first layers in index form at symbolic widths (:func:`derive.backprop.batch_index.shipped_index_forms`), 0.1-0.25 s
a layer and parameter, about half of a model's batch-forms part. Run
``python -m derive.backprop.shipped`` after changing the mathematics they depend on (``--check`` exits 1 when an
artefact is stale or missing, and says which; tests run the check). A stale artefact is never served: it is then
derived afresh, as if nothing were shipped.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from derive.core import shipped

__all__ = ["ARTEFACTS", "main", "stale"]


def _general_rule():
    from derive.backprop.general_rule import derive_default_rule

    return derive_default_rule()


def _index_forms():
    from derive.backprop.batch_index import shipped_index_forms

    return shipped_index_forms()


def _activations():
    from derive.functions.activations import shipped_activations

    return shipped_activations()


#: (producing module, artefact name) -> how to derive it afresh
ARTEFACTS: dict[tuple[str, str], Callable[[], object]] = {
    ("derive.backprop.general_rule", "general_rule"): _general_rule,
    ("derive.backprop.model_functions", "activations"): _activations,
    ("derive.backprop.batch_index", "index_forms"): _index_forms,
}


def stale() -> list[str]:
    """The artefacts whose recorded key differs from the key computed now, that are missing, or whose payload
    digest is not the one :mod:`derive.shipped_digests` records."""
    out = []
    trusted = shipped.trusted_digests()
    for module, name in ARTEFACTS:
        head = shipped.header(module, name)
        if (head is None or head.get("key") != shipped.shipped_key(module)
                or trusted.get(f"{module}:{name}") != head.get("payload_sha256")):
            out.append(f"{module}:{name}")
    return out


def _write_digests(digests: dict[str, str]) -> Path:
    """:mod:`derive.shipped_digests`, the code that vouches for each shipped payload."""
    import importlib.util

    from derive.core.files import atomic_write_text

    lines = ['"""The SHA-256 of every shipped artefact\'s payload: written by ``python -m derive.backprop.shipped``, '
             'never by', 'hand. :func:`derive.core.shipped.load` unpickles a payload only when its digest is recorded '
             'here."""', "", "DIGESTS = {"]
    lines += [f"    {key!r}: {value!r}," for key, value in sorted(digests.items())]
    lines += ["}", ""]
    path = Path(importlib.util.find_spec("derive").origin).with_name("shipped_digests.py")
    return atomic_write_text(path, "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m derive.backprop.shipped", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if an artefact is stale")
    args = parser.parse_args(argv)
    if args.check:
        old = stale()
        for item in old:
            print(f"stale or missing: {item} (run python -m derive.backprop.shipped)", file=sys.stderr)
        return 1 if old else 0
    digests = {}
    for (module, name), make in ARTEFACTS.items():
        path = shipped.store(module, name, make())
        digests[f"{module}:{name}"] = shipped.header(module, name)["payload_sha256"]
        print(f"wrote {path}")
    print(f"wrote {_write_digests(digests)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
