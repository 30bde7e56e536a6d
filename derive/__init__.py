"""derive: the SymPy side of bpv.

Activations and costs derived from their definitions, checked derivations (:class:`Derivation`), the
book-notation printers, code generation, claims, verification and report orchestration, and the ``bpv`` CLI.
Built on :mod:`numeric`; nothing in :mod:`numeric` imports this package.
"""

__version__ = "0.1.0"

from numeric.lazy import lazy_exports

#: every public name, imported on first use: `import derive` loads no SymPy, so `bpv --help` stays fast
_LAZY = {
    "derive_activation": "derive.functions.activations",
    "derive_softmax": "derive.functions.activations",
    "derive_cost": "derive.functions.costs",
    "book_latex": "derive.core.book",
    "book_text": "derive.core.book",
    "derive_output_delta": "derive.backprop.output_delta",
    "Check": "derive.core.proof",
    "prove_equal": "derive.core.proof",
    "Derivation": "derive.core.steps",
    "Step": "derive.core.steps",
    "derive_model": "derive.backprop.model",
    "verify": "derive.verification.api",
    "verify_model": "derive.verification.api",
    "generate_kernel_source": "derive.codegen.kernel",
    "build_reports": "derive.report.build",
    "check_file": "derive.claims",
    "build_graph": "derive.graph.staged",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


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
