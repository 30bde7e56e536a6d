"""Claims: checking the equations of a LaTeX or Markdown document against the derivation (``bpv check``).

Pipeline, one module per step:

* :mod:`~derive.claims.extract`: find the equations (rows, line numbers, tags, labels, directives);
* :mod:`~derive.claims.notation`: read neural-network notation (the rewrite layer), with the one adapter
  :mod:`~derive.claims.l2s` around ``latex2sympy2``, into the nodes of :mod:`~derive.claims.ir`;
* :mod:`~derive.claims.semantics`: what the symbols mean on a concrete instance of the context model, and their
  true values (from the composed cost, :mod:`derive.backprop.compose`);
* :mod:`~derive.claims.verdicts`: proven / refuted with a diagnosis / ambiguous / not checkable, on the values of
  :mod:`~derive.claims.evaluator` under the conventions of :mod:`~derive.claims.readings`;
* :mod:`~derive.claims.runner`: each equation in a worker with a time limit;
* :mod:`~derive.claims.document`: a whole document, equation by equation (rows and the report);
* :mod:`~derive.claims.textbook`: the built-in catalog of textbook claims (``bpv check --catalog``);
* :mod:`~derive.claims.blocks`: claims about L2 regularisation, dropout and normalisation in their own names, read by
  :mod:`~derive.claims.block_reader`, evaluated on the arrays of :mod:`~derive.claims.block_instance`, diagnosed by
  :mod:`~derive.claims.block_near_misses`.

Document text is only ever tokenised and matched: it never reaches ``eval``, ``exec``, ``sympify`` or a shell.
The public names below are imported on first use: ``import derive.claims`` loads no SymPy.
"""

from __future__ import annotations

from numeric.lazy import lazy_exports

_LAZY = {
    "VERDICTS": "derive.claims.document",
    "Report": "derive.claims.document",
    "Row": "derive.claims.document",
    "check_equation": "derive.claims.document",
    "check_file": "derive.claims.document",
    "check_text": "derive.claims.document",
    "Context": "derive.claims.semantics",
    "context_from_directive": "derive.claims.semantics",
    "extract_equations": "derive.claims.extract",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = sorted(_LAZY)
