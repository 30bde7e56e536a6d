"""Code generation: NumPy kernel modules printed from the proven forms (a SymPy printer subclass and templates).

``generate_kernel_source``, ``kernel_name`` and ``derivation_hash`` (:mod:`derive.codegen.kernel`) assemble a module;
``KernelPrinter`` (:mod:`derive.codegen.printer`) prints scalars and the batch forms' matrix expressions, and
evaluates a batch form into a workspace array (``KernelPrinter.assign``); ``inplace_lines``
(:mod:`derive.codegen.inplace`) prints an element-wise form as ufunc calls with ``out=``; ``fold_activation``
(:mod:`derive.codegen.folded`) gives an activation's proven exp-folded form. Importing this package loads no SymPy:
each name is imported on first use.
"""

from __future__ import annotations

__all__ = ["KernelPrinter", "derivation_hash", "fold_activation", "generate_conv_kernel_source",
           "generate_kernel_source", "generate_rnn_kernel_source", "inplace_lines", "kernel_name", "piece_source"]

from numeric.lazy import lazy_exports

_LAZY = {
    "KernelPrinter": "derive.codegen.printer",
    "derivation_hash": "derive.codegen.kernel",
    "fold_activation": "derive.codegen.folded",
    "generate_kernel_source": "derive.codegen.kernel",
    "generate_conv_kernel_source": "derive.codegen.conv_kernel",
    "generate_rnn_kernel_source": "derive.codegen.rnn_kernel",
    "inplace_lines": "derive.codegen.inplace",
    "kernel_name": "derive.codegen.kernel",
    "piece_source": "derive.codegen.elementwise",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
