"""derive: the SymPy side of bpv.

Activations and costs derived from their definitions, checked derivations (:class:`Derivation`), the
book-notation printers, code generation, claims, verification and report orchestration, and the ``bpv`` CLI.
Built on :mod:`numeric`; nothing in :mod:`numeric` imports this package.
"""

__version__ = "0.1.0"

from derive.activations import derive_activation, derive_softmax
from derive.costs import derive_cost
from derive.latex import book_latex, book_text
from derive.output_delta import derive_output_delta
from derive.proof import Check, prove_equal
from derive.steps import Derivation, Step

__all__ = [
    "Check",
    "Derivation",
    "Step",
    "__version__",
    "book_latex",
    "book_text",
    "derive_activation",
    "derive_cost",
    "derive_output_delta",
    "derive_softmax",
    "prove_equal",
]
