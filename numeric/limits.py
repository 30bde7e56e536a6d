"""The bounds on what a spec may say, the exact text of the numbers that identify a model, and its digest.

Kept apart from :mod:`numeric.spec` so that every spec kind (dense, convolutional, recurrent) reads the same bounds.
"""

from __future__ import annotations

import hashlib
import json

__all__ = ["MAX_ACT_PARAM", "MAX_UNITS", "exact_text", "spec_digest"]

#: the widest layer a spec accepts (a bound on the text, so that 5000 digits are refused as a size, not parsed);
#: what fits in memory is decided where arrays are allocated
MAX_UNITS = 10**8
#: the largest |parameter| of an activation (leaky_relu's slope, elu's alpha): beyond it every check overflows
MAX_ACT_PARAM = 1e3


def exact_text(value: float) -> str:
    """The shortest text of ``value`` that reads back as the same float: ``0.5``, ``1e-05``, ``0.123456789``.

    What identifies a model (hashes, slugs, cache keys, kernel names, the flags that rebuild it) must keep every digit:
    ``:g`` alone makes 0.123456789 and 0.1234571 the same text.
    """
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


def spec_digest(d: dict) -> str:
    """The hash of a spec from its ``to_dict`` data without the name: what every spec kind's ``hash()`` returns."""
    data = {k: v for k, v in d.items() if k != "name"}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
