"""Code generation: NumPy kernel modules printed from the proven forms (a SymPy printer subclass and a template).

``generate_kernel_source``, ``kernel_name`` and ``derivation_hash`` (:mod:`derive.codegen.kernel`) assemble a module;
``KernelPrinter`` (:mod:`derive.codegen.printer`) prints scalars and the batch forms' matrix expressions. Importing
this package loads no SymPy: each name is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["KernelPrinter", "derivation_hash", "generate_kernel_source", "kernel_name", "piece_source"]

_LAZY = {
    "KernelPrinter": "derive.codegen.printer",
    "derivation_hash": "derive.codegen.kernel",
    "generate_kernel_source": "derive.codegen.kernel",
    "kernel_name": "derive.codegen.kernel",
    "piece_source": "derive.codegen.elementwise",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'derive.codegen' has no attribute {name!r}")
