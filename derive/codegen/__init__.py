"""Code generation: NumPy kernel modules printed from the proven forms (a SymPy printer subclass and a template).

``generate_kernel_source``, ``kernel_name`` and ``derivation_hash`` (:mod:`derive.codegen.kernel`) assemble a module;
``KernelPrinter`` (:mod:`derive.codegen.printer`) prints scalars and the batch forms' matrix expressions. Importing
this package loads no SymPy: each name is imported on first use.
"""

from __future__ import annotations

__all__ = ["KernelPrinter", "derivation_hash", "generate_kernel_source", "kernel_name", "piece_source"]

from numeric.lazy import lazy_exports

_LAZY = {
    "KernelPrinter": "derive.codegen.printer",
    "derivation_hash": "derive.codegen.kernel",
    "generate_kernel_source": "derive.codegen.kernel",
    "kernel_name": "derive.codegen.kernel",
    "piece_source": "derive.codegen.elementwise",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


