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

#: heavier entry points, imported on first use so that `bpv --help` stays fast
_LAZY = {
    "derive_model": "derive.model_derivation",
    "verify": "derive.verify",
    "verify_model": "derive.verify",
    "generate_kernel_source": "derive.codegen",
    "build_reports": "derive.report",
    "check_file": "derive.claims",
    "build_graph": "derive.graph",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'derive' has no attribute {name!r}")


__all__ = [
    "Check",
    "Derivation",
    "Step",
    "__version__",
    "book_latex",
    "book_text",
    "build_graph",
    "build_reports",
    "check_file",
    "derive_activation",
    "derive_cost",
    "derive_model",
    "derive_output_delta",
    "derive_softmax",
    "generate_kernel_source",
    "prove_equal",
    "verify",
    "verify_model",
]
