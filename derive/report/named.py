"""Each concrete layer's activation by its own name in a displayed equation, at print time only.

The batch forms are proven with sigma undefined (they hold for every activation), so they print ``A^3 = sigma(Z^3)``
even where layer 3 is a ReLU layer. sigma is the book's name for *any* activation and also for the logistic sigmoid;
where a layer is concrete the reader should see that layer's function. This module rewrites, for display only, an
element-wise activation (or its derivative) applied to a concrete layer's ``Z^{l}`` into the named function of
layer ``l``; what was proven (and the derivation hash) is untouched.
"""

from __future__ import annotations

import dataclasses
import re

import sympy as sp

from derive.backprop.batch_nodes import Apply, Fn
from derive.core.steps import Step
from numeric.spec import ModelSpec

__all__ = ["BOOK_NAMES", "NamedApply", "NamedCall", "named_activations", "named_entry", "named_step"]

#: How the book writes each activation; sigmoid stays sigma (there sigma means the sigmoid itself).
BOOK_NAMES = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "elu": "ELU", "gelu": "GELU", "identity": "id",
              "tanh": "tanh", "softplus": "softplus", "swish": "swish", "silu": "SiLU"}
_LAYER = re.compile(r"Z\^\{(\d+)\}")


class NamedApply(Apply):
    """An activation applied by its book name, for display: ``ReLU'`` prints as ``\\operatorname{ReLU}'``, the
    prime in maths (a prime inside ``\\operatorname`` would come out as a text apostrophe)."""

    def _latex(self, printer) -> str:
        base = self.fname.rstrip("'")
        prime = "'" * (len(self.fname) - len(base))
        args = ", ".join(printer._print(o) for o in self.operands)
        return f"\\operatorname{{{base}}}{prime}\\left({args}\\right)"


def _layer_of(node: Apply) -> int | None:
    """The concrete layer of ``f(Z^{l})`` (None for a symbolic l or any other operand)."""
    if len(node.operands) != 1 or not isinstance(node.operands[0], sp.MatrixSymbol):
        return None
    m = _LAYER.fullmatch(node.operands[0].name)
    return int(m.group(1)) if m else None


def named_activations(expr: sp.Basic, spec: ModelSpec) -> sp.Basic:
    """``expr`` with sigma(Z^l) and sigma'(Z^l) of every concrete layer l renamed to that layer's activation."""
    acts = getattr(spec, "activations", None)
    if not acts or not isinstance(expr, sp.Basic):
        return expr

    def rename(node: Apply) -> sp.Basic:
        l = _layer_of(node)
        if l is None or not 1 <= l <= len(acts):
            return node
        name = BOOK_NAMES.get(str(acts[l - 1].name))
        if name is None:
            return node
        return NamedApply(name if node.kind is Fn.FORWARD else name + "'", *node.operands)

    return expr.replace(lambda e: isinstance(e, Apply) and e.kind in (Fn.FORWARD, Fn.DERIVATIVE), rename)


def named_step(step: Step, spec: ModelSpec) -> Step:
    """The step to display: its equation with each concrete layer's activation by name (same label, check, text)."""
    lhs, rhs = named_activations(step.lhs, spec), named_activations(step.rhs, spec)
    entry = None if step.index_form is None else named_entry(step.index_form, spec)
    if lhs == step.lhs and rhs == step.rhs and entry == step.index_form:
        return step
    return dataclasses.replace(step, lhs=lhs, rhs=rhs, index_form=entry)


class NamedCall(sp.Expr):
    """``ReLU'(Z^3_{p,x})``: a named activation (or its derivative) applied to one entry, for display only."""

    def __new__(cls, name: str, arg: sp.Basic) -> NamedCall:
        return sp.Expr.__new__(cls, sp.Symbol(name), arg)

    def _latex(self, printer) -> str:
        name = self.args[0].name
        base = name.rstrip("'")
        return f"\\operatorname{{{base}}}{name[len(base):]}\\left({printer._print(self.args[1])}\\right)"


def _entry_layer(e: sp.Basic) -> int | None:
    """The layer of an entry ``Z^{l}[p, x]`` of a concrete layer's weighted inputs (None otherwise)."""
    if not isinstance(e, sp.matrices.expressions.matexpr.MatrixElement):
        return None
    m = _LAYER.fullmatch(getattr(e.parent, "name", ""))
    return int(m.group(1)) if m else None


def named_entry(expr: sp.Basic, spec: ModelSpec) -> sp.Basic:
    """An index form with sigma(Z^l_{px}) and sigma'(Z^l_{px}) of each concrete layer l by that layer's name."""
    acts = getattr(spec, "activations", None)
    if not acts:
        return expr

    def name_of(e: sp.Basic) -> str | None:
        l = _entry_layer(e)
        return None if l is None or not 1 <= l <= len(acts) else BOOK_NAMES.get(str(acts[l - 1].name))

    def rename_derivative(d: sp.Derivative) -> sp.Basic:
        f = d.expr
        if len(d.variables) == 1 and isinstance(f, sp.Function) and f.args == d.variables:
            name = name_of(f.args[0])
            if name is not None:
                return NamedCall(name + "'", f.args[0])
        return d

    def rename_call(f: sp.Basic) -> sp.Basic:
        name = name_of(f.args[0]) if len(f.args) == 1 else None
        return f if name is None else NamedCall(name, f.args[0])

    expr = expr.replace(lambda e: isinstance(e, sp.Derivative), rename_derivative)
    return expr.replace(lambda e: isinstance(e, sp.core.function.AppliedUndef) and str(e.func) == "sigma",
                        rename_call)
