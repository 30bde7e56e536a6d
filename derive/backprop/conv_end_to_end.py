"""A convolutional net end to end: ``sympy.diff`` of the composed batch cost against the chained rules (60 digits).

The layer derivations prove each piece on its own: the convolution's textbook forms dK, db, dX
(:mod:`derive.layers.conv`, against ``sympy.diff`` of a cost with an arbitrary G = dC/dY), the max-pool routing
with its tie convention (:mod:`derive.layers.pool`), δ^L and the dense batch forms (:mod:`derive.backprop.batch`).
This part checks that, chained together in the order a backward pass runs them, they are the gradient of the
whole net: a rule right on its own cannot hide a mistake in how the rules are put together (a G handed to the
convolution without the activation's derivative, a transposed reshape, the 1/m applied twice). Two sides, on a
**twin** (:func:`conv_twin`: the same stages, strides, paddings, kernel and pool sizes, activations, cost and
reduction; channels capped at 2, dense widths at 3, the smallest input of at least 4 x 4 that keeps every stage
valid, preferring H != W at every stage so that no swapped axis type-checks by accident) with a batch of m = 2, at
one random point (parameters, inputs and one-hot or random targets: rationals with denominator 997 carried as
60-digit floats, re-drawn until every pre-activation is at least :data:`MARGIN` from 0 and every pooling window's
maximum beats the rest by :data:`MARGIN`, or is the exact 0 of a clipped ReLU, whose gradient is 0 either way):

* **direct**: C(θ) composed from the definitions, one parameter entry left free at a time (the others are numbers
  while composing): the convolution written out entry by entry, b[o] + Σ K[o,c,u,v] Xp[n,c,i s+u,j s+v]; the
  activations as the opaque proven functions of :mod:`derive.backprop.compose`; max-pooling as ``sp.Max`` of each
  window (:class:`PoolMax`); flatten in C order; the dense layers as A W + 1 b (rows); the cost from its derived
  definition (:func:`~derive.backprop.compose.cost_at`), reduced by the spec's reduction. ``sympy.diff`` by that
  entry, at the point. Never a backward rule. Every entry of every block except a kernel's, differentiated at its
  corners and centre (:func:`kernel_sample`; ``every_entry=True`` for all of them).
* **chained**: Δ^L by the batch output form (the fused A − Y where it was proven, else BP1 or the softmax VJP), the
  dense BP2/BP3/BP4 batch forms of :mod:`derive.backprop.batch_textbook` evaluated on numbers, (s Δ W^T) into the
  flatten, the reshape back to (m, C, H, W), each pool's routing to the first maximum of its window (the proven
  :func:`~derive.layers.pool.route_form` for 2 x 2 windows, the same convention written out for other sizes), the
  activation's derived derivative, then the convolution's textbook forms dk_form, db_form and dx_form with G the
  chained upstream gradient.

Agreement: max|direct − chained| / max|chained| ≤ 1e-40 per block. Evidence at one point (Strength.NUMERIC), not a
proof: the pieces are proven by their own derivations. :class:`ChainRules` is the hook a test plants a wrong rule
through (an unflipped dX, routing to the whole window).

Time for ``lenet_tiny`` (twin 1x4x6-c2k3p1-pool2-flat-3, 59 parameters, 46 differentiated): 5.9 s CPU, of which
the 5 kernel entries 2.9 s and the 2 conv biases 1.3 s (10.7 s wall on this 2-core machine shared with 4 other
jobs); every kernel entry: 40 s wall.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy as sp
from sympy.core.sympify import _sympify

from derive.backprop.batch_names import Names, m
from derive.backprop.batch_nodes import Fn, explicit
from derive.backprop.batch_textbook import backprop_form, bias_form, output_form, softmax_jacobian_t, weight_form
from derive.backprop.compose import activate, cost_at
from derive.backprop.end_to_end import random_value
from derive.core.proof import Check, Strength
from derive.core.steps import Derivation, Role, Step, StepKind
from derive.core.symbols import a as a_idx
from derive.core.symbols import y as y_idx
from derive.functions.costs import L as L_cost
from derive.functions.costs import derive_cost, n_out, unit_j
from derive.layers.conv import ConvSize, G, K, X, db_form, dk_form, dx_form
from derive.layers.pool import route_form
from numeric.conv import Conv2d, Flatten, MaxPool2d
from numeric.conv_spec import ConvNetSpec
from numeric.errors import BadInput
from numeric.functions import TargetKind
from numeric.layers import Dense
from numeric.spec import ActSpec, Layout

__all__ = ["BATCH", "DIGITS", "MARGIN", "TOLERANCE", "ChainRules", "PoolMax", "block_check", "chained_gradients",
           "conv_twin", "derive_conv_end_to_end", "direct_entries", "direct_gradients", "draw_point", "first_argmax",
           "forward", "kernel_sample"]

DIGITS = 60
TOLERANCE = sp.Float("1e-40")
#: samples in the batch: the gradients sum over them, and 2 keeps m distinct from the capped sizes 3 and 4
BATCH = 2
CHANNEL_CAP, WIDTH_CAP, MIN_SIDE, MAX_SIDE = 2, 3, 4, 16
#: how far every pre-activation stays from a kink and a pooling window's maximum from the runner-up
MARGIN = sp.Rational(1, 200)
MAX_DRAWS = 200

Tensor = dict[tuple[int, ...], sp.Expr]
Params = dict[str, Tensor]


# ----- the rules the chained side uses (the hook for planted mistakes) ----------------------------------------------
def first_argmax(window: Sequence[sp.Expr], k: int) -> list[int]:
    """Where a window's gradient goes (row-major positions): its first maximum, the tie convention of
    :mod:`derive.layers.pool`. A 2 x 2 window is routed by the proven :func:`route_form` itself."""
    if k == 2:
        local = {(r, c): window[2 * r + c] for r in range(2) for c in range(2)}
        return [2 * r + c for r, c in local if route_form(local, r, c) != 0]
    best = 0
    for t in range(1, len(window)):
        if window[t] > window[best]:  # strictly greater: a later tie does not take the gradient
            best = t
    return [best]


@dataclass(frozen=True)
class ChainRules:
    """The proven rules chained on the chained side; a test swaps one for a wrong one and sees a block fail."""

    dk: Callable[..., sp.Expr] = dk_form
    db: Callable[..., sp.Expr] = db_form
    dx: Callable[..., sp.Expr] = dx_form
    route: Callable[[Sequence[sp.Expr], int], list[int]] = first_argmax


# ----- the twin -----------------------------------------------------------------------------------------------------
def _sides(spec: ConvNetSpec, h: int, w: int) -> list[tuple[int, int]] | None:
    """The spatial size after each convolution and pool for an h x w input, or None when a stage does not fit."""
    sides = [(h, w)]
    try:
        for x in spec.layers:
            if isinstance(x, Conv2d):
                sides.append(x.out_shape(h, w)[1:])
            elif isinstance(x, MaxPool2d):
                sides.append(x.out_shape(1, h, w)[1:])
            h, w = sides[-1]
    except BadInput:
        return None
    return sides


def _input_side(spec: ConvNetSpec) -> tuple[int, int]:
    """The smallest input (by pixels) of at least MIN_SIDE x MIN_SIDE keeping every stage valid, H != W at every
    stage where some size allows it."""
    found = []
    for h in range(MIN_SIDE, MAX_SIDE + 1):
        for w in range(MIN_SIDE, MAX_SIDE + 1):
            sides = _sides(spec, h, w)
            if sides is not None and h != w:
                found.append((any(a == b for a, b in sides), h * w, h, w))
    if not found:
        raise BadInput(f"{spec.net}: no input of at most {MAX_SIDE} x {MAX_SIDE} keeps every stage valid for the "
                       "end-to-end twin; use smaller kernels or strides")
    return min(found)[2:]


def conv_twin(spec: ConvNetSpec) -> ConvNetSpec:
    """The twin of the module doc: same stage structure, tiny sizes."""
    h, w = _input_side(spec)
    parts = [f"{min(spec.input_shape[0], CHANNEL_CAP)}x{h}x{w}"]
    for x in spec.layers:
        if isinstance(x, Conv2d):
            parts.append(f"c{min(x.c_out, CHANNEL_CAP)}k{x.k}s{x.stride}p{x.pad}")
        elif isinstance(x, MaxPool2d):
            parts.append(f"pool{x.k}s{x.stride}")
        elif isinstance(x, Flatten):
            parts.append("flat")
        else:
            parts.append(str(min(x.n_out, WIDTH_CAP)))
    return ConvNetSpec.build("-".join(parts), [str(a) for a in spec.activations], spec.cost, spec.reduction)


# ----- the point ----------------------------------------------------------------------------------------------------
def _grid(shape: Sequence[int]) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = [()]
    for n in shape:
        out = [(*e, i) for e in out for i in range(n)]
    return out


def _draw(twin: ConvNetSpec, rng: random.Random) -> tuple[Params, Tensor, list[list[sp.Expr]]]:
    """Parameters (NumPy-indexed entries of each block), inputs x[n, c, h, w] and targets per sample."""
    params: Params = {}
    for name, shape in twin.param_shapes().items():
        lo, hi = (-0.5, 0.5) if name.startswith("b") else (-1.0, 1.0)
        params[name] = {e: random_value(rng, lo, hi) for e in _grid(shape)}
    x = {e: random_value(rng) for e in _grid(twin.x_shape(BATCH))}
    n, target = twin.n_out, twin.cost_entry.target
    ys = []
    for _ in range(BATCH):
        if target is TargetKind.CLASSES:
            hot = rng.randrange(n)
            ys.append([sp.Integer(int(k == hot)) for k in range(n)])
        elif target is TargetKind.BINARY:
            ys.append([sp.Integer(rng.randint(0, 1)) for _ in range(n)])
        else:
            ys.append([random_value(rng) for _ in range(n)])
    return params, x, ys


# ----- the forward, from the definitions ----------------------------------------------------------------------------
def _conv(layer: Conv2d, params: Params, x: Tensor, shape: tuple[int, ...]) -> tuple[Tensor, tuple[int, ...]]:
    """Y[n,o,i,j] = b[o] + sum_{c,u,v} K[o,c,u,v] Xp[n,c,i s+u,j s+v], Xp the input padded by p zeros."""
    mm, _, h, w = shape
    _, ho, wo = layer.out_shape(h, w)
    K_, b_, s, p = params[layer.W], params[layer.b], layer.stride, layer.pad
    y: Tensor = {}
    for n, o, i, j in _grid((mm, layer.c_out, ho, wo)):
        terms = [K_[(o, c, u, v)] * x[(n, c, i * s + u - p, j * s + v - p)]
                 for c in range(layer.c_in) for u in range(layer.k) for v in range(layer.k)
                 if 0 <= i * s + u - p < h and 0 <= j * s + v - p < w]
        y[(n, o, i, j)] = b_[(0, o)] + sp.Add(*terms)
    return y, (mm, layer.c_out, ho, wo)


def _window(layer: MaxPool2d, n: int, c: int, i: int, j: int) -> list[tuple[int, int, int, int]]:
    """The input entries of pooling window (i, j), row-major (the order the tie convention refers to)."""
    return [(n, c, i * layer.stride + r, j * layer.stride + q) for r in range(layer.k) for q in range(layer.k)]


class PoolMax(sp.Max):
    """``sp.Max`` of a window with SymPy's own derivative rule for Max, d Max / d x_i = Heaviside(x_i - Max(others))
    (H(0) = 1/2), built unevaluated until numbers are substituted.

    Why: SymPy evaluates a Max of symbolic arguments by comparing every pair (assumption queries on each
    difference), in the derivative's Max(others) and Heaviside too: 80 ms a window, 30 s for ``lenet_tiny``'s twin.
    At numbers (``xreplace`` of the point) every node is rebuilt with evaluation: a number, as ``sp.Max`` gives.
    """

    def __new__(cls, *args: sp.Expr, evaluate: bool = True) -> sp.Expr:
        # evaluated, it is sp.Max itself (a subclass would not take part in Max's own comparisons of its arguments)
        return super().__new__(cls, *args, evaluate=False) if not evaluate else sp.Max(*args)

    @classmethod
    def of(cls, args: Sequence[sp.Expr]) -> sp.Expr:
        """The window's maximum: a number when every entry is one (sp.Max), else unevaluated."""
        return cls(*args, evaluate=all(a.is_Number for a in args))

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        n = len(self.args)
        if not 0 < argindex <= n:
            raise sp.ArgumentIndexError(self, argindex)
        others = self.args[:argindex - 1] + self.args[argindex:]
        rest = others[0] if n == 2 else PoolMax(*others, evaluate=False)
        return sp.Heaviside(self.args[argindex - 1] - rest, evaluate=False)


def _pool(layer: MaxPool2d, x: Tensor, shape: tuple[int, ...]) -> tuple[Tensor, tuple[int, ...]]:
    out_shape = (shape[0], *layer.out_shape(*shape[1:]))
    return {e: PoolMax.of([x[q] for q in _window(layer, *e)]) for e in _grid(out_shape)}, out_shape


def _matrix(block: Tensor, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda i, j: block[(i, j)])


def _activate(act: ActSpec, values: Tensor) -> Tensor:
    keys = list(values)
    return dict(zip(keys, activate(act, [values[k] for k in keys]), strict=True))


def forward(twin: ConvNetSpec, params: Params, x: Tensor | sp.Matrix, start: int = 0,
            shape: tuple[int, ...] | None = None) -> list[dict]:
    """Every stage's input, pre-activation and output (spatial tensors as dicts, dense ones as (m, n) Matrices),
    from stage ``start`` on (``x`` its input, of ``shape``)."""
    caches: list[dict] = []
    value: Tensor | sp.Matrix = x
    shape = shape or twin.x_shape(BATCH)
    for layer in twin.layers[start:]:
        cache: dict = {"in": value, "in_shape": shape}
        if isinstance(layer, Conv2d):
            cache["z"], shape = _conv(layer, params, value, shape)
            value = _activate(twin.conv_act(layer), cache["z"])
        elif isinstance(layer, MaxPool2d):
            value, shape = _pool(layer, value, shape)
        elif isinstance(layer, Flatten):
            value = sp.Matrix(BATCH, len(value) // BATCH, [value[e] for e in _grid(shape)])  # C order per sample
            shape = value.shape
        else:
            W, bias = _matrix(params[layer.W], layer.n_in, layer.n_out), _matrix(params[layer.b], 1, layer.n_out)
            cache["z"] = value * W + sp.ones(BATCH, 1) * bias
            value = sp.Matrix([activate(layer.act, list(cache["z"].row(n))) for n in range(BATCH)])
            shape = value.shape
        cache["out"] = value
        caches.append(cache)
    return caches


def _cost(twin: ConvNetSpec, out: sp.Matrix, ys: list[list[sp.Expr]]) -> sp.Expr:
    head = twin.head()
    total = sp.Add(*[cost_at(head, list(out.row(n)), ys[n]) for n in range(BATCH)])
    return total / BATCH if twin.reduction == "mean" else total


def kernel_sample(shape: Sequence[int]) -> list[tuple[int, ...]]:
    """The kernel entries differentiated on the direct side: its four corner offsets and its centre, the output and
    input channels cycled over them (so a flipped, transposed or channel-swapped rule shows).

    Why not every entry: a kernel entry reaches every window of its output channel, and its composed cost costs
    ~0.5 s to differentiate (SymPy's assumption queries on each Heaviside of Max, relu' and softmax term): the 18
    entries of ``lenet_tiny``'s twin alone took 9-14 s, over the 10 s budget. Every other block (biases, dense
    weights) is differentiated at every entry; the chained side computes every entry of every block.
    """
    c_out, c_in, k = shape[0], shape[1], shape[2]
    offsets = sorted({(0, 0), (0, k - 1), (k - 1, 0), (k - 1, k - 1), (k // 2, k // 2)})
    return [(q % c_out, (q // c_out) % c_in, u, v) for q, (u, v) in enumerate(offsets)]


def direct_entries(twin: ConvNetSpec, every_entry: bool = False) -> dict[str, list[tuple[int, ...]]]:
    """The entries of each block the direct side differentiates (every one, or :func:`kernel_sample` of each
    convolution's kernel)."""
    out = {}
    for name, shape in twin.param_shapes().items():
        kernel = len(shape) == 4
        out[name] = kernel_sample(shape) if kernel and not every_entry else _grid(shape)
    return out


def direct_gradients(twin: ConvNetSpec, params: Params, x: Tensor, ys: list,
                     entries: dict[str, list[tuple[int, ...]]]) -> Params:
    """sympy.diff of the composed cost by each of ``entries``, the other parameters numbers at the point."""
    t = sp.Symbol("t")
    at_point = forward(twin, params, x)
    stage = {name: i for i, layer in enumerate(twin.layers) for name in layer.param_names()}
    out: Params = {}
    for name, block in params.items():
        out[name] = {}
        below = at_point[stage[name]]  # the stages below a parameter do not see it: their values at the point
        for e in entries[name]:
            moved = {**params, name: {**block, e: t}}
            cost = _cost(twin, forward(twin, moved, below["in"], stage[name], below["in_shape"])[-1]["out"], ys)
            out[name][e] = sp.diff(cost, t).xreplace({t: block[e]}).evalf(DIGITS)
    return out


# ----- the chained rules ----------------------------------------------------------------------------------------
def _prime(act: ActSpec) -> Callable[[sp.Expr], sp.Expr]:
    """f' at a number: the derivative of the opaque proven activation (its derived derivative)."""
    u = sp.Symbol("u")
    fp = sp.diff(activate(act, [u])[0], u)
    return lambda v: _sympify(fp).xreplace({u: v}).evalf(DIGITS)  # strict: SymPy objects only, never text


def _head_functions(head, layer: int) -> dict[str, Callable]:
    """The explicit functions of dense layer ``layer``'s forms: its f', and at the output dC/dA and the VJP."""
    prime = _prime(head.activations[layer - 1])
    functions: dict[str, Callable] = {Fn.DERIVATIVE.value: lambda M: M.applyfunc(prime)}
    if layer == head.L:
        dC_da = derive_cost(head.cost).dC_da.subs(n_out, head.sizes[-1])
        functions[Fn.COST_GRADIENT.value] = lambda A, Y: sp.Matrix(A.shape[0], A.shape[1], lambda r, c: dC_da.xreplace(
            {a_idx[L_cost, unit_j]: A[r, c], y_idx[unit_j]: Y[r, c]}))
        functions[Fn.VJP.value] = softmax_jacobian_t(Layout.ROWS)
    return functions


def _dense_backward(twin: ConvNetSpec, params: Params, caches: list[dict], ys: list, grads: Params) -> sp.Matrix:
    """Δ^L, then BP2/BP3/BP4 in their batch forms (rows) for the dense head; returns dC/d(flatten output)."""
    head, N = twin.head(), Names(Layout.ROWS)
    dense = twin.dense
    first = len(twin.layers) - len(dense)
    scale = sp.Rational(1, BATCH) if twin.reduction == "mean" else sp.Integer(1)
    env: dict = {m: BATCH, N.Y(head.L): sp.Matrix(ys)}
    for h, layer in enumerate(dense, start=1):
        c = caches[first + h - 1]
        env[N.A(h - 1)], env[N.Z(h)], env[N.A(h)] = c["in"], c["z"], c["out"]
        env[N.W(h)] = _matrix(params[layer.W], layer.n_in, layer.n_out)
    env[N.Delta(head.L)] = explicit(output_form(N, head), env, _head_functions(head, head.L))
    for h in range(head.L, 0, -1):
        layer = dense[h - 1]
        if h < head.L:
            env[N.Delta(h)] = explicit(backprop_form(N, h, N.Delta(h + 1)), env, _head_functions(head, h))
        nabla_W = explicit(weight_form(N, h, N.Delta(h), scale), env)
        nabla_b = explicit(bias_form(N, N.Delta(h), scale), env)
        grads[layer.W] = {e: nabla_W[e] for e in params[layer.W]}
        grads[layer.b] = {e: nabla_b[e] for e in params[layer.b]}
    # into the flatten: BP2 without an activation's derivative (flatten has none of its own), pre-scaled by s
    return explicit(scale * N.Delta(1) * N.W(1).T, env)


def _unflatten(flat: sp.Matrix, shape: tuple[int, ...]) -> Tensor:
    """The reshape back to (m, C, H, W), C order (flatten's backward)."""
    return {e: flat[e[0], q % flat.shape[1]] for q, e in enumerate(_grid(shape))}


def _route(layer: MaxPool2d, rules: ChainRules, x: Tensor, shape: tuple[int, ...], upstream: Tensor) -> Tensor:
    """dC/d(pool input): each window's upstream gradient to the entries the routing names (summed on overlaps)."""
    out: Tensor = {e: sp.Integer(0) for e in _grid(shape)}
    for e, g in upstream.items():
        window = _window(layer, *e)
        for t in rules.route([x[q] for q in window], layer.k):
            out[window[t]] += g
    return out


def _conv_backward(layer: Conv2d, act: ActSpec, rules: ChainRules, params: Params, cache: dict, upstream: Tensor,
                   grads: Params, need_dx: bool) -> Tensor | None:
    """G = upstream (.) f'(Y), then the convolution's textbook forms evaluated at the point with that G."""
    prime = _prime(act)
    mm, c_in, h, w = cache["in_shape"]
    size = ConvSize(mm, c_in, layer.c_out, h, w, layer.k, layer.stride, layer.pad)
    point = {G[e]: upstream[e] * prime(z) for e, z in cache["z"].items()}
    point.update({X[e]: v for e, v in cache["in"].items()})
    point.update({K[e]: v for e, v in params[layer.W].items()})

    def at(expr: sp.Expr) -> sp.Expr:
        return _sympify(expr).xreplace(point)  # strict: a rule may be a plain int (0); never text

    grads[layer.W] = {e: at(rules.dk(size, *e)) for e in params[layer.W]}
    grads[layer.b] = {(0, o): at(rules.db(size, o)) for o in range(layer.c_out)}
    return {e: at(rules.dx(size, *e)) for e in _grid(cache["in_shape"])} if need_dx else None


def chained_gradients(twin: ConvNetSpec, params: Params, x: Tensor, ys: list,
                      rules: ChainRules = ChainRules()) -> Params:
    """The backward pass chained from the proven rules only (module doc), evaluated at the point."""
    caches = forward(twin, params, x)
    grads: Params = {}
    upstream: Tensor | sp.Matrix = _dense_backward(twin, params, caches, ys, grads)
    for index in range(len(twin.layers) - len(twin.dense) - 1, -1, -1):
        layer, cache = twin.layers[index], caches[index]
        if isinstance(layer, Flatten):
            upstream = _unflatten(upstream, cache["in_shape"])
        elif isinstance(layer, MaxPool2d):
            upstream = _route(layer, rules, cache["in"], cache["in_shape"], upstream)
        else:
            upstream = _conv_backward(layer, twin.conv_act(layer), rules, params, cache, upstream, grads, index > 0)
    return grads


# ----- the margins and the comparison ---------------------------------------------------------------------------
def _clear(twin: ConvNetSpec, caches: list[dict]) -> bool:
    """Every pre-activation at least MARGIN from 0 and every window's maximum MARGIN above the rest (or the exact 0
    of a clipped ReLU): the point is away from every kink and tie, where both sides are differentiable."""
    for layer, cache in zip(twin.layers, caches, strict=True):
        z = cache.get("z")
        if z is not None and any(abs(v) < MARGIN for v in (z.values() if isinstance(z, dict) else z)):
            return False
        if isinstance(layer, MaxPool2d):
            for e in cache["out"]:
                top, *rest = sorted((cache["in"][q] for q in _window(layer, *e)), reverse=True)
                if rest and top - rest[0] < MARGIN and top != 0:
                    return False
    return True


def draw_point(twin: ConvNetSpec, seed: int) -> tuple[Params, Tensor, list, int]:
    """Parameters, inputs, targets at a random point away from every kink and tie, and the draw that gave it."""
    rng = random.Random(seed)
    for draw in range(1, MAX_DRAWS + 1):
        params, x, ys = _draw(twin, rng)
        if _clear(twin, forward(twin, params, x)):
            return params, x, ys, draw
    raise BadInput(f"{twin.net}: no point {MARGIN} away from every kink and tie in {MAX_DRAWS} draws (seed {seed}); "
                   "try another seed")


def _max(values) -> sp.Expr:
    return max((abs(v) for v in values), default=sp.Float(0))


def block_check(name: str, direct: Tensor, chained: Tensor, detail: str = "") -> Check:
    """The direct entries of one block against the chained ones: max abs difference / the block's max <= 1e-40."""
    diff = _max([direct[e] - chained[e] for e in direct])
    err = sp.Float(diff / max(_max(chained[e] for e in direct), sp.Float("1e-300")), 3)
    holds = bool(err <= TOLERANCE)
    worst = max(direct, key=lambda e: abs(direct[e] - chained[e]))
    which = f"every one of the {len(direct)} entries" if len(direct) == len(chained) else (
        f"{len(direct)} of the {len(chained)} entries (corners and centre: {', '.join(map(str, direct))})")
    return Check(holds, f"numeric: {which} of {name}, error relative to the block {err} "
                        f"{'<=' if holds else '>'} 1e-40 at {DIGITS} digits", detail,
                 counterexample=None if holds else {"entry": f"{name}{list(worst)}",
                                                    "sympy.diff": sp.sstr(sp.Float(direct[worst], 15)),
                                                    "chained": sp.sstr(sp.Float(chained[worst], 15))},
                 strength=Strength.NUMERIC)


_DEPENDS = {Conv2d: {"W": ("conv.dK.correlate",), "b": ("conv.db.sum",)}, Dense: {"W": ("BP4",), "b": ("BP3",)}}


def derive_conv_end_to_end(spec: ConvNetSpec, *, seed: int = 0, rules: ChainRules = ChainRules(),
                           every_entry: bool = False) -> Derivation:
    """The end-to-end comparison of the module doc, one step per parameter block of the twin (``every_entry``:
    differentiate every kernel entry too, not only :func:`kernel_sample`; ~10 s more for ``lenet_tiny``)."""
    t0 = time.perf_counter()
    twin = conv_twin(spec)
    params, x, ys, draws = draw_point(twin, seed)
    direct = direct_gradients(twin, params, x, ys, direct_entries(twin, every_entry))
    chained = chained_gradients(twin, params, x, ys, rules)
    seconds = time.perf_counter() - t0
    sizes = f"{twin.net}, m = {BATCH}"
    kernels = "every entry" if every_entry else "the corners and centre"
    d = Derivation(f"{spec.title} end to end: sympy.diff of the composed cost against the chained rules "
                   f"({DIGITS} digits)",
                   summary=f"twin {sizes}; direct side: the forward composed from the definitions (convolution entry "
                           "by entry, Max of each window, flatten, dense, cost), sympy.diff by every entry of every "
                           f"block ({kernels} of a kernel); chained side: delta^L, the dense batch forms, the "
                           f"reshape, the pool routing, f', the convolution's dK, db, dX forms; {seconds:.1f} s",
                   role=Role.END_TO_END, subject=spec.title)
    detail = (f"evidence at one point (seed {seed}, draw {draws}: every pre-activation and window maximum at least "
              f"{MARGIN} from a kink or tie); {seconds:.1f} s for the {twin.n_params} parameters of the twin")
    for layer in (x_ for x_ in twin.layers if isinstance(x_, Conv2d | Dense)):
        for kind, name in (("W", layer.W), ("b", layer.b)):
            which = kernels + " entries" if isinstance(layer, Conv2d) and kind == "W" else "every entry"
            d.add(Step(f"e2e.conv.{name}", sp.Derivative(sp.Symbol("C"), sp.Symbol(name), evaluate=False),
                       sp.Symbol(f"nabla_{name}"), StepKind.CLAIM,
                       f"sympy.diff of the composed cost of the twin {sizes} by {which} of {name} vs the chained "
                       "rules (delta^L, dense batch forms, reshape, first-argmax routing, f', dK/db/dX) at one "
                       f"random point, {DIGITS} digits",
                       block_check(name, direct[name], chained[name], detail), _DEPENDS[type(layer)][kind]))
    return d
