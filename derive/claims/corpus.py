"""Scoring ``bpv check`` against a corpus of annotated documents (the measuring stick of issue 15).

Each document ``<name>.md``/``<name>.tex`` has a sidecar ``<name>.expected.json`` written by a careful reading, out of
band: ``{"claims": [{"match": "<a substring of the row>", "expect": "true" | "error" | "definition" | "prose",
"kind": "<the slip, for errors>"}]}``. :func:`score` pairs every annotation with the first unused row whose LaTeX
holds ``match`` and counts:

* true claims proven, left unchecked, or **refuted** (a false refutation);
* errors refuted (and whether the diagnosis names ``kind``), missed, or **proven** (a false proof);
* definitions and prose refuted (also false refutations); rows that no annotation describes.

Used by ``benchmarks/bench_check.py`` and the corpus test; nothing here decides a verdict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["EXPECTATIONS", "Score", "corpus_documents", "load_expected", "score"]

EXPECTATIONS = ("true", "error", "definition", "prose")
_SUFFIXES = (".md", ".tex")


@dataclass
class Score:
    """The counts of one document (or a sum of documents: ``+``)."""

    true: int = 0
    proven: int = 0
    false_refutations: int = 0
    errors: int = 0
    caught: int = 0
    diagnosed: int = 0
    false_proofs: int = 0
    unparsed: int = 0
    unannotated: int = 0
    unmatched: int = 0
    problems: list[str] = field(default_factory=list)

    def __add__(self, other: Score) -> Score:
        fields = {k: getattr(self, k) + getattr(other, k) for k in self.__dataclass_fields__ if k != "problems"}
        return Score(**fields, problems=self.problems + other.problems)

    def row(self) -> str:
        return (f"{self.proven:>3}/{self.true:<3} proven  {self.caught:>2}/{self.errors:<2} errors refuted "
                f"({self.diagnosed} diagnosed)  {self.unparsed:>2} unparsed  {self.false_proofs} false proofs  "
                f"{self.false_refutations} false refutations  {self.unmatched} unmatched")


def corpus_documents(folder: str | Path) -> list[Path]:
    """The annotated documents of a folder (those with a sidecar), sorted by name."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir()
                  if p.suffix in _SUFFIXES and p.with_suffix(".expected.json").is_file())


def load_expected(doc: Path) -> list[dict]:
    claims = json.loads(doc.with_suffix(".expected.json").read_text(encoding="utf-8"))["claims"]
    for c in claims:
        if c.get("expect") not in EXPECTATIONS:
            raise ValueError(f"{doc.name}: expectation {c.get('expect')!r} of {c.get('match')!r}")
    return claims


def score(report, expected: list[dict], text: str = "") -> Score:
    """Pair annotations with rows (first unused row holding ``match``) and count (see the module doc).

    ``text``: the document as written; a row also matches when its first line there holds ``match`` (rows whose
    macros were expanded no longer hold the text as written)."""
    out = Score()
    used: set[int] = set()
    name = Path(report.source).name
    lines = text.split("\n")

    def holds(r, match: str) -> bool:
        return match in r.latex or (0 < r.line <= len(lines) and match in lines[r.line - 1])

    for claim in expected:
        k = next((i for i, r in enumerate(report.rows) if i not in used and holds(r, claim["match"])), None)
        kind = claim["expect"]
        out.true += kind == "true"
        out.errors += kind == "error"
        if k is None:
            out.unmatched += 1
            out.problems.append(f"{name}: no row holds {claim['match']!r}")
            continue
        used.add(k)
        _count(out, report.rows[k], claim, name)
    for i, r in enumerate(report.rows):
        if i not in used:
            out.unannotated += 1
            if r.verdict == "refuted":
                out.false_refutations += 1
                out.problems.append(f"{name}:{r.line}: refuted a row nobody annotated: {r.latex}")
    return out


def _count(out: Score, row, claim: dict, name: str) -> None:
    verdict, kind = row.verdict, claim["expect"]
    out.unparsed += verdict == "unparsed"
    where = f"{name}:{row.line}"
    if kind == "error":
        if verdict == "refuted":
            out.caught += 1
            text = f"{row.diagnosis or ''} {row.reason}"
            out.diagnosed += claim.get("kind", "") in text
        elif verdict == "proven":
            out.false_proofs += 1
            out.problems.append(f"{where}: FALSE PROOF of {row.latex}")
        return
    if verdict == "refuted":
        out.false_refutations += 1
        out.problems.append(f"{where}: FALSE REFUTATION of {row.latex}: {row.reason}")
    elif kind == "true" and verdict == "proven":
        out.proven += 1
