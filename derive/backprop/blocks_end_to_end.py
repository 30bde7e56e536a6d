"""A model past the dense layer end to end: ``sympy.diff`` of the composed batch cost against the chained block rules.

The block derivations prove each block's backward on its own (:mod:`derive.layers.normalisation`, ``dropout``,
``penalty``). This part checks that chained together, in the order the kernels use (affine -> norm -> activation
-> dropout, errors pre-scaled by 1/m, the L2 gradient after the reduction), they are the gradient of the whole
model. Two sides, on a twin of the model (every width capped at 2, softmax keeping 2; a batch of m = 3, so batch
norm couples three samples) at one random point — parameters, inputs, targets and 0/1 dropout masks, carried as
60-digit floats:

* **direct**: the batch cost composed from the definitions — each dense layer written out by its layer object,
  the normalisation's forward forms entry by entry (:func:`derive.layers.arrays.evaluate`), the activations as the
  opaque functions of :mod:`derive.backprop.compose` (their proven derivatives), dropout as the mask over p, the
  cost from its derived definition, the L2 term — with one parameter left free at a time and differentiated by
  ``sympy.diff``. Never a backward rule.
* **chained**: the backward pass built from the proven rules only: the output error by ``sympy.diff`` of the
  cost at the output alone, (W^{l+1})^T E^{l+1}, the dropout backward form, f' (the derived derivative), the
  normalisation's compact backward forms, E (A^{l-1})^T and E 1, the L2 gradient form.

Agreement: max|direct - chained| / max|chained| <= 1e-40 per block, on one entry of each block
(:func:`entries`); a block whose true gradient is identically
zero (the bias before batch norm) against the largest block's max instead (docs/conventions.md § Past the dense
layer). The layout only decides where entries are stored (checked by ``bpv verify``): both sides work in columns.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping

import sympy as sp

from derive.backprop.compose import activate, cost_at
from derive.backprop.end_to_end import random_value
from derive.core.proof import Check
from derive.core.steps import Derivation, Role, Step
from derive.layers import arrays, dropout, penalty
from derive.layers import norm_forms as NF
from numeric.functions import TargetKind
from numeric.spec import ModelSpec

__all__ = ["BATCH", "DIGITS", "TOLERANCE", "derive_blocks_end_to_end"]

DIGITS = 60
TOLERANCE = sp.Float("1e-40")
#: samples in the batch: batch normalisation couples them, so at least 2; 3 keeps m distinct from the widths
BATCH = 3

Params = dict[str, sp.Matrix]


def _twin(spec: ModelSpec) -> ModelSpec:
    return spec.with_sizes([min(n, 2) for n in spec.sizes])


def _point(spec: ModelSpec, seed: int) -> tuple[Params, sp.Matrix, list[list[sp.Expr]], dict[int, sp.Matrix]]:
    """Parameters (columns orientation), inputs X (n_0 x m), targets per sample, masks per dropout layer."""
    rng = random.Random(seed)

    def num(lo: float = -1.0, hi: float = 1.0) -> sp.Float:
        return random_value(rng, lo, hi)

    params: Params = {}
    for layer in spec.layers:
        params[layer.W] = sp.Matrix(layer.n_out, layer.n_in, lambda i, j: num())
        if layer.bias:
            params[layer.b] = sp.Matrix(layer.n_out, 1, lambda i, j: num(-0.5, 0.5))
        if layer.norm is not None:
            params[layer.norm.gamma] = sp.Matrix(layer.n_out, 1, lambda i, j: num(0.5, 1.5))
            params[layer.norm.beta] = sp.Matrix(layer.n_out, 1, lambda i, j: num(-0.5, 0.5))
    X = sp.Matrix(spec.sizes[0], BATCH, lambda i, j: num(-2, 2))
    n, target = spec.sizes[-1], spec.cost_entry.target
    ys = []
    for s in range(BATCH):
        if target is TargetKind.CLASSES:
            ys.append([sp.Integer(int(k == s % n)) for k in range(n)])
        elif target is TargetKind.BINARY:
            ys.append([sp.Integer(rng.randint(0, 1)) for _ in range(n)])
        else:
            ys.append([num() for _ in range(n)])
    masks = {}
    for d in spec.dropout_layers():  # one unit of each sample dropped, the others kept: both branches exercised
        masks[d.index] = sp.Matrix(d.n, BATCH, lambda i, j, n=d.n: sp.Integer(int(i != j % n)))
    return params, X, ys, masks


def _norm_env(layer, Z: sp.Matrix, params: Params) -> dict:
    """The normalisation's forward forms evaluated on Z (every quantity the backward forms read)."""
    kind = layer.norm.kind
    env = {NF.z: Z, NF.gamma: params[layer.norm.gamma], NF.beta: params[layer.norm.beta]}
    return arrays.evaluate_forms(NF.forward_forms(kind), env, Z.shape, stat_axis=NF.STAT_AXIS[kind],
                                 scalars={NF.eps: sp.Float(layer.norm.eps, DIGITS)})


def _forward(spec: ModelSpec, params: Params, X: sp.Matrix, masks: Mapping[int, sp.Matrix]) -> list[dict]:
    """Every layer's quantities: input A, affine Z, the normalisation env, U, F = f(U), output A."""
    caches, A = [], X
    for layer in spec.layers:
        Z = params[layer.W] * A
        if layer.bias:
            Z += params[layer.b] * sp.ones(1, BATCH)
        env = _norm_env(layer, Z, params) if layer.norm is not None else {}
        U = env[NF.y] if env else Z
        F = sp.Matrix([activate(layer.act, list(U.col(s))) for s in range(BATCH)]).T
        out = F
        if layer.dropout is not None:
            (_, form), = dropout.forward_forms()
            out = arrays.evaluate(form, {dropout.a: F, dropout.mask: masks[layer.index]}, F.shape, stat_axis=0)
            out = out.xreplace({dropout.keep: sp.Float(layer.dropout.keep, DIGITS)})
        caches.append({"A_in": A, "Z": Z, "env": env, "U": U, "F": F, "A": out})
        A = out
    return caches


def _l2_n(spec: ModelSpec) -> int:
    return spec.penalty.n if spec.penalty.n is not None else BATCH


def _cost(spec: ModelSpec, params: Params, caches: list[dict], ys: list) -> sp.Expr:
    out = caches[-1]["A"]
    total = sp.Add(*[cost_at(spec, list(out.col(s)), ys[s]) for s in range(BATCH)])
    cost = total / BATCH if spec.reduction == "mean" else total
    if spec.penalty is not None:
        lam, n = sp.Float(spec.penalty.lam, DIGITS), _l2_n(spec)
        cost += lam / (2 * n) * sp.Add(*[w**2 for layer in spec.layers for w in params[layer.W]])
    return cost


def entries(block: sp.Matrix) -> list[int]:
    """The entry of a block that is differentiated: the second (row 1, column 2 of a matrix: off the diagonal, so
    a transposed rule shows), the only one of a block of one.

    Composing the batch cost with a first-layer weight free costs ~2.5 s at 60 digits (the free symbol reaches
    every later layer through two normalisations), so one entry per block keeps this part at a few seconds while
    every block of every layer is compared; ``bpv verify`` compares every entry numerically.
    """
    return [1] if len(block) > 1 else [0]


def direct_gradients(spec: ModelSpec, params: Params, X: sp.Matrix, ys: list, masks: Mapping) -> dict:
    """sympy.diff of the composed cost by the :func:`entries` of every block, the others fixed at the point:
    ``{key: {flat index: value}}``."""
    t = sp.Symbol("t")
    out: dict = {}
    for key, block in params.items():
        out[key] = {}
        for flat in entries(block):
            moved = dict(params)
            moved[key] = block.copy()
            moved[key][flat] = t
            cost = _cost(spec, moved, _forward(spec, moved, X, masks), ys)
            out[key][flat] = sp.diff(cost, t).subs(t, block[flat]).evalf(DIGITS)
    return out


def _output_error(spec: ModelSpec, cache: dict, ys: list) -> sp.Matrix:
    """E^L: sympy.diff of each sample's cost at the output alone by z^L, pre-scaled by 1/m for a mean."""
    layer = spec.layers[-1]
    zs = sp.symbols(f"zL_1:{layer.n_out + 1}")
    scale = sp.Rational(1, BATCH) if spec.reduction == "mean" else 1
    cols = []
    for s in range(BATCH):
        c = cost_at(spec, activate(layer.act, list(zs)), ys[s])
        at = dict(zip(zs, cache["Z"].col(s), strict=True))
        cols.append([scale * sp.diff(c, v).xreplace(at) for v in zs])
    return sp.Matrix(cols).T


def _derivative(layer, U: sp.Matrix) -> sp.Matrix:
    """f'(U) entry by entry, from the derived derivative of the activation."""
    u = sp.Symbol("u")
    prime = sp.diff(activate(layer.act, [u])[0], u)
    return U.applyfunc(lambda v: prime.xreplace({u: v}))


def chained_gradients(spec: ModelSpec, params: Params, X: sp.Matrix, ys: list, masks: Mapping) -> Params:
    """The backward pass from the proven rules only (module doc)."""
    caches = _forward(spec, params, X, masks)
    grads: Params = {}
    E = _output_error(spec, caches[-1], ys)
    for layer in reversed(spec.layers):
        c = caches[layer.index - 1]
        if layer.index < spec.L:
            G = params[spec.layers[layer.index].W].T * E
            if layer.dropout is not None:
                (_, form), = dropout.backward_forms()
                G = arrays.evaluate(form, {dropout.dout: G, dropout.mask: masks[layer.index]}, G.shape,
                                    stat_axis=0).xreplace({dropout.keep: sp.Float(layer.dropout.keep, DIGITS)})
            E = G.multiply_elementwise(_derivative(layer, c["U"]))
            if layer.norm is not None:
                kind = layer.norm.kind
                env = arrays.evaluate_forms(NF.backward_forms(kind), {**c["env"], NF.dy: E}, E.shape,
                                            stat_axis=NF.STAT_AXIS[kind])
                grads[layer.norm.gamma] = env[NF.dgamma][:, 0:1]
                grads[layer.norm.beta] = env[NF.dbeta][:, 0:1]
                E = env[NF.dz]
        grads[layer.W] = E * c["A_in"].T
        if layer.bias:
            grads[layer.b] = E * sp.ones(BATCH, 1)
    if spec.penalty is not None:
        rule = dict(penalty.gradient_forms())[penalty.nabla_W]
        lam, n = sp.Float(spec.penalty.lam, DIGITS), _l2_n(spec)
        for layer in spec.layers:
            env = {penalty.nabla0_W: grads[layer.W], penalty.W: params[layer.W]}
            value = arrays.evaluate(rule, env, grads[layer.W].shape, stat_axis=0)
            grads[layer.W] = value.xreplace({penalty.lam: lam, penalty.n_train: n})
    return grads


def _max(values) -> sp.Float:
    return max((abs(v) for v in values), default=sp.Float(0))


def derive_blocks_end_to_end(spec: ModelSpec, *, seed: int = 0) -> Derivation:
    """The end-to-end comparison of the module doc, one step per parameter block."""
    twin = _twin(spec)
    d = Derivation(f"{spec.title} end to end: sympy.diff of the composed cost against the chained block rules "
                   f"({DIGITS} digits)",
                   summary=f"twin {twin.net}, batch of {BATCH}, one entry of every block; direct "
                           "side: the forward composed from the definitions; chained side: the proven block rules "
                           "in kernel order",
                   role=Role.END_TO_END, subject=spec.title)
    t0 = time.perf_counter()
    params, X, ys, masks = _point(twin, seed)
    direct = direct_gradients(twin, params, X, ys, masks)
    chained = chained_gradients(twin, params, X, ys, masks)
    zero = twin.zero_gradient_blocks()
    scale = max(_max(chained[k]) for k in chained if k not in zero)
    per = (time.perf_counter() - t0) / max(1, sum(len(v) for v in direct.values())) * 1000
    for key in twin.param_names():
        diff = _max([direct[key][f] - chained[key][f] for f in direct[key]])
        ref = scale if key in zero else max(_max(chained[key][f] for f in direct[key]), sp.Float("1e-300"))
        err = sp.Float(diff / ref, 3)
        how = "against the largest block (proven zero)" if key in zero else "relative to the block"
        which = f"entries {', '.join(str(f + 1) for f in direct[key])} of {len(params[key])}"
        check = Check(bool(err <= TOLERANCE), f"numeric: error {how} {err} <= 1e-40 at {DIGITS} digits, {which}",
                      detail=f"twin {twin.net}, m = {BATCH}, seed {seed}; {per:.0f} ms per parameter")
        lhs = sp.Derivative(sp.Symbol("C"), sp.Symbol(key), evaluate=False)
        d.add(Step(f"e2e.blocks.{key}", lhs, sp.Symbol(f"nabla_{key}"), "claim",
                   f"left: sympy.diff of the composed batch cost by {key}; right: nabla_{key}, the gradient the "
                   "proven block rules give chained in kernel order", check))
    return d
