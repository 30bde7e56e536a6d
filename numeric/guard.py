"""Calls into the user's code, watched: a mutation of the parameters, or an exit, is bad input, never a verdict.

A gradient check differentiates ``loss`` around ``params``; a ``loss`` or ``grad`` that changes ``params`` in place
(an optimiser step hidden in ``grad``, an in-place normalisation in ``loss``) moves the point while it is being
measured, so every number after it is meaningless. :class:`Watched` compares the arrays before and after every call
(a copy and a compare: memory passes, cheap beside a forward pass) and raises :class:`~numeric.errors.BadInput`
naming the call and the key. A ``sys.exit`` inside the user's code is caught the same way; an ``os._exit`` cannot be
caught in-process, which is why ``bpv gradcheck`` runs the whole check in a child process
(:mod:`derive.cli.isolation`).

Listeners (:func:`listening`) learn which user call is running — ``bpv gradcheck`` uses that to say "the problem
file ended the process during loss()".
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from numeric.errors import BadInput

__all__ = ["Watched", "announce", "listening"]

_listeners: list[Callable[[str], None]] = []
_current: list[str] = [""]


@contextlib.contextmanager
def listening(listener: Callable[[str], None]) -> Iterator[None]:
    """Call ``listener(name)`` whenever a different user call (``"loss()"``, ``"grad()"``, ...) starts."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def announce(name: str) -> None:
    """Tell the listeners that the user call ``name`` starts (only on a change: FD loops call loss 1000s of times)."""
    if _listeners and _current[0] != name:
        _current[0] = name
        for listener in list(_listeners):
            listener(name)


def _changed(before: Mapping[str, np.ndarray], after: Mapping[str, Any]) -> str | None:
    for key, old in before.items():
        new = after.get(key)
        if not isinstance(new, np.ndarray) or new.shape != old.shape:
            return key
        # the plain compare is the fast path (equal_nan costs 5x); NaNs that stayed NaN are no change
        if not np.array_equal(new, old) and not np.array_equal(new, old, equal_nan=True):
            return key
    return None


class Watched:
    """``fn(params)`` for the user's ``fn``, raising BadInput when it mutates ``params`` or exits the process.

    Attributes of ``fn`` (``batch_size``, a vectorised ``perturbed``) stay reachable through the wrapper.
    """

    def __init__(self, fn: Callable[[Mapping[str, Any]], Any], label: str, hint: str = ""):
        self.fn = fn
        self.label = label
        self.hint = hint

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fn, name)

    def __call__(self, params: Mapping[str, Any]) -> Any:
        announce(self.label)
        before = {k: np.array(v, copy=True) for k, v in params.items() if isinstance(v, np.ndarray)}
        try:
            out = self.fn(params)
        except SystemExit as err:
            raise BadInput(f"{self.label} called sys.exit({err.code!r}): the check cannot go on; a loss or "
                           "gradient function must return, not end the program") from None
        key = _changed(before, params)
        if key is not None:
            old, new = before[key], np.asarray(params[key])
            size = ""
            if new.shape == old.shape:
                size = f" (max change {float(np.max(np.abs(new - old))):.3g})"
            raise BadInput(f"{self.label} changed params[{key!r}] in place{size}: the check differentiates around "
                           f"fixed parameters, so a call must leave them alone (copy before modifying){self.hint}")
        return out
