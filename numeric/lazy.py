"""Lazy exports for a package ``__init__``: public names are imported from their modules on first use.

``import derive`` (and every subpackage) then loads no SymPy and no NumPy until a name is used, so ``bpv --help``
stays fast and ``numeric.blas`` can pin BLAS before NumPy loads. One helper for every package, so the pattern is
written once::

    _LAZY = {"verify": "derive.verification.api", ...}
    __getattr__, __dir__ = lazy_exports(__name__, _LAZY)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, table: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module ``__getattr__`` that resolves ``table[name]`` (a module path) on first use, and its ``__dir__``."""

    def __getattr__(name: str) -> Any:
        if name in table:
            return getattr(importlib.import_module(table[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*vars(importlib.import_module(package)), *table})

    return __getattr__, __dir__
