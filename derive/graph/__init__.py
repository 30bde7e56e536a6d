"""Computational graphs, CS231n style (``bpv graph``): an expression cut into gates, forward and backward by hand,
every gradient checked against ``sympy.diff`` and finite differences.

* :mod:`~derive.graph.exprparse`: the expression language (a safe tokenizer and parser, no ``eval``);
* :mod:`~derive.graph.gates`: the gate kinds (one :class:`GateKind` entry each), their exact float evaluation and
  their SymPy-derived local rules;
* :mod:`~derive.graph.staged`: the graph of gates, the forward and backward passes, the checks;
* :mod:`~derive.graph.matmul`: the matrix gate D = W X, derived element by element;
* :mod:`~derive.graph.tex`: the graph as a TikZ picture and a table for the report.

The public names below are imported on first use: ``import derive.graph`` loads no SymPy.
"""

from __future__ import annotations

from numeric.lazy import lazy_exports

_LAZY = {
    "GATE_KINDS": "derive.graph.gates",
    "GateKind": "derive.graph.gates",
    "Kink": "derive.graph.gates",
    "StagedGraph": "derive.graph.staged",
    "build_graph": "derive.graph.staged",
    "derive_matmul_gate": "derive.graph.matmul",
    "MatmulGate": "derive.graph.matmul",
    "ParsedExpression": "derive.graph.exprparse",
    "parse_expression": "derive.graph.exprparse",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = ["GATE_KINDS", "GateKind", "Kink", "MatmulGate", "ParsedExpression", "StagedGraph", "build_graph",
           "derive_matmul_gate", "parse_expression"]
