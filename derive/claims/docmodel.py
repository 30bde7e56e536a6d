"""The document's own model: its cost definition, its forward pass and its stated values decide, not a default.

Issue 15: a document that writes ``C = \\sum_j (y_j - a_j)^2`` means the squared error, not the default ½‖·‖². So a
definition of the model is *judged against candidates* and the candidate under which it holds is adopted for the
rows after it (:func:`adopt`):

* a cost definition (``C = ...``, ``J = ...``, ``\\mathcal{L} = ...``): every cost of the registry, with either
  reduction; none holds (or it cannot be read) and the cost becomes *unknown*;
* a forward equation (``a^l = \\sigma(w^l a^{l-1} + b^l)``, ``Z = XW + b``, ``h = \\tanh(W_1 x + b_1)``): the
  layout, the depth and the activation of that layer;
* an activation definition (``g(z) = \\tanh(z)``): the hidden layers' activation.

A number stated in the text (``m = 20``, ``x = 3``) is a definition, never refuted. With the cost unknown, a claim is
refuted only when it fails under every cost (:func:`robust`): the default is a guess, so a refutation must not
depend on it. Everything here returns plain data; the caller (:mod:`derive.claims.document`) applies it.
"""

from __future__ import annotations

import re
from dataclasses import replace

import sympy as sp

from derive.claims.ir import Act, Mat, Partial, cost_symbol
from derive.claims.notation import Unparsed, echo, resolve_bare, understand
from derive.claims.semantics import Context
from derive.claims.verdicts import Verdict, judge
from derive.core.symbols import a as a_base
from derive.core.symbols import z as z_base
from numeric.functions import ACTIVATIONS, COSTS
from numeric.spec import ModelSpec

__all__ = ["COST_NAME", "adopt", "cost_definition", "forward_definition", "is_cost_name", "robust", "stated_value",
           "with_spec"]

#: the left side of a cost definition: C, J, L, E, C_x, \mathcal{L}, C_{MSE}, L(\hat y, y)
COST_NAME = re.compile(r"^(C|J|L|E|\\mathcal\{?[CLJE]\}?)(_\{?[A-Za-z]{1,4}\}?|_\{\\(text|mathrm)\{[A-Za-z]{1,4}\}\})?"
                       r"(\(.{0,40}\))?$")
_ELEMENTWISE = [n for n, a in ACTIVATIONS.items() if getattr(a, "derivative", None) is not None]


def is_cost_name(text: str) -> bool:
    return COST_NAME.match(text.replace(" ", "")) is not None


def with_spec(context: Context, **changes) -> Context | None:
    """The context with a changed model (``cost``, ``reduction``, ``layout``, ``net``, ``acts``); None if invalid."""
    spec = context.spec
    acts = changes.pop("acts", [str(a) for a in spec.activations])
    net = changes.pop("net", list(spec.sizes))
    try:
        new = ModelSpec.build(net, acts, changes.get("cost", spec.cost), changes.get("reduction", spec.reduction),
                              changes.get("layout", spec.layout), spec.bias, **spec.extras_dict())
    except Exception:  # a combination the spec refuses (e.g. a cost the output activation cannot feed)
        return None
    return replace(context, spec=new, cost_known=context.cost_known or "cost" in changes)


def _proven(lhs, rhs, context: Context | None, seed: int) -> bool:
    return context is not None and judge(lhs, rhs, context, seed, diagnose=False).verdict == "proven"


def cost_definition(rhs_tokens, context: Context, seed: int) -> dict:
    """``C = ...``: a definition; the cost of the registry it is (adopted after it), or the cost becomes unknown."""
    try:
        (rhs,) = resolve_bare([understand(rhs_tokens)])
    except Unparsed as err:
        return {"understood": None, "verdict": "definition", "adopt": {"cost_known": False},
                "reason": f"defines the cost (not understood: {err.reason}): claims that depend on the cost are "
                          "refuted only when they fail under every cost"}
    out = {"understood": f"C = {echo(rhs)}", "verdict": "definition"}
    # with an L2 term the registry's costs are C_0, the cost without it (the term is the model's: l2=)
    lhs, spec = cost_symbol("C_0" if context.spec.penalty is not None else "C"), context.spec
    if _proven(lhs, rhs, context, seed):
        out["reason"] = f"defines the cost: the model's {spec.cost} cost ({spec.reduction} over the batch)" + \
            (" without its L2 term (C_0)" if spec.penalty is not None else "")
        out["adopt"] = {"cost": spec.cost, "reduction": str(spec.reduction)}
        return out
    for cost in COSTS:
        for reduction in dict.fromkeys((str(spec.reduction), "mean", "sum")):
            if (cost, reduction) != (spec.cost, str(spec.reduction)) and \
                    _proven(lhs, rhs, with_spec(context, cost=cost, reduction=reduction), seed):
                out["reason"] = f"defines the cost: the {cost} cost ({reduction} over the batch)" + \
                    (" without its L2 term (C_0)" if spec.penalty is not None else "") + ", used from here on"
                out["adopt"] = {"cost": cost, "reduction": reduction}
                return out
    out["reason"] = "defines a cost that is none of bpv's costs: claims that depend on the cost are refuted only " \
                    "when they fail under every cost"
    out["adopt"] = {"cost_known": False}
    return out


def _layer_of(lhs) -> sp.Expr | None:
    if isinstance(lhs, Mat) and lhs.name in ("a", "A", "z", "Z") and lhs.sample is None:
        return lhs.layer
    if isinstance(lhs, sp.Indexed) and lhs.base in (a_base, z_base):
        return lhs.indices[0]
    return None


def forward_definition(lhs, rhs, context: Context, seed: int) -> dict | None:
    """A forward equation that fails on the model: the layout, depth or activation under which it holds, or None."""
    layer = _layer_of(lhs)
    if layer is None or rhs.has(Partial) or isinstance(lhs, Act):
        return None
    spec = context.spec
    tries: list[tuple[dict, str]] = []
    for layout in dict.fromkeys((str(spec.layout), "columns", "rows")):
        for depth in dict.fromkeys((spec.L, 1, 2)):
            net = list(spec.sizes) if depth == spec.L else [2, *([3, 2][:depth - 1]), 2][: depth + 1]
            acts = [str(a) for a in spec.activations] if depth == spec.L else [str(spec.activations[-1])] * depth
            tries.append(({"layout": layout, "net": net, "acts": acts}, f"the {layout} layout, {depth} layer(s)"))
    found = _first(lhs, rhs, context, seed, tries)
    if found is None:
        found = _first(lhs, rhs, context, seed, _activation_tries(spec, layer))
    return found


def _activation_tries(spec: ModelSpec, layer) -> list[tuple[dict, str]]:
    layers = range(1, spec.L + 1)
    if layer.is_number:
        layers = [int(layer)]
    elif layer.free_symbols and str(layer) in ("L", "L - 1") and spec.L > 1:
        layers = [spec.L if str(layer) == "L" else spec.L - 1]
    out = []
    for name in _ELEMENTWISE:
        acts = [str(a) for a in spec.activations]
        for k in layers:
            if 1 <= k <= spec.L:
                acts[k - 1] = name
        if acts != [str(a) for a in spec.activations]:
            out.append(({"acts": acts}, f"activation {name} in layer(s) {', '.join(map(str, layers))}"))
    return out


def _first(lhs, rhs, context: Context, seed: int, tries) -> dict | None:
    for changes, what in tries:
        ctx = with_spec(context, **dict(changes))
        if ctx is not None and ctx.spec != context.spec and _proven(lhs, rhs, ctx, seed):
            adopt = {"net": "-".join(map(str, ctx.spec.sizes)), "act": ctx.spec.act_text,
                     "layout": str(ctx.spec.layout)}
            return {"verdict": "definition", "reason": f"the document's forward pass: holds with {what}, used from "
                    "here on", "adopt": adopt}
    return None


def stated_value(sides) -> bool:
    """``m = 20``, ``x = 3``, ``\\eta = 0.5``: a value stated in the text (one side a number, the other a name)."""
    if len(sides) != 2:
        return False
    texts = ["".join(t.text for t in s) for s in sides]
    return any(re.fullmatch(r"-?\d+(\.\d+)?", x) for x in texts) and \
        any(re.fullmatch(r"\\?[A-Za-z]+(_\{?[A-Za-z0-9]+\}?)?", x) for x in texts)


def robust(lhs, rhs, context: Context, seed: int, verdict: Verdict) -> Verdict:
    """With the cost unknown, a refutation stands only if the claim fails under every cost of the registry."""
    if verdict.verdict != "refuted" or context.cost_known:
        return verdict
    for cost in COSTS:
        ctx = with_spec(context, cost=cost)
        if ctx is not None and cost != context.spec.cost and \
                judge(lhs, rhs, ctx, seed, diagnose=False).verdict in ("proven", "ambiguous"):
            return Verdict("not checkable", f"holds with the {cost} cost but not with {context.spec.cost}; the "
                           "document's cost is not known (define it, or give --cost)", verdict.method)
    return verdict


def adopt(context: Context, changes: dict, source: str) -> Context:
    """The context after a definition: the keys of ``changes`` (cost, reduction, net, act, layout, cost_known)."""
    if set(changes) == {"cost_known"}:
        return replace(context, cost_known=changes["cost_known"])
    spec = context.spec
    acts = changes.get("act", [str(a) for a in spec.activations])
    new = ModelSpec.build(changes.get("net", list(spec.sizes)), acts, changes.get("cost", spec.cost),
                          changes.get("reduction", spec.reduction), changes.get("layout", spec.layout), spec.bias,
                          **spec.extras_dict())  # the document's blocks (directive) stay
    declared = context.declared or "net" in changes or "layout" in changes  # the document's own forward pass
    return Context(new, source, context.dz, context.cost_known or "cost" in changes, context.jacobian, declared)
