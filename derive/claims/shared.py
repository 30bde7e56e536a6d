r"""Claims about the layers with shared weights: a 2-D convolution, a 2 x 2 max-pool and a vanilla RNN (issue 14).

:func:`check_shared` judges a row of a document whose model is a convolutional net (``lenet_tiny``, ``--net
1x8x8-c4k3p1-pool2-flat-10``) or a recurrent net (``char_rnn``, ``--rnn 5-8-5``), following the design of the block
claims (:mod:`derive.claims.blocks`): the claim is read in the layer's own names (:mod:`derive.claims.shared_reader`,
:mod:`derive.claims.shared_names`), both sides are evaluated at the derivation's concrete sizes and compared entry by
entry with what SymPy derived from the definition, and a refuted claim is diagnosed by the layer's classic slips,
the repair re-checked.

* convolution and max-pool: :mod:`derive.claims.shared_conv` (index notation; the convolution's verdict is
  :func:`derive.layers.conv.check_dx_form` and its siblings: *exhaustive at the stated sizes*, symbolic);
* the recurrent net: :mod:`derive.claims.shared_rnn` (matrix notation; :func:`derive.layers.rnn.check_form`:
  numeric, 60-digit arithmetic).

What the reader does not understand is *not checkable*, with the reason (never refuted).
"""

from __future__ import annotations

import itertools

import sympy as sp

from derive.claims.docmodel import stated_value
from derive.claims.relations import Relation
from derive.claims.semantics import Context, NotCheckable
from derive.claims.shared_conv import (
    CONSTANTS,
    Evaluator,
    claim_letters,
    conv_scope,
    conv_sizes,
    pool_entries,
    pool_sizes,
    pool_truth,
    refs,
)
from derive.claims.shared_names import conv_namer, conv_partial, rnn_namer, rnn_partial
from derive.claims.shared_reader import Ind, Num, Op, Pos, Ref, SharedReader, letter, to_latex
from derive.claims.shared_rnn import judge_rnn
from derive.claims.tokens import Unparsed
from derive.layers import conv

__all__ = ["check_shared", "describe", "is_shared"]

#: the three gradients of a convolution: the check of derive.layers.conv, its textbook form, what its entries are
_CONV = {"dK": (conv.check_dk_form, conv.dk_form, "kernel"), "db": (conv.check_db_form, conv.db_form, "bias"),
         "dX": (conv.check_dx_form, conv.dx_form, "input")}


def is_shared(context: Context) -> bool:
    """The context's model has shared weights (a convolutional or recurrent net)."""
    return getattr(context.spec, "kind", "dense") in ("conv", "rnn")


def describe(context: Context) -> str:
    """The context in one line (Context.describe is the dense nets')."""
    if not is_shared(context):
        return context.describe()
    return f"{context.spec.title}: {context.spec.net} ({context.source})"


def check_shared(rel: Relation, context: Context, seed: int = 0) -> dict:
    """The verdict on a row of a document whose model has shared weights (see the module doc)."""
    kind = rel.kind
    if kind != "equation":
        what = {"no relation": "no relation: an expression, not a claim", "definition": "a definition: nothing "
                "to check", "update rule": "an update rule (it has a learning rate), not an identity"}
        verdict = "definition" if kind == "definition" else "not checkable"
        return {"understood": None, "verdict": verdict, "reason": what.get(kind, f"'{rel.ops[0]}' is not an "
                                                                              "equality")}
    if stated_value(rel.sides):
        return {"understood": None, "verdict": "definition", "reason": "a value stated in the text"}
    rnn = context.spec.kind == "rnn"
    reader = SharedReader(rnn_namer, rnn_partial) if rnn else SharedReader(conv_namer, conv_partial)
    forward = _forward(reader, rel.sides[0])
    if forward is not None:
        return {"understood": None, "verdict": "not checkable", "reason": forward}
    operator = next((t.text for side in rel.sides for t in side if t.text in _OPERATORS), None)
    if operator is not None and not rnn:
        return {"understood": None, "verdict": "not checkable",
                "reason": f"not checkable: a convolution in operator notation ({operator}); its stride, padding and "
                          "flip are not read from it: write the claim entry by entry, e.g. dX_{n,c,h,w} = "
                          "\\sum_{o,u,v} \\delta_{n,o,(h+p-u)/s,(w+p-v)/s} K_{o,c,u,v}"}
    try:
        sides = [reader.side(s) for s in rel.sides]
    except (Unparsed, NotCheckable) as err:
        first = [t.text for t in rel.sides[0]]
        if len(first) == 1 and len(first[0]) == 1 and first[0].islower() and not rnn:
            return {"understood": None, "verdict": "not checkable",
                    "reason": "not checkable: a relation between index letters, not a claim about the layer's arrays"}
        return {"understood": None, "verdict": "not checkable", "reason": f"not checkable: {_why(err)}"}
    understood = " = ".join(to_latex(s) for s in sides)
    if len(sides) != 2:
        return {"understood": understood, "verdict": "not checkable",
                "reason": "not checkable: a chain of equalities (state each step on its own)"}
    lhs, rhs = sides
    if isinstance(lhs, Ref) and isinstance(rhs, Ref) and lhs.name == rhs.name == "G":
        return {"understood": understood, "verdict": "definition",
                "reason": "names the upstream gradient: read as G = dC/dY, the gradient every claim of the layer "
                          "takes as given"}
    try:
        out = judge_rnn(lhs, rhs) if rnn else _judge_conv_or_pool(lhs, rhs, context)
    except NotCheckable as err:
        return {"understood": understood, "verdict": "not checkable", "reason": f"not checkable: {err}"}
    return {"understood": understood, **out}


#: the operators notes write a convolution with (CS231n's conv(x, w), rot180, a star): not read
_OPERATORS = ("\\star", "\\ast", "\\circledast", "\\otimes", "*")
#: the forward quantities: an equation with one of them on the left is the forward pass, not a gradient claim
_FORWARD = ("P", "X", "K", "b", "h", "a", "z", "p", "x", "y")


def _forward(reader: SharedReader, lhs_toks) -> str | None:
    """The reason a row is the forward pass (its left side a forward quantity: Y, P, h_t, a_t, ...), else None."""
    try:
        lhs = reader.side(lhs_toks)
    except (Unparsed, NotCheckable):
        return None
    if isinstance(lhs, Ref) and lhs.name in _FORWARD and not (lhs.tag or "").startswith("partial"):
        return (f"the forward pass ({to_latex(lhs)} = ...): a definition of the layer, taken as written; bpv checks "
                "this layer's gradient claims against the derivation from its own definition")
    return None


def _why(err: Exception) -> str:
    reason = getattr(err, "reason", str(err))
    return f"{reason} (read here: the names of the layer, in index notation for a convolution or max-pool, " \
           "matrix notation for a recurrent net; see docs/check.md)"


def _lhs_letters(lhs: Ref) -> dict[str, int]:
    """The left side's index letters and their positions (each a distinct bare letter)."""
    names = []
    for e in lhs.idx:
        if not e.is_Symbol:
            raise NotCheckable(f"the left side's index {sp.latex(e)}: give each index as one letter")
        names.append(e.name)
    if len(set(names)) != len(names):
        raise NotCheckable("the same index letter twice on the left side")
    return {n: k for k, n in enumerate(names)}


def _judge_conv_or_pool(lhs: object, rhs: object, context: Context) -> dict:
    if not isinstance(lhs, Ref) or lhs.name not in _CONV:
        raise NotCheckable("the left side is not dK (dW), db or dX of the layer: only gradient claims of a "
                           "convolution or max-pool are checked (the dense head is a dense net: check it with "
                           "--net ...)")
    names = {r.name for r in refs(rhs)}
    if lhs.name == "dX" and len(lhs.idx) == 2 and "K" not in names:
        return _judge_pool(lhs, rhs, context)
    if "P" in names:
        raise NotCheckable("the pooled output P in a claim about the convolution")
    return _judge_conv(lhs, rhs, context)


# ----- convolution --------------------------------------------------------------------------------------------------
def _constants(lhs: Ref, rhs: object) -> set[str]:
    used, bound = claim_letters(rhs)
    return {c for c in CONSTANTS if c in used and c not in bound and c not in _lhs_letters(lhs)}


def _form(lhs: Ref, rhs: object, scope, textbook):
    """The claim as a form (size, *entry) -> expression of Indexed entries; outside the scope the derivation's own
    proven form (so only the claim's sizes decide)."""
    at = _lhs_letters(lhs)
    letters = _constants(lhs, rhs)

    def form(size, *entry):
        if size not in scope:
            return textbook(size, *entry)
        consts = {"s": size.stride, "p": size.padding, "k": size.k}
        env = {c: consts[c] for c in letters} | {n: entry[k] for n, k in at.items()}
        return Evaluator(conv_sizes(size), {c: consts[c] for c in CONSTANTS}).value(rhs, env)

    return form


def _conv_holds(lhs: Ref, rhs: object, scope) -> tuple[bool, object]:
    check_fn, textbook, _what = _CONV[lhs.name]
    chk = check_fn(_form(lhs, rhs, scope, textbook))
    return chk.holds is True, chk


def _judge_conv(lhs: Ref, rhs: object, context: Context) -> dict:
    arity = {"dK": 4, "db": 1, "dX": 4}[lhs.name]
    if len(lhs.idx) != arity:
        raise NotCheckable(f"{to_latex(lhs)}: a convolution's {lhs.name} has {arity} indices "
                           f"({'o,c,u,v' if lhs.name == 'dK' else 'o' if arity == 1 else 'n,c,h,w'})")
    general = bool(_constants(lhs, rhs) & {"s", "p"})
    pairs = {(c.stride, c.pad) for c in context.spec.convs}
    scope = conv_scope(general, pairs)
    if not scope:
        raise NotCheckable(f"the model's convolution (stride, padding) {sorted(pairs)} is not among the sizes the "
                           "derivation is exhaustive at (stride 1 or 2, padding 0 or 1): write the claim with s and p")
    for r in refs(rhs):
        Evaluator(conv_sizes(scope[0]), {}).shape(r)  # the number of indices of every array, before any sum
    holds, chk = _conv_holds(lhs, rhs, scope)
    where = "; ".join(f"({s.text()})" for s in scope)
    entries = sum(_count(s, lhs.name) for s in scope)
    what = _CONV[lhs.name][2]
    if holds:
        which = "every stride and padding the derivation has" if general else "the model's stride and padding"
        method = (f"{chk.strength.value if chk.strength else 'symbolic'}: exhaustive at the stated sizes ({which}): "
                  f"every one of the {entries} {what} entries at {where} equals sympy.diff of the cost written out "
                  f"there (derive.layers.conv.check_{lhs.name.lower()}_form: the difference expands to 0)")
        return {"verdict": "proven", "reason": "holds", "method": method,
                "strength": chk.strength.value if chk.strength else "symbolic"}
    failure = f"counterexample: {_where(chk.method)} differs from sympy.diff of the cost written out there"
    pads = {pad for _stride, pad in pairs}
    pad = letter("p") if general or len(pads) != 1 else sp.Integer(next(iter(pads)))
    for text, fixed in _conv_variants(lhs, rhs, general, pad):
        try:
            ok = _conv_holds(lhs, fixed, scope)[0]
        except NotCheckable:
            ok = False
        if ok:
            return {"verdict": "refuted", "reason": f"{text}; {failure}", "method": "counterexample",
                    "diagnosis": text, "counterexample": chk.counterexample,
                    "repair": f"{to_latex(lhs)} = {to_latex(fixed)}"}
    return {"verdict": "refuted", "reason": failure, "method": "counterexample", "diagnosis": None,
            "counterexample": chk.counterexample}


def _where(method: str) -> str:
    """``dX[0, 0, 0, 1] at (sizes)`` from the method of derive.layers.conv's Check (``strength: where: how``)."""
    parts = method.split(": ", 2)
    return parts[1] if len(parts) == 3 else method


def _count(size, name: str) -> int:
    return {"dK": len(size.kernel_entries()), "db": size.c_out, "dX": len(size.input_entries())}[name]


def _map_refs(node: object, fn) -> object:
    if isinstance(node, Ref):
        return fn(node)
    if isinstance(node, Op):
        return Op(node.op, tuple(_map_refs(a, fn) for a in node.args))
    if hasattr(node, "body"):
        return type(node)(node.letters, node.lo, node.hi, _map_refs(node.body, fn))
    return node


def _spatial(name: str, change):
    """A map of the references called ``name``: their two spatial indices changed by ``change``."""
    def fn(r: Ref) -> Ref:
        if r.name != name or len(r.idx) != 4:
            return r
        return Ref(r.name, (*r.idx[:2], change(r.idx[2], 2), change(r.idx[3], 3)), r.stem, r.tag)
    return fn


def _output_letters(rhs: object) -> dict[int, sp.Expr]:
    """The letters of G's spatial positions (i, j), by axis."""
    return {p: e for r in refs(rhs) if r.name == "G" and len(r.idx) == 4 for p, e in enumerate(r.idx)
            if p >= 2 and e.is_Symbol}


def _conv_slips(lhs: Ref, rhs: object, general: bool, pad: sp.Expr) -> list[tuple[str, object]]:
    """The convolution's own slips, each a (words, map of the tree that undoes it); ``pad`` is the padding the
    repair writes (the letter p for a claim about every padding, the model's padding for one about its layer)."""
    s, p, k = letter("s"), pad, letter("k")
    has = claim_letters(rhs)[0]
    slips: list[tuple[str, object]] = []
    if lhs.name == "dX":
        if any(r.name == "K" for r in refs(rhs)) and "k" not in _lhs_letters(lhs):
            slips.append(("unflipped kernel: dX is the full convolution of G with the kernel rotated by 180 degrees, "
                          "K_{o,c,k-1-u,k-1-v} (without the flip it is a correlation)",
                          _spatial("K", lambda e, _a: k - 1 - e)))
        if "p" not in has:
            slips.append(("padding ignored: input row h is row h + p of the padded input",
                          _spatial("G", lambda e, _a: e + p)))
        if "s" not in has and general:
            slips.append(("stride ignored: input row h receives G at output row (h + p - u)/s only where that is an "
                          "integer (G dilated by the stride)", _spatial("G", lambda e, _a: e / s)))
    if lhs.name == "dK":
        outs = _output_letters(rhs)
        if "p" not in has:
            slips.append(("padding ignored: with padding p, output i reads row i s + u - p of the unpadded input",
                          _spatial("X", lambda e, _a: e - p)))
        if "s" not in has and general and outs:
            slips.append(("stride ignored: output position i reads input row i s + u (the stride multiplies the "
                          "output index)", _spatial("X", lambda e, a: e.xreplace({outs[a]: outs[a] * s})
                                                    if a in outs else e)))
    return slips


def _conv_variants(lhs: Ref, rhs: object, general: bool, pad: sp.Expr):
    """(the slips in words, the right side with them undone): one slip, then two and three together (in the order
    they apply: flip, padding, stride), then sign and factor 2."""
    slips = _conv_slips(lhs, rhs, general, pad)
    for size in range(1, len(slips) + 1):
        for combo in itertools.combinations(slips, size):
            fixed = rhs
            for _text, fn in combo:
                fixed = _map_refs(fixed, fn)
            yield "; and ".join(text for text, _fn in combo), fixed
    yield "sign: the right side has the wrong sign", Op("neg", (rhs,))
    yield "factor 2: the right side is half the true value", Op("mul", (Num(sp.Integer(2)), rhs))
    yield "factor 2: the right side is twice the true value", Op("div", (rhs, Num(sp.Integer(2))))


# ----- max-pool -------------------------------------------------------------------------------------------------------
def _pool_layer_ok(context: Context) -> None:
    pools = [x for x in context.spec.layers if getattr(x, "kind", "") == "maxpool"]
    if not pools:
        raise NotCheckable("the model has no max-pool layer")
    if any((x.k, x.stride) != (2, 2) for x in pools):
        raise NotCheckable("the derivation's max-pool has 2 x 2 windows with stride 2; the model's differs")


def _pool_values(lhs: Ref, rhs: object) -> list[tuple[bool, int | None]]:
    """For each point: does the claim agree with the truth at every entry (and the first entry that does not)."""
    at = _lhs_letters(lhs)
    points, truths, _distinct = pool_truth()
    out = []
    for point, truth in zip(points, truths, strict=True):
        ev = Evaluator(pool_sizes(), {"s": 2, "k": 2}, point)
        bad = None
        for e in pool_entries():
            env = {"s": 2, "k": 2} | {n: e[k] for n, k in at.items()}
            if sp.expand(ev.value(rhs, env) - truth[e]) != 0:
                bad = e
                break
        out.append((bad is None, bad))
    return out


def _judge_pool(lhs: Ref, rhs: object, context: Context) -> dict:
    _pool_layer_ok(context)
    results = _pool_values(lhs, rhs)
    _points, _truths, distinct = pool_truth()
    away, ties = results[:distinct], results[distinct:]
    n = len(pool_entries())
    if all(ok for ok, _ in away):
        base = (f"exact: every one of the {n} entries at {distinct} random points with distinct inputs equals "
                "sympy.diff of the cost with each 2 x 2 window written as Max (one 4 x 6 channel, stride 2)")
        if all(ok for ok, _ in ties):
            return {"verdict": "proven", "reason": "holds", "strength": "exact",
                    "method": f"{base}; and at {len(ties)} points with ties it routes G to the first maximum, torch's "
                              "convention (derive.layers.pool.derive_maxpool); piecewise: evidence at points"}
        return {"verdict": "ambiguous", "method": base, "strength": "exact",
                "reason": "holds wherever each window's maximum is unique; at a tie it gives every tied maximum G, "
                          "where torch gives only the first (write [(h,w) = \\operatorname{argmax} P_{i,j}])"}
    bad = next(e for ok, e in away if not ok)
    failure = f"counterexample at dX{list(bad)} at a random point with distinct inputs"
    h, w = (sp.Symbol(n, integer=True) for n in sorted(_lhs_letters(lhs), key=_lhs_letters(lhs).get))
    owner = Ref("P", (sp.floor(h / 2), sp.floor(w / 2)), "P")
    mask = Ind(Pos((h, w)), owner, argmax=True)
    for text, fixed in (("gradient to every element of the window: only the window's maximum receives G (the "
                         "others do not change P)", Op("mul", (rhs, mask))),
                        ("the average-pooling backward (G/4 to each element): max-pooling sends all of G to the "
                         "maximum", Op("mul", (Op("mul", (Num(sp.Integer(4)), rhs)), mask))),
                        ("sign: the right side has the wrong sign", Op("neg", (rhs,)))):
        if all(ok for ok, _ in _pool_values(lhs, fixed)[:distinct]):
            return {"verdict": "refuted", "reason": f"{text}; {failure}", "method": "counterexample",
                    "diagnosis": text, "repair": f"{to_latex(lhs)} = {to_latex(fixed)}"}
    return {"verdict": "refuted", "reason": failure, "method": "counterexample", "diagnosis": None}
