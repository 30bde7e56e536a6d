"""The one adapter around ``latex2sympy2``: nothing else in bpv imports it.

``parse_side(tex)`` parses ONE side of a relation (never a whole equation) that the notation layer
(:mod:`derive.claims.notation`) has already rewritten: neural-network names replaced by placeholder symbols
``\\mathit{qN}``, so ``latex2sympy2`` only sees numbers, ``+ - \\cdot \\frac ^ \\sum`` and parentheses.

Guards, because the package keeps module-level state and has sharp edges (docs/conventions.md § LaTeX in):

* text holding a relation or an assignment (``=``, ``:=``, ``\\equiv``, ``\\in``, ``<``...) is refused before the
  call: its assignment rule stores ``x := ...`` in a global table (and solves equations for ``f(x) := ...``), its
  ``\\in`` rule declares matrix symbols globally;
* ``\\variable{...}`` is refused (its values go through ``parse_expr``, i.e. ``eval``);
* length and brace depth are bounded (the ANTLR parser recurses; 10,000 nested braces would overflow the stack);
* every global of the module (``var``, ``variances``, ``VARIABLE_VALUES``, ``is_real``, ``frac_type``) is saved
  before the call and restored after it, whatever happens: parsing a differential such as ``dZ`` *replaces* its
  ``var`` table by a Symbol and breaks every later call;
* the result is checked to be a SymPy ``Expr`` built only from the node types the notation layer expects.

Errors come back as :class:`ParseFailure` with a short reason and, where the parser gave one, a column.
"""

from __future__ import annotations

import re
from functools import lru_cache

import sympy as sp

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "ParseFailure", "latex2sympy_module", "parse_side"]

MAX_LENGTH = 4000
MAX_DEPTH = 40

_REFUSED = re.compile(
    r":=|\\coloneqq|\\equiv|\\in\b|\\variable|\\eqqcolon|=|<|>|\\le\b|\\ge\b|\\leq|\\geq|\\neq|\\ne\b|\\approx|"
    r"\\def|\\csname|\\input|\\include|\\write|\\immediate|\\catcode|\\newcommand|\\renewcommand|\\let\b"
)
_GLOBALS = ("var", "variances", "VARIABLE_VALUES", "is_real", "frac_type")


class ParseFailure(ValueError):
    """``latex2sympy2`` could not read a side: ``reason`` for the user, ``column`` where known."""

    def __init__(self, reason: str, column: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.column = column


def _depth(text: str) -> int:
    depth = best = 0
    for c in text:
        if c in "{(":
            depth += 1
            best = max(best, depth)
        elif c in "})":
            depth -= 1
    return best


_l2s = None


def latex2sympy_module():
    """The ``latex2sympy2`` module, imported on first use (the one import of it in bpv; tests spy on its parser)."""
    global _l2s
    if _l2s is None:
        try:
            import latex2sympy2  # the only import of latex2sympy2 in bpv
        except ImportError as err:  # e.g. Python 3.13, where latex2sympy2 1.9.1 does not run
            raise ParseFailure(f"latex2sympy2 is not available ({err}); install it on Python 3.10-3.12") from None
        _l2s = latex2sympy2
    return _l2s


def _snapshot(mod) -> dict:
    state = {}
    for name in _GLOBALS:
        value = getattr(mod, name, None)
        state[name] = dict(value) if isinstance(value, dict) else value
    return state


def _restore(mod, state: dict) -> None:
    for name, value in state.items():
        setattr(mod, name, dict(value) if isinstance(value, dict) else value)


def _check_result(expr) -> sp.Expr:
    if isinstance(expr, (list, tuple, dict)) or not isinstance(expr, sp.Expr):
        raise ParseFailure("not a single expression")
    for node in sp.preorder_traversal(expr):
        if isinstance(node, (sp.Eq, sp.Rel)):
            raise ParseFailure("a relation inside one side")
        if isinstance(node, (sp.Integral, sp.Limit, sp.Derivative, sp.Product, sp.MatrixBase, sp.MatrixExpr)):
            raise ParseFailure(f"{type(node).__name__.lower()} is not supported here")
    return expr


def parse_side(tex: str) -> sp.Expr:
    """Parse one rewritten side with ``latex2sympy2`` (see the module doc for the guards)."""
    if len(tex) > MAX_LENGTH:
        raise ParseFailure(f"too long to parse ({len(tex)} characters, limit {MAX_LENGTH})")
    if _depth(tex) > MAX_DEPTH:
        raise ParseFailure(f"nested more than {MAX_DEPTH} levels deep")
    m = _REFUSED.search(tex)
    if m:
        raise ParseFailure(f"'{m.group(0)}' is not allowed inside one side of a relation", m.start())
    if not tex.strip():
        raise ParseFailure("empty side")
    return _parse_checked(tex)


@lru_cache(maxsize=2048)
def _parse_checked(tex: str) -> sp.Expr:
    """The guarded call (results are immutable SymPy trees, so they are cached by text)."""
    mod = latex2sympy_module()
    state = _snapshot(mod)
    try:
        result = mod.latex2sympy(tex)
    except RecursionError:
        raise ParseFailure("nested too deeply for the parser") from None
    except Exception as err:  # latex2sympy2 raises bare Exception with a caret diagram
        lines = str(err).splitlines()
        column = None
        if len(lines) >= 3 and "^" in lines[-1]:
            column = lines[-1].index("^")
        raise ParseFailure(lines[0] if lines else type(err).__name__, column) from None
    finally:
        _restore(mod, state)
    return _check_result(result)
