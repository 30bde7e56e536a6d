r"""Claims about the blocks past the dense layer: L2 regularisation, inverted dropout, batch and layer normalisation.

:func:`check_block` judges a row of a model with ``l2=``, ``keep_prob=`` or ``norm=``: it is read in the block's own
names (:mod:`derive.claims.block_reader`), both sides are evaluated on the block's concrete arrays whose true values
are computed by :mod:`derive.claims.block_instance`, and compared entry by entry. An **update rule**
``w \rightarrow R`` (Nielsen eq. 93) is checked against the derived SGD step ``W - eta nabla_W`` of
:func:`derive.layers.penalty.update_forms` with nabla_W the true gradient of the regularised cost and eta a random
rational: it holds when R is that step for every eta.

These are *layer-local* claims: they hold for every cost with that upstream gradient. A proven claim whose form is
one the layer modules prove for every size (``check_gradient_form``, ``check_backward_form``, ``check_dz_form``, the
weight-decay form of ``derive_sgd_update``) is reported with that proof's strength. A refuted claim is diagnosed by
the near misses of its block (:func:`derive.claims.block_near_misses.variants`): a missing 1/n, 1/p or 1/m, the mean
term of the batch-norm backward, epsilon, ...; the repair is re-checked. Names of the dense network (delta, a^l, z^l)
in a model with normalisation or dropout are not composed: :func:`derive.claims.verdicts.unsupported_blocks` says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.claims.block_instance import Case, block_cases
from derive.claims.block_near_misses import variants
from derive.claims.block_reader import BLOCK_WORDS, BlockReader, NotBlock, families, nabla0_b, sum_w2, to_array
from derive.claims.relations import Relation
from derive.claims.semantics import Context, NotCheckable, number
from derive.claims.tokens import Unparsed
from derive.claims.verdicts import agree, show
from derive.core.proof import prove_equal
from derive.layers import dropout as drop
from derive.layers import normalisation as bn
from derive.layers import penalty as l2
from derive.layers.arrays import BatchSum, StatSum, count, evaluate

__all__ = ["ARROWS", "check_block"]

#: the relations of an update rule (Nielsen writes w -> w')
ARROWS = ("\\to", "\\rightarrow", "\\longrightarrow", "\\leftarrow", "\\gets", "\\mapsto")


@dataclass
class _Outcome:
    holds: bool
    exact: bool = True
    failure: dict | None = None


def _values(expr: sp.Expr, case: Case) -> sp.Matrix:
    return evaluate(expr.xreplace(case.scalars), case.arrays, case.shape, stat_axis=case.axis)


def _compare(lhs: sp.Expr, rhs: sp.Expr, cases: list[Case]) -> _Outcome:
    out = _Outcome(True)
    for case in cases:
        try:
            lv, rv = _values(lhs, case), _values(rhs, case)
        except (KeyError, ValueError) as err:
            raise NotCheckable(f"cannot evaluate on {case.where}: {err}") from None
        for r in range(case.shape[0]):
            for c in range(case.shape[1]):
                ok, exact = agree(number(lv[r, c]), number(rv[r, c]))
                out.exact = out.exact and exact
                if not ok:
                    return _Outcome(False, out.exact, {"where": case.where, "entry": f"({r + 1},{c + 1})",
                                                       "lhs": show(number(lv[r, c])),
                                                       "rhs": show(number(rv[r, c]))})
    return out


def _holds(lhs, rhs, cases) -> bool:
    try:
        return _compare(lhs, rhs, cases).holds
    except (NotCheckable, ZeroDivisionError, TypeError):
        return False


def _every_size(lhs: sp.Expr, rhs: sp.Expr, family: str, kind: str, update: bool) -> str | None:
    """The proof for every size where the layer modules have one for this form (None: none applies/holds)."""
    free = rhs.free_symbols
    try:
        if family == "l2" and update and lhs == l2.W and free <= {l2.W, l2.nabla0_W, l2.eta, l2.lam, l2.n_train}:
            decay = dict(l2.update_forms(True))[l2.W]
            chk = prove_equal(decay, rhs)
            return f"{chk.method}: equal to the weight-decay form (1 - eta lambda/n) W - eta nabla C_0 that " \
                   "derive.layers.penalty.derive_sgd_update derives (Nielsen eq. 93)" if chk.holds is True else None
        if family == "l2" and lhs == l2.nabla_W and free <= {l2.W, l2.nabla0_W, l2.lam, l2.n_train}:
            chk = l2.check_gradient_form(rhs)
        elif family == "dropout" and lhs == drop.da and free <= {drop.dout, drop.mask, drop.keep}:
            chk = drop.check_backward_form(rhs)
        elif family == "norm" and lhs == bn.dz and free <= {bn.gamma, bn.var, bn.eps, bn.inv_std, bn.x_hat, bn.dy,
                                                            count}:
            chk = bn.check_dz_form(kind, rhs)
        else:
            return None
    except Exception:  # a form the layer module cannot take: the instance verdict stands
        return None
    return chk.method if chk.holds is True else None


#: how the block names are echoed: in the names course notes use (CS231n's x, dx, dy; dA, dOut, M), not the layer
#: modules' (z, u, a-tilde)
_DISPLAY = {bn.z: "x", bn.x_hat: r"\hat{x}", bn.y: "y", bn.dy: "dy", bn.dz: "dx", bn.dgamma: r"d\gamma",
            bn.dbeta: r"d\beta", count: "m", drop.da: "dA", drop.dout: "dOut", drop.mask: "M", drop.a: "A",
            drop.out: r"\tilde{a}", sum_w2: r"\sum_w w^{2}", l2.W: "w", l2.b: "b", l2.eta: r"\eta",
            l2.nabla_W: r"\frac{\partial C}{\partial w}", l2.nabla0_W: r"\frac{\partial C_0}{\partial w}",
            l2.nabla_b: r"\frac{\partial C}{\partial b}", nabla0_b: r"\frac{\partial C_0}{\partial b}"}


class _ShownSum(sp.Function):
    """A reduction as the notes write it: ``\\sum_i`` over the samples, ``\\sum_j`` over the units (echo only)."""

    nargs = 2

    def _latex(self, printer) -> str:
        return rf"\sum_{{{self.args[1]}}} {printer.parenthesize(self.args[0], 50)}"


def _latex(expr: sp.Expr, kind: str = "") -> str:
    """An array form in the notes' names; the printed sums read back as the same reductions."""
    units = sp.Symbol("j")
    shown = expr.replace(lambda e: isinstance(e, (StatSum, BatchSum)),
                         lambda e: _ShownSum(e.args[0], units if kind == "layernorm" and isinstance(e, StatSum)
                                             else sp.Symbol("i")))
    return sp.latex(shown.xreplace({k: sp.Symbol(v) for k, v in _DISPLAY.items()}))


def check_block(rel: Relation, context: Context, seed: int = 0, layer_subscripts: bool = False) -> dict | None:
    """The verdict on a row about a block of the context's model, or None when the row is not about one."""
    blocks = families(context)
    if not blocks or len(rel.sides) < 2 or any(not s for s in rel.sides):
        return None
    update = len(rel.ops) == 1 and rel.ops[0] in ARROWS
    if (update and "l2" not in blocks) or (not update and any(op != "=" for op in rel.ops)):
        return None
    reader = BlockReader(layer_subscripts=layer_subscripts, blocks=blocks)
    try:
        raw = [reader.expr(side) for side in rel.sides]
    except NotBlock:
        return None
    except Unparsed as err:
        if not reader.found:
            return None
        return {"understood": None, "verdict": "unparsed", "reason": err.reason}
    except Exception:  # names of the dense network in arithmetic the block reader does not do: not a block claim
        if reader.found:
            raise
        return None
    if not reader.found and not update:
        return None
    if reader.dense:
        if reader.used <= {"l2"}:
            return None  # dW = (1/m) dZ A^T + (lambda/m) W: the dense reader reads lambda and n of an L2 model
        return {"understood": None, "verdict": "unparsed",
                "reason": "names of the dense network (a^l, z^l, delta, sigma, dZ, ...) together with a block's (C_0, "
                          "lambda, dOut, gamma, ...): a block's claim is checked in the block's own names"}
    if len(reader.used) != 1:
        return {"understood": None, "verdict": "unparsed",
                "reason": "names of " + " and ".join(BLOCK_WORDS[f] for f in sorted(reader.used)) + " in one claim "
                          "(each block is checked on its own)"}
    (family,) = reader.used
    kind = ("batchnorm" if context.spec.norm == "batch" else "layernorm") if family == "norm" else ""
    try:
        sides = [to_array(s, family, kind) for s in raw]
    except NotBlock:
        return None
    except Unparsed as err:
        return {"understood": None, "verdict": "unparsed", "reason": err.reason}
    op = f" {rel.ops[0]} " if update else " = "
    understood = op.join(_latex(s, kind) for s in sides)
    if update:
        return _judge_update(sides, context, seed, reader, understood)
    try:
        bias = family == "l2" and any(s.has(l2.b, l2.nabla_b, nabla0_b) for s in sides)
        if bias and any(s.has(l2.W, l2.nabla_W, l2.nabla0_W) for s in sides):
            raise NotCheckable("a claim about weights and biases at once (state each on its own)")
        cases = block_cases(family, context, seed, reader, bias)
        results = [_judge_pair(sides[k], sides[k + 1], cases, family, kind, False)
                   for k in range(len(sides) - 1)]
    except NotCheckable as err:
        return {"understood": understood, "verdict": "not checkable", "reason": str(err)}
    out = {"understood": understood, **_combine(results)}
    if reader.used_cost and out["verdict"] == "proven":  # the document's cost is the model's: a definition
        out.update(verdict="definition", reason="defines the cost: C_0 plus the model's L2 term (lambda/2n) sum_w w^2 "
                   f"(lambda = {context.spec.penalty.lam:g}); holds on the instance")
    return out



def _judge_update(sides, context: Context, seed: int, reader: BlockReader, understood: str) -> dict:
    """``w -> R``: R against the SGD step W - eta nabla_W (derive.layers.penalty.update_forms), nabla the true
    gradient of the model's (regularised) cost, at random eta."""
    lhs, rhs = sides
    rules = dict(l2.update_forms(False))
    if "l2" not in reader.used or lhs not in rules:
        return {"understood": understood, "verdict": "not checkable",
                "reason": "an update rule of something other than a weight w or a bias b of a model with an L2 term"}
    bias = lhs == l2.b
    try:
        cases = block_cases("l2", context, seed, reader, bias)
        result = _judge_pair(lhs, rhs, cases, "l2", "", True, truth=rules[lhs])
    except NotCheckable as err:
        return {"understood": understood, "verdict": "not checkable", "reason": str(err)}
    result["reason"] = (f"{result['reason']} (the update rule against the SGD step {lhs} - eta dC/d{lhs} of "
                        "derive.layers.penalty.update_forms, with the gradient of the regularised cost, for random "
                        "eta)")
    return {"understood": understood, **result}


def _judge_pair(lhs, rhs, cases: list[Case], family: str, kind: str, update: bool, truth=None) -> dict:
    target = lhs if truth is None else truth
    out = _compare(target, rhs, cases)
    where = "; ".join(dict.fromkeys(c.where.rsplit(", point", 1)[0] for c in cases))
    arith = "exact rational arithmetic" if out.exact else "45-digit arithmetic, equal to 25 digits"
    method = f"{'exact' if out.exact else 'numeric'}: both sides equal at 2 random points on {where}, {arith}"
    if out.holds:
        every = _every_size(lhs, rhs, family, kind, update)
        if every:
            return {"verdict": "proven", "reason": "holds", "method": f"{every}; {method}", "strength": "symbolic"}
        return {"verdict": "proven", "reason": "holds", "method": method,
                "strength": "exact" if out.exact else "numeric"}
    for text, fixed in variants(lhs, rhs, family, kind, update):
        if _holds(target, fixed, cases):
            ce = out.failure
            arrow = " \\rightarrow " if update else " = "
            return {"verdict": "refuted", "reason": f"{text}; counterexample at entry {ce['entry']} of {ce['where']}: "
                    f"left {ce['lhs']}, right {ce['rhs']}", "method": "counterexample", "diagnosis": text,
                    "counterexample": ce, "repair": f"{_latex(lhs, kind)}{arrow}{_latex(fixed, kind)}"}
    ce = out.failure
    return {"verdict": "refuted", "reason": f"counterexample at entry {ce['entry']} of {ce['where']}: left "
            f"{ce['lhs']}, right {ce['rhs']}", "method": "counterexample", "diagnosis": None, "counterexample": ce}


def _combine(results: list[dict]) -> dict:
    if len(results) == 1:
        return results[0]
    for wanted in ("refuted", "not checkable"):
        for k, r in enumerate(results):
            if r["verdict"] == wanted:
                return {**r, "reason": f"step {k + 1} of {len(results)}: {r['reason']}"}
    return {"verdict": "proven", "reason": f"all {len(results)} steps hold",
            "method": "; ".join(dict.fromkeys(r["method"] for r in results)),
            "strength": min((r["strength"] for r in results), key=["numeric", "exact", "symbolic"].index)}
