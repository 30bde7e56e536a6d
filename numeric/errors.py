"""Errors that mean "the input was wrong" (CLI exit code 2), as opposed to bugs or failed checks.

Every user-facing module raises :class:`BadInput` (or a subclass) with one sentence that says what was wrong,
where, and what is accepted; the CLI prints that sentence and exits 2 without a traceback.
"""

from __future__ import annotations

__all__ = ["BadInput", "SpecError"]


class BadInput(ValueError):
    """Input that bpv cannot use. ``str(err)`` is one line meant for the user."""


class SpecError(BadInput):
    """A model specification that is malformed or inconsistent."""
