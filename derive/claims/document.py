"""Checking a document: every equation of a LaTeX or Markdown text, judged in its context (``bpv check``).

One :class:`Row` per equation and a :class:`Report` of the document; :func:`check_text` and :func:`check_file`
run the pipeline of :mod:`derive.claims` (extract, read the notation, judge) in workers with a time limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from derive.claims.extract import MAX_EQUATIONS, Equation, extract_equations, find_directives, read_document
from derive.claims.ir import cost_symbol
from derive.claims.notation import (
    Unparsed,
    echo,
    resolve_bare,
    split_relation,
    understand,
    understand_equation,
)
from derive.claims.runner import shared_runner
from derive.claims.semantics import Context, context_from_directive
from derive.claims.verdicts import Verdict, judge

__all__ = [
    "VERDICTS",
    "Context",
    "Report",
    "Row",
    "check_equation",
    "check_file",
    "check_text",
    "context_from_directive",
    "extract_equations",
]

#: every verdict, in the order a summary lists them
VERDICTS = ("proven", "refuted", "ambiguous", "definition", "not checkable", "unparsed")
_COST_NAMES = {"C", "J", "L", "E", "C_x", "C_{x}", "\\mathcal{L}", "\\mathcal{J}", "\\mathcal{C}"}


@dataclass
class Row:
    """One equation's result: where it is, what was read, what was understood, the verdict and why."""

    line: int
    tag: str | None
    label: str | None
    latex: str
    understood: str | None
    verdict: str
    reason: str
    method: str = ""
    diagnosis: str | None = None
    counterexample: dict | None = None
    context: str = ""

    def to_dict(self) -> dict:
        return {"line": self.line, "tag": self.tag, "label": self.label, "latex": self.latex,
                "understood": self.understood, "verdict": self.verdict, "reason": self.reason,
                "method": self.method, "diagnosis": self.diagnosis, "counterexample": self.counterexample,
                "context": self.context}


@dataclass
class Report:
    """All rows of a document and the counts per verdict."""

    source: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {v: sum(r.verdict == v for r in self.rows) for v in VERDICTS}

    @property
    def refuted(self) -> bool:
        return any(r.verdict == "refuted" for r in self.rows)

    def to_dict(self) -> dict:
        return {"source": self.source, "counts": self.counts(), "notes": self.notes,
                "rows": [r.to_dict() for r in self.rows]}


def _side_text(tokens) -> str:
    return " ".join(t.text for t in tokens)


def check_equation(latex: str, context: Context, previous: str | None = None, seed: int = 0) -> dict:
    """The verdict on one equation row as a plain dict (``understood``, ``verdict``, ``reason``, ...).

    ``previous`` is the row before, for continuation rows of an ``align`` that start with ``= ...``.
    """
    rel = split_relation(latex)
    if previous is not None and rel.ops and rel.sides and not rel.sides[0]:
        prev = split_relation(previous)
        if prev.ops and prev.sides[-1]:
            rel.sides[0] = prev.sides[-1]
    kind = rel.kind
    ops = ", ".join(dict.fromkeys(rel.ops))
    if kind == "no relation":
        return {"understood": None, "verdict": "not checkable", "reason": "no relation: an expression, not a claim"}
    if kind in ("definition", "not checkable", "update rule"):
        understood = _echo_sides(rel)
        if kind == "definition":
            return {"understood": understood, "verdict": "definition",
                    "reason": f"'{ops}' marks a definition: nothing to check"}
        if kind == "update rule":
            return {"understood": understood, "verdict": "not checkable",
                    "reason": "an update rule (it has a learning rate), not an identity"}
        return {"understood": understood, "verdict": "not checkable", "reason": f"'{ops}' is not an equality"}
    if _side_text(rel.sides[0]).replace(" ", "") in _COST_NAMES:
        return _cost_definition(rel, context, seed)
    try:
        sides = understand_equation(rel)
    except Unparsed as err:
        where = f" (at character {err.position + 1})" if err.position is not None else ""
        return {"understood": None, "verdict": "unparsed", "reason": err.reason + where}
    understood = " = ".join(echo(s) for s in sides)
    verdicts = [judge(sides[k], sides[k + 1], context, seed) for k in range(len(sides) - 1)]
    v = _combine(verdicts)
    return {"understood": understood, "verdict": v.verdict, "reason": v.reason, "method": v.method,
            "diagnosis": v.diagnosis, "counterexample": v.counterexample}


def _cost_definition(rel, context: Context, seed: int) -> dict:
    """``C = ...`` defines the cost: a definition, compared with the model's cost when it can be read."""
    out = {"understood": None, "verdict": "definition", "reason": "defines the cost"}
    if len(rel.sides) != 2:
        return out
    try:
        (rhs,) = resolve_bare([understand(rel.sides[1])])
    except Unparsed:
        return out
    out["understood"] = f"C = {echo(rhs)}"
    v = judge(cost_symbol("C"), rhs, context, seed)
    spec = context.spec
    if v.verdict == "proven":
        out["reason"] = f"defines the cost: the model's {spec.cost} cost ({spec.reduction} over the batch)"
        out["method"] = v.method
    elif v.verdict == "refuted":
        out["reason"] = f"defines a cost that is not the model's {spec.cost} cost ({spec.reduction}): the " \
                        "verdicts below use the model's; give the model with --cost or a bpv directive"
    return out


def _echo_sides(rel) -> str | None:
    try:
        sides = [understand(s) for s in rel.sides if s]
    except Unparsed:
        return None
    return f" {rel.ops[0]} ".join(echo(s) for s in sides) if len(sides) == len(rel.sides) else None


def _combine(verdicts: list[Verdict]) -> Verdict:
    if len(verdicts) == 1:
        return verdicts[0]
    for wanted in ("refuted", "not checkable", "ambiguous"):
        for k, v in enumerate(verdicts):
            if v.verdict == wanted:
                return Verdict(v.verdict, f"step {k + 1} of {len(verdicts)}: {v.reason}", v.method, v.diagnosis,
                               v.counterexample)
    return Verdict("proven", f"all {len(verdicts)} steps hold", "; ".join(dict.fromkeys(v.method for v in verdicts)))


def _job(latex: str, spec: dict, source: str, dz: str | None, previous: str | None, seed: int) -> dict:
    from numeric.spec import ModelSpec

    context = Context(ModelSpec.from_dict(spec), source, dz)
    out = check_equation(latex, context, previous, seed)
    out["context"] = context.describe()
    return out


def check_text(text: str, kind: str = "tex", context: Context | None = None, *, source: str = "<text>",
               timeout: float | None = 30.0, seed: int = 0) -> Report:
    """Check every equation of a document's text. ``context`` from flags wins over the document's directives."""
    report = Report(source)
    equations = extract_equations(text, kind, limit=MAX_EQUATIONS + 1)
    directives = find_directives(text)
    if context is not None and directives:
        report.notes.append("the model given on the command line overrides the document's bpv directives")
    if len(equations) > MAX_EQUATIONS:
        report.notes.append(f"only the first {MAX_EQUATIONS} equations were checked")
        equations = equations[:MAX_EQUATIONS]
    contexts = _contexts(directives, context)
    previous: Equation | None = None
    runner = shared_runner(_job, timeout)
    for eq in equations:
        ctx = _context_at(contexts, eq.line)
        prev = previous.latex if previous is not None and previous.block == eq.block else None
        result = runner.run({"latex": eq.latex, "spec": ctx.spec.to_dict(), "source": ctx.source,
                             "dz": ctx.dz, "previous": prev, "seed": seed})
        report.rows.append(Row(eq.line, eq.tag, eq.label, eq.latex, result.get("understood"), result["verdict"],
                               result["reason"], result.get("method", ""), result.get("diagnosis"),
                               result.get("counterexample"), result.get("context", ctx.describe())))
        previous = eq
    return report


def _contexts(directives: list[tuple[int, str]], given: Context | None) -> list[tuple[int, Context]]:
    """(from line, context) in order; a directive changes the context for the equations after it."""
    if given is not None:
        return [(0, given)]
    out = [(0, Context())]
    for line, text in directives:
        out.append((line, context_from_directive(text, out[-1][1], f"bpv directive on line {line}")))
    return out


def _context_at(contexts: list[tuple[int, Context]], line: int) -> Context:
    ctx = contexts[0][1]
    for start, c in contexts:
        if start <= line:
            ctx = c
    return ctx


def check_file(path: str | Path, context: Context | None = None, *, timeout: float | None = 30.0,
               seed: int = 0) -> Report:
    """Check a ``.tex`` or ``.md`` file (:class:`numeric.errors.BadInput` if it cannot be read)."""
    text, kind = read_document(path)
    return check_text(text, kind, context, source=str(path), timeout=timeout, seed=seed)

