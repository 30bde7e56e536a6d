"""The layer-local instance of a block claim: concrete arrays with their true values, per block.

Each case is one block at one random point (:class:`Case`), and :func:`block_cases` keeps them per model:

* **L2** (Nielsen eq. 87): on the model's own instance (:mod:`derive.claims.instance`): dC/dw = ``sympy.diff`` of
  the composed C_0 plus the derivative (lambda / n) w of the term (lambda / 2n) sum w^2, n = ``l2_n`` or the batch
  size m; dC_0/dw without it; every layer named (a bare ``w`` is any weight). A claim about the cost itself gets
  C, C_0 and sum_w w^2 as scalars.
* **dropout**: one block of units x samples, out = a * M / p written out from the definition
  (:func:`derive.layers.dropout.forward_forms`), M a fixed 0/1 mask, p the model's keep probability, and the cost
  C = sum dOut_ij out_ij with a random upstream gradient dOut: dA = ``sympy.diff`` of C by every a_ij.
* **normalisation**: one block, y = gamma x_hat + beta written out from the definition
  (:func:`derive.layers.normalisation.forward_forms`, the model's epsilon), C = sum dy_ij y_ij with a random dy:
  dx, dgamma, dbeta = ``sympy.diff`` of C by every input, gamma_j and beta_j.

The true values are computed here, never taken from the claim; :mod:`derive.claims.blocks` compares both sides on
them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import sympy as sp

from derive.claims.block_reader import BlockReader, cost_C, cost_C0, m_batch, nabla0_b, sum_w2
from derive.claims.names import BARE
from derive.claims.semantics import Context, NotCheckable
from derive.claims.verdicts import batch_size, instance
from derive.core.symbols import b as b_base
from derive.core.symbols import w as w_base
from derive.layers import dropout as drop
from derive.layers import normalisation as bn
from derive.layers import penalty as l2
from derive.layers.arrays import evaluate_forms

__all__ = ["BLOCK_SHAPE", "Case", "block_cases"]

#: the (units, samples) of the block a dropout or normalisation claim is evaluated on: no axis has the size of
#: another, so a sum along the wrong axis changes the values
BLOCK_SHAPE = (3, 4)


@dataclass
class Case:
    """One block at one point: the arrays (true values included), the scalars, the shape, where it is."""

    arrays: dict
    scalars: dict
    shape: tuple[int, int]
    axis: int
    where: str


def _rng_value(rng: random.Random, lo: float, hi: float) -> sp.Rational:
    return sp.Rational(round((lo + (hi - lo) * rng.random()) * 997) or 1, 997)


def _matrix(rng: random.Random, shape: tuple[int, int], lo: float, hi: float) -> sp.Matrix:
    return sp.Matrix(*shape, lambda i, j: _rng_value(rng, lo, hi))




def _gradient(forms, env: dict, shape, axis: int, scalars: dict, upstream: sp.Matrix, output, leaf, entries):
    """d/dt of C = sum upstream_ij output_ij with ``leaf[entry]`` moved by t, at t = 0, for each entry."""
    t = sp.Symbol("t")
    values = []
    for i, j in entries:
        moved = env[leaf].copy()
        moved[i, j] = moved[i, j] + t
        out = evaluate_forms(forms, {**env, leaf: moved}, shape, stat_axis=axis, scalars=scalars)[output]
        cost = sum((upstream[r, c] * out[r, c] for r in range(shape[0]) for c in range(shape[1])), sp.Integer(0))
        values.append(sp.diff(cost, t).subs(t, 0))
    return values


def _norm_cases(context: Context, seed: int) -> list[Case]:
    kind = "batchnorm" if context.spec.norm == "batch" else "layernorm"
    axis = bn.STAT_AXIS[kind]
    layer = next(layer.norm for layer in context.spec.layers if layer.norm is not None)
    scalars = {bn.eps: sp.nsimplify(layer.eps)}
    shape, cases = BLOCK_SHAPE, []
    for p in range(2):
        rng = random.Random(1000 * seed + p)
        env = {bn.z: _matrix(rng, shape, -2, 2), bn.gamma: _matrix(rng, (shape[0], 1), 0.5, 1.5),
               bn.beta: _matrix(rng, (shape[0], 1), -1, 1), bn.dy: _matrix(rng, shape, -1, 1)}
        forms = bn.forward_forms(kind)
        arrays = evaluate_forms(forms, env, shape, stat_axis=axis, scalars=scalars)
        every = [(i, j) for i in range(shape[0]) for j in range(shape[1])]
        units = [(i, 0) for i in range(shape[0])]
        dz = _gradient(forms, env, shape, axis, scalars, env[bn.dy], bn.y, bn.z, every)
        arrays[bn.dz] = sp.Matrix(*shape, dz)
        for param, grad in ((bn.gamma, bn.dgamma), (bn.beta, bn.dbeta)):
            arrays[grad] = sp.Matrix(shape[0], 1, _gradient(forms, env, shape, axis, scalars, env[bn.dy], bn.y,
                                                            param, units))
        cases.append(Case(arrays, scalars, shape, axis, f"a {shape[0]}x{shape[1]} {kind} block (units x samples), "
                                                        f"point {p + 1}"))
    return cases


def _dropout_cases(context: Context, seed: int) -> list[Case]:
    scalars = {drop.keep: sp.nsimplify(context.spec.keep_prob)}
    shape, cases = BLOCK_SHAPE, []
    for p in range(2):
        rng = random.Random(1000 * seed + p)
        mask = sp.Matrix(*shape, [sp.Integer(rng.random() < 0.6) for _ in range(shape[0] * shape[1])])
        mask[0, 0], mask[0, 1] = 1, 0  # both a kept and a dropped unit
        env = {drop.a: _matrix(rng, shape, -2, 2), drop.mask: mask, drop.dout: _matrix(rng, shape, -1, 1)}
        forms = drop.forward_forms()
        arrays = evaluate_forms(forms, env, shape, stat_axis=1, scalars=scalars)
        every = [(i, j) for i in range(shape[0]) for j in range(shape[1])]
        arrays[drop.da] = sp.Matrix(*shape, _gradient(forms, env, shape, 1, scalars, env[drop.dout], drop.out,
                                                       drop.a, every))
        cases.append(Case(arrays, scalars, shape, 1, f"a {shape[0]}x{shape[1]} dropout block (units x samples, "
                                                     f"keep probability {scalars[drop.keep]}), point {p + 1}"))
    return cases


def _l2_layers(reader: BlockReader, L: int) -> list[int]:
    """The layers an L2 claim is checked at: those named, every layer for a bare w or a symbolic layer."""
    out: set[int] = set()
    for layer in reader.layers:
        if layer is BARE or layer is None or layer == sp.nan or not layer.is_number:
            if getattr(layer, "name", "") == "L":
                out.add(L)
            else:
                out.update(range(1, L + 1))
        elif 1 <= int(layer) <= L:
            out.add(int(layer))
        else:
            raise NotCheckable(f"layer {layer} of a {L}-layer model")
    return sorted(out) or list(range(1, L + 1))


def _l2_cases(context: Context, seed: int, reader: BlockReader, bias: bool, cost: bool = False) -> list[Case]:
    # a batch of m > 1 and n != 1: a missing 1/n or 1/m changes the values
    inst = instance(context, batch_size(context), seed)
    cases = []
    for p in range(len(inst.points)):
        rng = random.Random(1000 * seed + p)
        scalars = {l2.lam: sp.nsimplify(context.spec.penalty.lam), l2.n_train: sp.Integer(inst.l2_n()),
                   l2.eta: _rng_value(rng, 0.05, 1.0), m_batch: sp.Integer(inst.m)}
        if cost:  # the cost's definition: one scalar
            arrays = {cost_C: sp.Matrix([[inst.cost(p)]]), cost_C0: sp.Matrix([[inst.cost0(p)]]),
                      sum_w2: sp.Matrix([[sum((inst.param(p, v) ** 2 for v in inst.weights()), sp.Integer(0))]])}
            cases.append(Case(arrays, scalars, (1, 1), 1, f"the {inst.spec.net} instance (m = {inst.m}, "
                                                           f"n = {inst.l2_n()}), point {p + 1}"))
            continue
        for l in _l2_layers(reader, inst.L):
            rows, cols = inst.width(l), inst.width(l - 1)
            if bias:
                syms = [[b_base[l, j]] for j in range(1, rows + 1)]
                shape = (rows, 1)
            else:
                syms = [[w_base[l, j, k] for k in range(1, cols + 1)] for j in range(1, rows + 1)]
                shape = (rows, cols)

            def grid(fn, syms=syms, shape=shape, p=p):
                return sp.Matrix(*shape, lambda r, c: fn(p, syms[r][c]))

            arrays = {l2.W if not bias else l2.b: grid(inst.param),
                      l2.nabla_W if not bias else l2.nabla_b: grid(inst.dC),
                      l2.nabla0_W if not bias else nabla0_b: grid(inst.dC0)}
            cases.append(Case(arrays, scalars, shape, 1, f"layer {l} of the {inst.spec.net} instance (m = {inst.m}, "
                                                         f"n = {inst.l2_n()}), point {p + 1}"))
    return cases


_CASES: dict = {}


def block_cases(family: str, context: Context, seed: int, reader: BlockReader, bias: bool) -> list[Case]:
    """The block's arrays with their true values, kept per model (the worker checks a document's rows in turn)."""
    cost = family == "l2" and reader.used_cost
    key = (family, context.spec.hash(), seed, bias, cost, tuple(sorted(map(str, reader.layers))))
    if key not in _CASES:
        if cost:
            _CASES[key] = _l2_cases(context, seed, reader, False, cost=True)
        elif family == "norm":
            _CASES[key] = _norm_cases(context, seed)
        elif family == "dropout":
            _CASES[key] = _dropout_cases(context, seed)
        else:
            _CASES[key] = _l2_cases(context, seed, reader, bias)
    return _CASES[key]

