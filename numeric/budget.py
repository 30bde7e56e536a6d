"""Memory budgets: how much a check of a model will allocate, estimated before anything is allocated.

``bpv verify`` holds several copies of every parameter block at once (the parameters, each witness's gradients, the
complex-step copy at twice the size, torch's tensors), so a model with 4e8 parameters needs tens of gigabytes and
used to end in an out-of-memory kill or a ``MemoryError`` called "NOT verified". :func:`check_memory` refuses such a
model up front with the estimate and what fits. The budget is ``$BPV_MEMORY_BUDGET`` (bytes, or with a suffix
``K``/``M``/``G``), default half of the machine's physical memory.
"""

from __future__ import annotations

import os
import re

from numeric.errors import BadInput

__all__ = ["VERIFY_COPIES", "check_memory", "format_bytes", "memory_budget"]

#: float64 copies of the parameters a verification holds at its peak (measured on 784-100-10: about 9; rounded up)
VERIFY_COPIES = 12

_SUFFIX = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def _physical() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not on Linux: a conservative guess
        return 8 * 2**30


def memory_budget() -> int:
    """The budget in bytes (module doc); BadInput for a ``$BPV_MEMORY_BUDGET`` that is not a size."""
    text = os.environ.get("BPV_MEMORY_BUDGET", "").strip()
    if not text:
        return _physical() // 2
    found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?", text, flags=re.IGNORECASE)
    if found is None or float(found.group(1)) <= 0:
        raise BadInput(f"BPV_MEMORY_BUDGET={text!r} is not a size; give bytes or e.g. 4G")
    return int(float(found.group(1)) * _SUFFIX[found.group(2).upper()])


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover


def check_memory(what: str, n_params: int, copies: int, hint: str) -> None:
    """BadInput when ``copies`` float64 copies of ``n_params`` exceed the budget, with the estimate and ``hint``."""
    need = n_params * 8 * copies
    budget = memory_budget()
    if need > budget:
        raise BadInput(f"{what} has {n_params:,} parameters: this needs about {format_bytes(need)} "
                       f"({copies} copies of {format_bytes(n_params * 8)}), over the memory budget of "
                       f"{format_bytes(budget)} (BPV_MEMORY_BUDGET); {hint}")
