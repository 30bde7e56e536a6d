"""Checking a document: every equation of a LaTeX or Markdown text, judged in its context (``bpv check``).

One :class:`Row` per equation and a :class:`Report` of the document; :func:`check_text` and :func:`check_file`
run the pipeline of :mod:`derive.claims` (extract, read the notation, judge) in workers with a time limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from derive.claims.docmodel import adopt, cost_definition, forward_definition, is_cost_name, robust, stated_value
from derive.claims.extract import MAX_EQUATIONS, Equation, extract_equations, find_directives, read_document
from derive.claims.ir import Act
from derive.claims.macros import expand_document
from derive.claims.notation import Unparsed, echo, normalize, split_relation, understand, understand_equation
from derive.claims.runner import shared_runner
from derive.claims.semantics import Context, context_from_directive
from derive.claims.verdicts import Verdict, judge
from numeric.errors import BadInput

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
    strength: str | None = None
    repair: str | None = None
    column: int | None = None  # unparsed: where in the document's line the reading stopped
    snippet: str | None = None  # unparsed: the text there
    hint: str | None = None  # unparsed: what would be understood

    def to_dict(self) -> dict:
        return {"line": self.line, "column": self.column, "snippet": self.snippet, "hint": self.hint,
                "tag": self.tag, "label": self.label, "latex": self.latex,
                "understood": self.understood, "verdict": self.verdict, "reason": self.reason,
                "method": self.method, "strength": self.strength, "diagnosis": self.diagnosis,
                "repair": self.repair, "counterexample": self.counterexample, "context": self.context}


@dataclass
class Report:
    """All rows of a document and the counts per verdict."""

    source: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    expansions: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {v: sum(r.verdict == v for r in self.rows) for v in VERDICTS}

    @property
    def refuted(self) -> bool:
        return any(r.verdict == "refuted" for r in self.rows)

    def to_dict(self) -> dict:
        return {"source": self.source, "counts": self.counts(), "notes": self.notes, "expansions": self.expansions,
                "rows": [r.to_dict() for r in self.rows]}


def _side_text(tokens) -> str:
    return " ".join(t.text for t in tokens)


def check_equation(latex: str, context: Context, previous: str | None = None, seed: int = 0,
                   layer_subscripts: bool = False) -> dict:
    """The verdict on one equation row as a plain dict (``understood``, ``verdict``, ``reason``, ...).

    ``previous`` is the row before, for continuation rows of an ``align`` that start with ``= ...``. A definition of
    the model (its cost, its forward pass) may carry ``adopt``: the model the rows after it are read in
    (:mod:`derive.claims.docmodel`).
    """
    rel = split_relation(latex)
    if previous is not None and rel.ops and rel.sides and not rel.sides[0]:
        prev = split_relation(previous)
        if prev.ops and prev.sides[-1]:
            rel.sides[0] = prev.sides[-1]
    from derive.claims.shared import check_shared, is_shared

    if is_shared(context):  # a convolutional or recurrent net: the layer's own names (derive.claims.shared)
        return check_shared(rel, context, seed)
    if not context.spec.plain:  # a model with an L2 term, dropout or normalisation: the blocks' own names first
        from derive.claims.blocks import check_block

        block = check_block(rel, context, seed, layer_subscripts)
        if block is not None:
            return block
    early = _not_a_claim(rel)
    if early is not None:
        return early
    if is_cost_name(_side_text(rel.sides[0])) and len(rel.sides) == 2:
        return cost_definition(rel.sides[1], context, seed)
    try:
        sides = understand_equation(rel, layer_subscripts, l2=context.spec.penalty is not None)
    except Unparsed as err:
        return _unparsed(latex, err)
    understood = " = ".join(echo(s) for s in sides)
    verdicts = [robust(sides[k], sides[k + 1], context, seed, judge(sides[k], sides[k + 1], context, seed))
                for k in range(len(sides) - 1)]
    v = _combine(verdicts)
    if v.verdict == "refuted" and len(sides) == 2:
        model = _model_definition(sides, context, seed)
        if model is not None:
            return {"understood": understood, **model}
    out = {"understood": understood, "verdict": v.verdict, "reason": v.reason, "method": v.method,
           "diagnosis": v.diagnosis, "counterexample": v.counterexample, "strength": v.strength}
    if v.repair:
        out["repair"] = v.repair
    return out


#: what would be understood instead, for the reasons the reader gives (the first that matches)
_HINTS = (
    ("unsupported command", "bpv reads + - \\cdot \\times \\odot \\frac \\sum_k \\sigma \\ln \\exp \\tanh and the "
     "names of the model; define the command with \\newcommand, or rewrite it"),
    ("unknown symbol", "the names of the model: w, b, z, a, x, y, W, A, Z, X, Y, \\delta, dW, db, dZ, dA, with layer "
     "and unit indices (w^l_{jk}, a^{[l-1]}, z^L_j)"),
    ("hyper-parameter", "an update rule is not an identity: state the gradient itself (\\partial C/\\partial w = ...)"),
    ("latex2sympy2", "sums, products, fractions and powers of the model's quantities"),
)


def _unparsed(latex: str, err: Unparsed) -> dict:
    """The verdict on a row not understood: what, where in the row (``position``), the snippet and a hint."""
    out = {"understood": None, "verdict": "unparsed", "reason": err.reason}
    if err.position is not None:
        text = normalize(latex)
        snippet = text[err.position:err.position + 24].split("\n")[0].strip()
        out["snippet"] = snippet
        out["column"] = _column(latex, snippet)
    hint = next((h for key, h in _HINTS if key in err.reason), None)
    if hint and "understood" not in err.reason:
        out["hint"] = hint
    return out


def _column(latex: str, snippet: str) -> int | None:
    """1-based column of the snippet in the row as written (its first token, when normalising moved it)."""
    for probe in (snippet, snippet.split(" ")[0], snippet[:2]):
        if probe and probe in latex:
            return latex.index(probe) + 1
    return None


def _not_a_claim(rel) -> dict | None:
    """Rows that are not identities to check: no relation, definitions, update rules, stated values."""
    kind = rel.kind
    ops = ", ".join(dict.fromkeys(rel.ops))
    if kind == "no relation":
        return {"understood": None, "verdict": "not checkable", "reason": "no relation: an expression, not a claim"}
    if kind == "definition":
        first = next(k for k, op in enumerate(rel.ops) if op not in ("=",))
        if len(rel.sides) > first + 2 and all(op == "=" for op in rel.ops[first + 1:]):
            rel.sides, rel.ops = rel.sides[first + 1:], rel.ops[first + 1:]  # δ := ∂C/∂z = ...: check after it
            return None
        return {"understood": _echo_sides(rel), "verdict": "definition",
                "reason": f"'{ops}' marks a definition: nothing to check"}
    if kind == "update rule":
        return {"understood": _echo_sides(rel), "verdict": "not checkable",
                "reason": "an update rule (it has a learning rate), not an identity"}
    if kind == "not checkable":
        return {"understood": _echo_sides(rel), "verdict": "not checkable", "reason": f"'{ops}' is not an equality"}
    if stated_value(rel.sides):
        return {"understood": None, "verdict": "definition", "reason": "a value stated in the text"}
    return None


def _model_definition(sides, context: Context, seed: int) -> dict | None:
    """A refuted row that defines the model (forward pass, activation): the model under which it holds."""
    lhs = sides[0]
    if isinstance(lhs, Act) and lhs.order == 0:
        return {"verdict": "definition", "reason": "defines the activation (not the model's: give --act to check "
                "claims that depend on it)"}
    return forward_definition(lhs, sides[1], context, seed)


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


def _job(latex: str, spec: dict, source: str, dz: str | None, cost_known: bool, previous: str | None, seed: int,
         layer_subscripts: bool, jacobian: str | None = None, declared: bool = False) -> dict:
    from derive.claims.shared import describe
    from numeric.catalog import spec_from_dict

    context = Context(spec_from_dict(spec), source, dz, cost_known, jacobian, declared)
    out = check_equation(latex, context, previous, seed, layer_subscripts)
    out["context"] = describe(context)
    return out


#: the document says its dZ are per-example derivatives (course notes)
_PER_EXAMPLE = re.compile(r"\bdZ\b[^\n]{0,120}\bper[- ](example|sample)|\bper[- ](example|sample)[^\n]{0,120}\bdZ\b")
#: the document says which layout its Jacobians are in
_JACOBIAN_LAYOUT = re.compile(r"\b(numerator|denominator)[- ]layout", re.I)
_LAYER_SUBSCRIPT = re.compile(r"(?<![A-Za-z\\])W_\{?\d")


def check_text(text: str, kind: str = "tex", context: Context | None = None, *, source: str = "<text>",
               timeout: float | None = 30.0, seed: int = 0) -> Report:
    """Check every equation of a document's text. ``context`` from flags wins over the document's directives and
    definitions (a conflict is a note, printed on stderr); else the document's own definitions decide the model."""
    report = Report(source)
    text, expanded = expand_document(text, kind)
    report.expansions = expanded
    equations = extract_equations(text, kind, limit=MAX_EQUATIONS + 1)
    directives = find_directives(text)
    if context is not None and directives:
        report.notes.append("the model given on the command line overrides the document's bpv directives")
    if len(equations) > MAX_EQUATIONS:
        report.notes.append(f"only the first {MAX_EQUATIONS} equations were checked")
        equations = equations[:MAX_EQUATIONS]
    state = _State(context, directives)
    if context is None and _PER_EXAMPLE.search(text):
        state.current = replace(state.current, dz="per_sample")
        report.notes.append("dZ/dA read as per-example derivatives, as the document says")
    said = _JACOBIAN_LAYOUT.search(text)
    if said and (context is None or context.jacobian is None):
        state.current = replace(state.current, jacobian=said.group(1).lower())
        if context is not None:
            state.given = replace(context, jacobian=said.group(1).lower())
        report.notes.append(f"Jacobians read in the {said.group(1).lower()} layout, as the document says")
    previous: Equation | None = None
    runner = shared_runner(_job, timeout)
    subscripts = _LAYER_SUBSCRIPT.search(text) is not None
    for eq in equations:
        ctx = state.at(eq.line)
        prev = previous.latex if previous is not None and previous.block == eq.block else None
        result = runner.run({"latex": eq.latex, "spec": ctx.spec.to_dict(), "source": ctx.source, "dz": ctx.dz,
                             "cost_known": ctx.cost_known, "previous": prev, "seed": seed,
                             "layer_subscripts": subscripts, "jacobian": ctx.jacobian, "declared": ctx.declared})
        report.rows.append(_row(eq, result, ctx, text))
        if result.get("adopt"):
            state.adopt(result["adopt"], eq.line, report)
        previous = eq
    return report


def _row(eq: Equation, result: dict, ctx: Context, text: str) -> Row:
    """One row; an unparsed one says line and column in the document, the snippet, and what would be read."""
    reason, column = result["reason"], None
    if result["verdict"] == "unparsed":
        snippet = result.get("snippet")
        line = text.split("\n")[eq.line - 1] if 0 < eq.line <= text.count("\n") + 1 else ""
        if snippet:
            found = _column(line, snippet)
            column = found if found is not None else result.get("column")
        where = f"line {eq.line}" + (f", column {column}" if column else "")
        reason = f"{where}" + (f", at '{snippet}'" if snippet else "") + f": not understood: {reason}"
        if result.get("hint"):
            reason += f"; understood instead: {result['hint']}"
    return Row(eq.line, eq.tag, eq.label, eq.latex, result.get("understood"), result["verdict"], reason,
               result.get("method", ""), result.get("diagnosis"), result.get("counterexample"),
               result.get("context") or _describe(ctx), result.get("strength"), result.get("repair"), column,
               result.get("snippet"), result.get("hint"))


def _describe(ctx: Context) -> str:
    from derive.claims.shared import describe

    return describe(ctx)


class _State:
    """The model as the document goes on: flags (fixed), else the default, directives and adopted definitions."""

    def __init__(self, given: Context | None, directives: list[tuple[int, str]]):
        self.given = given
        self.directives = list(directives)
        self.current = given if given is not None else Context(cost_known=False)

    def at(self, line: int) -> Context:
        while self.given is None and self.directives and self.directives[0][0] <= line:
            start, text = self.directives.pop(0)
            try:
                self.current = context_from_directive(text, self.current, f"bpv directive on line {start}")
            except BadInput as err:  # say where: the flag names in the message are the directive's keys
                raise BadInput(f"the bpv directive on line {start} ({text[:60]!r}): {err}") from None
        return self.current

    def adopt(self, changes: dict, line: int, report: Report) -> None:
        if self.given is not None:
            spec = self.given.spec
            differs = {k: v for k, v in changes.items() if k in ("cost", "reduction", "layout")
                       and str(getattr(spec, k)) != str(v)}
            if differs:
                said = ", ".join(f"{k}={v}" for k, v in differs.items())
                report.notes.append(f"line {line}: the document defines {said}, the command line says otherwise; "
                                    "the command line wins")
            return
        self.current = adopt(self.current, changes, f"the document's definition on line {line}")


def check_file(path: str | Path, context: Context | None = None, *, timeout: float | None = 30.0,
               seed: int = 0) -> Report:
    """Check a ``.tex`` or ``.md`` file (:class:`numeric.errors.BadInput` if it cannot be read)."""
    text, kind = read_document(path)
    return check_text(text, kind, context, source=str(path), timeout=timeout, seed=seed)

