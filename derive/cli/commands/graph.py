"""``bpv graph``: staged backprop through a computational graph of gates, printed gate by gate and checked."""

from __future__ import annotations

import argparse
import sys

from derive.cli.args import add_json_argument
from derive.core.files import write_json
from derive.core.texbuild import TexError, compile_pdf
from derive.graph.gates import FUSIONS, GATE_KINDS
from derive.graph.staged import FD_TOLERANCE, SYMPY_TOLERANCE, StagedGraph, build_graph
from numeric.errors import BadInput

ORDER = 60
HELP = "staged backprop through a computational graph of gates (CS231n style), checked"
DESCRIPTION = """\
Cut an arithmetic expression into gates (add, multiply, max, exp, 1/x, add-constant, multiply-by-constant,
log, tanh, powers; sigmoid as one gate with --fuse sigmoid), run the forward pass at a point, then backprop:
each gate's local gradients are derived by SymPy from the gate's formula, multiplied by the upstream gradient
and sent downstream; where a variable is used more than once its gradients are added (+=).

Prints one row per gate (inputs, output, local gradients, upstream, downstream), then the final gradients,
each checked against sympy.diff of the whole expression (30 digits) and central finite differences.

EXPR syntax: numbers, variable names, + - * / ^ (or **), parentheses and the functions exp, log (natural),
ln, sqrt, tanh, sigmoid (or sigma), max, min. Write 2*x, not 2x. Nothing in EXPR is ever run as code.
An EXPR that starts with '-' needs '--' before it: bpv graph --at x=1 -- '-x*x'.

Exit status: 0 every check agrees, 1 a check disagrees, 2 bad input (syntax error with a caret under its
column, unknown function, a variable with no value, division by zero at the point, malformed --at).

examples:
  bpv graph '(x+y)*z' --at x=-2,y=5,z=-4
  bpv graph '1/(1+exp(-(w0*x0+w1*x1+w2)))' --at w0=2,x0=-1,w1=-3,x1=-2,w2=-3
  bpv graph 'sigmoid(w0*x0+w1*x1+w2)' --at w0=2,x0=-1,w1=-3,x1=-2,w2=-3 --fuse sigmoid
  bpv graph '(x + sigma(y)) / (sigma(x) + (x+y)^2)' --at x=3,y=-4 --pdf reports/staged.pdf
  bpv graph 'max(x, y)*z' --at x=1,y=2,z=3 --json -
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("expr", metavar="EXPR", help="the expression, e.g. '(x+y)*z' (quote it for the shell)")
    p.add_argument("--at", required=True, metavar="POINT", help="the point: name=value pairs, e.g. x=-2,y=5,z=-4")
    p.add_argument("--fuse", action="append", default=[], metavar="GATE",
                   help=f"fuse a pattern into one gate: {', '.join(FUSIONS)} (1/(1+exp(-u)) and sigmoid(u))")
    add_json_argument(p)
    p.add_argument("--pdf", metavar="FILE", help="also write the circuit and the tables as a PDF (pdflatex)")


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.6g}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Rows of cells, where a cell may hold several lines; columns padded to their widest line."""
    split = [[cell.split("\n") for cell in row] for row in [header, *rows]]
    widths = [max(len(line) for row in split for line in row[i]) for i in range(len(header))]
    out = []
    for r, row in enumerate(split):
        for k in range(max(len(cell) for cell in row)):
            cells = [(cell[k] if k < len(cell) else "").ljust(w) for cell, w in zip(row, widths, strict=True)]
            out.append("  " + "  ".join(cells).rstrip())
        if r == 0:
            out.append("  " + "  ".join("-" * w for w in widths))
    return out


def graph_text(graph: StagedGraph) -> str:
    """The readable report: gate table, final gradients with their checks, verdict."""
    point = ", ".join(f"{k}={v}" for k, v in graph.point.items())
    fused = f", fused: {', '.join(graph.fuse)}" if graph.fuse else ""
    lines = [f"f = {graph.parsed.expr}   at {point}{fused}",
             f"{len(graph.gates)} gates in forward order (backprop runs them bottom-up):"]
    rows = []
    for g in graph.gates:
        rows.append([
            g.name, g.kind, f"{g.name} = {g.formula}",
            "\n".join(f"{n} = {_num(x)}" for n, x in zip(g.inputs, g.input_values, strict=True)),
            _num(g.output_value),
            "\n".join(f"d{g.name}/d{n} = " + ("" if e.is_number else f"{e} = ") + _num(x)
                      for n, e, x in zip(g.inputs, g.local_exprs, g.local_values, strict=True)),
            _num(g.upstream),
            "\n".join(f"-> {n}: {_num(d)}" for n, d in zip(g.inputs, g.downstream, strict=True)),
        ])
    lines += _table(["gate", "kind", "formula", "inputs", "output", "local gradients", "upstream",
                     "downstream (upstream x local)"], rows)
    lines.append("")
    lines.append(f"f = {_num(graph.output_value)} (sympy: {_num(graph.output_reference)})")
    lines.append("final gradients (+= where a variable is used more than once):")
    rows = []
    for gr in graph.gradients:
        parts = " + ".join(f"{_num(a)} ({g})" for g, a in gr.contributions)
        total = f"{parts} = {_num(gr.value)}" if len(gr.contributions) > 1 else _num(gr.value)
        fd = _num(gr.fd_value)
        if gr.fd_interval is not None:
            fd += f" (one-sided {_num(gr.fd_interval[0])}, {_num(gr.fd_interval[1])})"
        rows.append([f"df/d{gr.name}", total, _num(gr.sympy_value), fd])
    lines += _table(["gradient", "backprop", "sympy.diff", "finite differences"], rows)
    lines.append("")
    ok = {True: "agrees", False: "DISAGREES"}
    lines.append(f"check vs sympy.diff: block-relative error {graph.sympy_error:.2e} (bound {SYMPY_TOLERANCE:.0e}) "
                 f"{ok[graph.sympy_agrees]}")
    lines.append(f"check vs finite differences: block-relative error {graph.fd_error:.2e} "
                 f"(bound {FD_TOLERANCE:.0e}) {ok[graph.fd_agrees]}")
    for kind, check in graph.closed_form_checks.items():
        lines.append(f"{kind} gate: {GATE_KINDS[kind].closed_form.text}: {check.short()}")  # type: ignore[union-attr]
    lines.append("all checks agree" if graph.holds else "NOT all checks agree")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    fuse = [name.strip() for item in args.fuse for name in item.split(",") if name.strip()]
    graph = build_graph(args.expr, args.at, fuse)
    for w in graph.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.json != "-":
        print(graph_text(graph))
    if args.json:
        write_json(args.json, {"bpv": "graph", **graph.to_dict()})
    if args.pdf:
        from derive.graph.tex import graph_document

        try:
            path = compile_pdf(graph_document(graph), args.pdf)
        except TexError as err:
            print(f"bpv graph: PDF failed: {err}", file=sys.stderr)
            return 1
        except OSError as err:
            raise BadInput(f"cannot write the PDF {args.pdf}: {err.strerror}") from None
        if args.json != "-":
            print(f"wrote {path}")
    sys.stdout.flush()
    return 0 if graph.holds else 1


__all__ = ["DESCRIPTION", "HELP", "ORDER", "add_arguments", "graph_text", "run"]
