"""The near misses of a block claim: the typical slips of an L2 term, dropout and normalisation, undone one by one.

:func:`variants` yields (the slip in words, the right side with it undone) in the order tried: a sign, a factor 2,
then the block's own slips: a missing 1/n or a factor 2 of the L2 term (or the term left out), a missing 1/p or mask
of inverted dropout, the mean and variance terms of the normalisation backward, epsilon, 1/m, gamma inside or outside
the sums, ... :mod:`derive.claims.blocks` names the first one whose repair holds (re-checked on the instance).
"""

from __future__ import annotations

import sympy as sp

from derive.layers import dropout as drop
from derive.layers import normalisation as bn
from derive.layers import penalty as l2
from derive.layers.arrays import BatchSum, StatSum, count

__all__ = ["variants"]


def variants(lhs: sp.Expr, rhs: sp.Expr, family: str, kind: str = "batchnorm", update: bool = False):
    """(the slip in words, the right side with it undone) for the typical slips of each block, in the order tried."""
    yield "sign: the right side has the wrong sign", -rhs
    yield "factor 2: the right side is half the true value", 2 * rhs
    yield "factor 2: the right side is twice the true value", rhs / 2
    if family == "l2":
        lam, n = l2.lam, l2.n_train
        if rhs.has(lam):
            yield "missing factor 1/n: the L2 term's gradient is (lambda/n) w (the term is (lambda/2n) sum w^2)", \
                rhs.xreplace({lam: lam / n})
            yield "stray factor n: the L2 term's gradient is (lambda/n) w", rhs.xreplace({lam: lam * n})
            yield "factor 2 in the L2 term: the term is (lambda/2n) sum w^2, its gradient (lambda/n) w", \
                rhs.xreplace({lam: lam / 2})
            yield "factor 2 in the L2 term: the term is (lambda/2n) sum w^2, its gradient (lambda/n) w", \
                rhs.xreplace({lam: 2 * lam})
            yield "the L2 term does not belong here (biases are not regularised)", rhs.xreplace({lam: 0})
        elif lhs in (l2.nabla_W, l2.W):
            term = l2.lam / l2.n_train * l2.W
            yield "missing L2 term: the gradient of (lambda/2n) sum w^2 adds (lambda/n) w", \
                rhs - l2.eta * term if update else rhs + term
    elif family == "dropout":
        p = drop.keep
        yield "missing factor 1/p: inverted dropout scales by 1/p in both directions", rhs / p
        yield "extra factor 1/p", rhs * p
        yield "p instead of 1/p", rhs.xreplace({p: 1 / p})
        yield "missing mask M: a dropped unit passes no gradient back", rhs * drop.mask
    elif family == "norm":
        inv = (bn.var + bn.eps) ** sp.Rational(-1, 2)
        if kind == "batchnorm":
            mean = bn.gamma * inv / count * StatSum(bn.dy)
            spread = bn.gamma * inv / count * bn.x_hat * StatSum(bn.dy * bn.x_hat)
        else:
            mean = inv / count * StatSum(bn.gamma * bn.dy)
            spread = inv / count * bn.x_hat * StatSum(bn.gamma * bn.dy * bn.x_hat)
        yield "missing the mean term -(1/m) gamma (sigma^2 + epsilon)^(-1/2) sum dy (the path through mu)", rhs - mean
        yield "missing the variance term -(1/m) gamma (sigma^2 + epsilon)^(-1/2) x_hat sum dy x_hat (the path " \
              "through sigma^2)", rhs - spread
        yield "missing factor 1/m", rhs / count
        yield "stray factor 1/m", rhs * count
        if not rhs.has(bn.eps):
            yield "missing epsilon: (sigma^2 + epsilon)^(-1/2)", rhs.xreplace({bn.var: bn.var + bn.eps})
        if kind == "layernorm" and rhs.has(bn.gamma):
            into = rhs.replace(lambda e: isinstance(e, StatSum) and not e.has(bn.gamma),
                               lambda e: StatSum(bn.gamma * e.args[0]) / bn.gamma)
            if into != rhs:
                yield "gamma outside the sums: under layer normalisation gamma varies along the units the sums run " \
                      "over (CS231n's batch-norm form does not carry over)", into
        inside = rhs.replace(lambda e: isinstance(e, StatSum) and not e.has(bn.x_hat),
                             lambda e: StatSum(e.args[0] * bn.x_hat))
        if inside != rhs:
            yield "missing factor x_hat inside the sum", inside
        if rhs.has(count - 1):
            yield "the unbiased variance (1/(m-1)): normalisation divides by m, as torch trains", \
                rhs.xreplace({count - 1: count})
        yield "missing factor gamma", rhs * bn.gamma
        yield "missing the sum over the batch", BatchSum(rhs)
        yield "missing factor x_hat", rhs * bn.x_hat
