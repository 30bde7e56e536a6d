"""This model end to end, independently: ``sympy.diff`` of the composed C(θ) against the BP value, ≥ 30 digits.

Two sides, at the same random point (parameters, inputs, targets: random rationals, carried as 60-digit floats):

* **direct**: the model's scalar cost composed with its real activations and cost
  (:func:`derive.backprop.compose.compose_model`)
  and differentiated with ``sympy.diff`` with respect to one parameter at a time. The other leaves are fixed at the
  point *while composing* (``compose_model(fixed=...)``): ∂C/∂θ_i at the point is the derivative of
  t -> C(point with θ_i = t), so nothing is lost and C stays small. Never the layer recursion. The derivative is
  evaluated at the point in 60-digit mpmath arithmetic, once per distinct subexpression
  (:func:`derive.backprop.mp_eval.evaluate`); one parameter is one task, run on a pool of forked workers while
  the other parts of the model's derivation run (:func:`start_end_to_end`, :mod:`derive.backprop.parallel`).
* **BP**: the backprop recursion (BP1 with the derived ∂C/∂a, σ' and, for softmax, the proven Jacobian
  diag(s) − s sᵀ; BP2; BP3; BP4; then the batch reduction) evaluated in 60-digit mpmath arithmetic with the model's
  derived functions.

Agreement means block-relative error max|direct − BP| / max|BP| ≤ 1e-30 for every parameter block.

Where it runs: **exhaustively** on the reduced-width twin (``spec.reduced_twin(TWIN_WIDTH)``: same depth, activations,
cost, reduction, layout; every parameter), and on a **stratified sample** of the model itself (the first, the last and a
random entry of every parameter block) when the model's first layer has at most :data:`FULL_LIMIT` weights. Beyond that,
composing even the partially evaluated C in 60-digit SymPy arithmetic costs seconds per parameter (784-wide inputs:
docs/conventions.md records 53 s to compose 784-30-10 symbolically), so the model is covered by the twin, the
fixed-width proof and the all-widths proof, and the derivation says so.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import Executor

import mpmath
import sympy as sp

from derive.backprop.compose import compose_model, softmax_at
from derive.backprop.compose import x as x_base
from derive.backprop.e2e_scope import FULL_LIMIT, PATH_LIMIT, TWIN_WIDTH, composed_layers, paths_to_output
from derive.backprop.mp_eval import evaluate
from derive.backprop.output_delta import SOFTMAX_WIDTH
from derive.backprop.parallel import Inline, result_or_run
from derive.core.proof import Check
from derive.core.steps import Derivation, Role, Step
from derive.core.symbols import a, delta, y
from derive.core.symbols import z as z_base
from derive.functions.activations import derive_activation, derive_softmax, zs
from derive.functions.costs import L as L_cost
from derive.functions.costs import derive_cost, n_out, unit_j
from derive.layers import symbolic_layer
from derive.layers.dense import DenseSym, Param
from numeric.functions import TargetKind
from numeric.spec import ModelSpec

__all__ = [
    "DIGITS",
    "FULL_LIMIT",
    "PATH_LIMIT",
    "TOLERANCE",
    "bp_gradient",
    "composable",
    "derive_end_to_end",
    "direct_derivative",
    "direct_gradient",
    "parameter_of",
    "paths_to_output",
    "random_point",
    "random_value",
    "start_end_to_end",
    "stratified_sample",
]

DIGITS = 60
TOLERANCE = sp.Float("1e-30")


def composable(spec: ModelSpec, params: list) -> tuple[list, list[int]]:
    """The parameters whose composed cost is a tree of at most :data:`PATH_LIMIT` paths, and the layers left out."""
    kept = composed_layers(spec)
    left_out = [l for l in range(1, spec.L + 1) if l not in kept]
    return [s for s in params if int(s.indices[0]) not in left_out], left_out


def random_value(rng: random.Random, lo: float = -1.0, hi: float = 1.0) -> sp.Float:
    """A random rational in [lo, hi] with denominator 997 (never 0), as a 60-digit float."""
    r = sp.Rational(round((lo + (hi - lo) * rng.random()) * 997), 997)
    return sp.Float(r if r != 0 else sp.Rational(1, 997), DIGITS)


def random_point(spec: ModelSpec, m: int, seed: int = 0) -> dict:
    """Random values for every parameter, input and target symbol of ``compose_model(spec, m=m)``."""
    rng = random.Random(seed)
    point: dict = {}
    for s in _theta_symbols(spec):
        point[s] = random_value(rng)
    n_L = spec.sizes[-1]
    target = spec.cost_entry.target
    for s in range(1, m + 1):
        for k in range(1, spec.sizes[0] + 1):
            point[x_base[s, k]] = random_value(rng)
        if target is TargetKind.CLASSES:
            hot = rng.randrange(n_L)
            for j in range(n_L):
                point[y[s, j + 1]] = sp.Float(1 if j == hot else 0, DIGITS)
        elif target is TargetKind.BINARY:
            for j in range(n_L):
                point[y[s, j + 1]] = sp.Float(rng.randrange(2), DIGITS)
        else:
            for j in range(n_L):
                point[y[s, j + 1]] = random_value(rng)
    return point


def _layers(spec: ModelSpec) -> list[DenseSym]:
    return [symbolic_layer(layer) for layer in spec.layers]


def _theta_symbols(spec: ModelSpec) -> list:
    """Every parameter entry, layer by layer (W row by row, then b)."""
    return [entry for layer in _layers(spec) for entry in layer.param_entries()]


# ----- the direct side ----------------------------------------------------------------------------------------
#: the variable C is differentiated in: t -> C(point with the parameter = t)
_t = sp.Symbol("t")


def direct_derivative(spec: ModelSpec, point: dict, param, m: int, inputs: list | None) -> tuple[sp.Float, float]:
    """∂C/∂θ at ``point`` for one parameter θ: sympy.diff of t -> C(point with θ = t), evaluated at t = θ's value.

    A parameter of layer l does not change a^{l-1}: ``inputs`` are those activations at the point (None for layer
    1), and C(t) is composed from layer l on over them (the same expression composing everything would give).
    The derivative is evaluated in 60-digit mpmath arithmetic (:func:`derive.backprop.mp_eval.evaluate`). Returns
    the value and the seconds it took (a task of the worker pool: module level, picklable arguments).
    """
    t0 = time.perf_counter()
    l = int(param.indices[0])
    fixed = {**point, param: _t}
    cm = compose_model(spec, m=m, fixed=fixed, first_layer=l, inputs=inputs)
    value = evaluate(sp.diff(cm.cost, _t), {_t: point[param]}, DIGITS)
    return value, time.perf_counter() - t0


def _submit_direct(executor: Executor, spec: ModelSpec, point: dict, params: list, m: int) -> dict:
    """Futures of :func:`direct_derivative` for every parameter, the costliest (most paths) submitted first."""
    at_point = compose_model(spec, m=m, fixed=point).a
    order = sorted(params, key=lambda s: -paths_to_output(spec, int(s.indices[0])))
    tasks = {}
    for s in order:
        l = int(s.indices[0])
        args = (spec, point, s, m, None if l == 1 else at_point[l - 1])
        tasks[s] = (executor.submit(direct_derivative, *args), args)
    return {s: tasks[s] for s in params}


def _results(tasks: dict) -> dict:
    """Every task's (value, seconds); the cheapest, submitted last, first: those no worker has started yet are
    computed in this process (:func:`derive.backprop.parallel.result_or_run`), the same values wherever they run."""
    done = {p: result_or_run(future, direct_derivative, *args) for p, (future, args) in reversed(tasks.items())}
    return {p: done[p] for p in tasks}


def direct_gradient(spec: ModelSpec, point: dict, params: list, m: int) -> dict:
    """∂C/∂θ for each θ in ``params`` by sympy.diff of the composed cost, others fixed at ``point`` (in process)."""
    return {s: value for s, (value, _) in _results(_submit_direct(Inline(), spec, point, params, m)).items()}


# ----- the BP side --------------------------------------------------------------------------------------------
def _mp(v) -> mpmath.mpf:
    return mpmath.mpf(sp.Float(v, DIGITS)._mpf_)


def _elementwise(act) -> tuple[Callable, Callable]:
    res = derive_activation(act)
    f, fp = res.f_numeric(), res.fprime_numeric()

    def ev(expr):
        return lambda v: _mp(expr.xreplace({zs: sp.Float(v, DIGITS)}).evalf(DIGITS))

    return ev(f), ev(fp)


def _forward(spec: ModelSpec, point: dict, s: int, funcs: dict) -> tuple[list, list]:
    """a^l and f'(z^l) of sample ``s`` (60 digits), each layer's forward from the layer object."""
    acts = [[_mp(point[x_base[s, k]]) for k in range(1, spec.sizes[0] + 1)]]
    fps: list = [None]
    for l, layer in enumerate(_layers(spec), start=1):
        zl = layer.forward_at(acts[l - 1], value=lambda entry: _mp(point[entry]), add=mpmath.fsum)
        if funcs[l] is None:  # a per-sample activation (softmax): instantiated from its definition
            out_L = derive_softmax(SOFTMAX_WIDTH).derivation["softmax.def"].lhs.indices[0]
            table = {z_base[out_L, k + 1]: sp.Float(zl[k], DIGITS) for k in range(len(zl))}
            acts.append([_mp(e.xreplace(table).evalf(DIGITS)) for e in softmax_at(len(zl))])
            fps.append(None)
        else:
            f, fp = funcs[l]
            acts.append([f(v) for v in zl])
            fps.append([fp(v) for v in zl])
    return acts, fps


def _output_error(spec: ModelSpec, point: dict, s: int, aL: list, fpL: list | None) -> list:
    """BP1 with the derived dC/da (through the proven Jacobian diag(s) - s s^T for softmax)."""
    n_L = spec.sizes[-1]
    cost = derive_cost(spec.cost)
    ys = [point[y[s, j]] for j in range(1, n_L + 1)]
    dC_da = [_mp(cost.dC_da.xreplace({a[L_cost, unit_j]: sp.Float(aL[j], DIGITS), y[unit_j]: ys[j]})
                 .subs({n_out: n_L}).evalf(DIGITS)) for j in range(n_L)]
    if fpL is None:
        return [mpmath.fsum(dC_da[i] * ((aL[i] if i == j else 0) - aL[i] * aL[j]) for i in range(n_L))
                for j in range(n_L)]
    return [dC_da[j] * fpL[j] for j in range(n_L)]


def bp_gradient(spec: ModelSpec, point: dict, m: int) -> dict:
    """The BP value of every parameter at ``point``: BP1-BP4 recursion in 60-digit arithmetic, then the reduction."""
    mpmath.mp.dps = DIGITS
    funcs = {l: _elementwise(act) if act.entry.elementwise else None for l, act in enumerate(spec.activations, 1)}
    grad = {s: mpmath.mpf(0) for s in _theta_symbols(spec)}
    layers = _layers(spec)
    for s in range(1, m + 1):
        acts, fps = _forward(spec, point, s, funcs)
        deltas = _output_error(spec, point, s, acts[spec.L], fps[spec.L])
        for l in range(spec.L, 0, -1):
            W, bias = layers[l - 1].W, layers[l - 1].b
            for j in range(spec.sizes[l]):  # BP3, BP4
                if spec.bias:
                    grad[bias.entry(j + 1)] += deltas[j]
                for k in range(spec.sizes[l - 1]):
                    grad[W.entry(j + 1, k + 1)] += acts[l - 1][k] * deltas[j]
            if l > 1:  # BP2
                deltas = [mpmath.fsum(_mp(point[W.entry(jj + 1, j + 1)]) * deltas[jj] for jj in range(spec.sizes[l]))
                          * fps[l - 1][j] for j in range(spec.sizes[l - 1])]
    scale = mpmath.mpf(1) / m if spec.reduction == "mean" else mpmath.mpf(1)
    return {s: sp.Float(v * scale, DIGITS) for s, v in grad.items()}


# ----- comparing --------------------------------------------------------------------------------------------------
def parameter_of(spec: ModelSpec, s) -> Param:
    """The parameter a parameter entry belongs to (by its base and layer index, never by a printed name)."""
    layer = _layers(spec)[int(s.indices[0]) - 1]
    return next(param for param in layer.params if param.base == s.base)


def _compare(spec: ModelSpec, direct: dict, bp: dict) -> dict[Param, Check]:
    blocks: dict[Param, list] = {}
    for s in direct:
        blocks.setdefault(parameter_of(spec, s), []).append(s)
    out = {}
    for param, syms in blocks.items():
        ref = max(abs(bp[s]) for s in syms)
        err = max(abs(direct[s] - bp[s]) for s in syms)
        rel = err / max(ref, sp.Float("1e-300"))
        if rel <= TOLERANCE:
            out[param] = Check(True, f"evaluation ({DIGITS} digits): {len(syms)} parameters, block-relative error "
                                     f"{float(rel):.1e} <= 1e-30")
        else:
            worst = max(syms, key=lambda s: abs(direct[s] - bp[s]))
            out[param] = Check(False, f"evaluation ({DIGITS} digits): block-relative error {float(rel):.3g} > 1e-30",
                               counterexample={"parameter": sp.sstr(worst),
                                               "sympy.diff": f"{float(direct[worst]):.15g}",
                                               "BP": f"{float(bp[worst]):.15g}"})
    return out


#: parameter name -> (the theorem its gradient is, its right-hand side for unit indices j, k of layer l)
_THEOREMS = {"W": ("BP4", lambda l, j, k: a[l - 1, k] * delta[l, j]), "b": ("BP3", lambda l, j, k: delta[l, j])}


def _lhs_rhs(param: Param):
    j, k = sp.symbols("j k", integer=True, positive=True)
    units = (j, k)[: param.unit_indices]
    rhs = _THEOREMS[param.name][1](param.layer, j, k)
    return sp.Derivative(sp.Symbol("C"), param.entry(*units), evaluate=False), rhs


def stratified_sample(spec: ModelSpec, rng: random.Random) -> list:
    """The first, the last and a random entry of every parameter block."""
    chosen = []
    for layer in _layers(spec):
        entries = layer.param_entries()
        blocks = [[e for e in entries if e.base == param.base] for param in layer.params]
        for block in blocks:
            picks = {0, len(block) - 1, rng.randrange(len(block))}
            chosen += [block[i] for i in sorted(picks)]
    return chosen


def _runs(spec: ModelSpec, d: Derivation, seed: int, full_limit: int) -> list[tuple]:
    """(tag, spec, batch size, parameters, title) of each comparison: the twin, then the model where tractable."""
    twin = spec.reduced_twin(TWIN_WIDTH)
    runs = [("twin", twin, 1, _theta_symbols(twin), f"reduced twin {twin.net}, every parameter, 1 sample")]
    first = spec.sizes[0] * spec.sizes[1]
    if twin.sizes == spec.sizes:
        note = f"the model {spec.net} is its own reduced twin: checked exhaustively, here with a batch of 2"
        runs.append(("model", spec, 2, _theta_symbols(spec), note))
    elif first <= full_limit:
        picks = stratified_sample(spec, random.Random(seed))
        runs.append(("model", spec, 2, picks, f"the model {spec.net}: stratified sample of {len(picks)} of "
                                              f"{spec.n_params} parameters (first, last, random of every block), "
                                              "batch of 2"))
    else:
        d.define("e2e.model.stop", sp.Symbol(f"model_{spec.net}"), sp.Symbol("not_composed"),
                 f"not composed: the first layer has {first} weights (> {full_limit}); composing C(theta) at this "
                 "width costs seconds per parameter in 60-digit SymPy arithmetic, so this model is covered by its "
                 "reduced twin (below), the fixed-width proof and the all-widths proof")
    return runs


def _left_out_step(d: Derivation, tag: str, title: str, left_out: list[int]) -> None:
    layers = ", ".join(map(str, left_out))
    d.define(f"e2e.{tag}.depth", sp.Symbol(f"layers_{layers.replace(', ', '_')}"), sp.Symbol("not_composed"),
             f"{title}: layers {layers} not composed: from a unit there more than {PATH_LIMIT} paths lead "
             "to the cost, and sympy.diff walks the composed C(theta) as a tree of that many copies "
             "(exponential in depth); those layers are covered by the fixed-width proof (every layer, "
             "layer by layer) and the all-widths proof")


def start_end_to_end(spec: ModelSpec, executor: Executor, *, seed: int = 0, full_limit: int = FULL_LIMIT
                     ) -> Callable[..., Derivation]:
    """Submit the direct side of every comparison to ``executor``; returns ``finish(progress=None)``, which waits
    for it, computes the BP side and returns the derivation (the same one :func:`derive_end_to_end` returns)."""
    d = Derivation(f"{spec.title} end to end: sympy.diff of the composed C(theta) against BP1-BP4 ({DIGITS} digits)",
                   summary="direct side: the real activations and cost composed and differentiated, never the "
                           "recursion; BP side: BP1-BP4 with the derived functions",
                   role=Role.END_TO_END, subject=spec.title)
    pending = []
    for tag, s, m, params, title in _runs(spec, d, seed, full_limit):
        params, left_out = composable(s, params)
        point = random_point(s, m, seed)
        pending.append((tag, s, m, title, left_out, point, _submit_direct(executor, s, point, params, m)))

    def finish(progress: Callable[[str], None] | None = None) -> Derivation:
        t0 = time.perf_counter()
        # every comparison's tasks in one queue, so this process takes the cheapest of all that are left
        results = _results({(i, p): task for i, run in enumerate(pending) for p, task in run[-1].items()})
        for i, (tag, s, m, title, left_out, point, futures) in enumerate(pending):
            if left_out:
                _left_out_step(d, tag, title, left_out)
                title += f", layers {left_out[-1] + 1}-{s.L}"
            done = {p: results[i, p] for p in futures}
            direct = {p: value for p, (value, _) in done.items()}
            bp = bp_gradient(s, point, m)
            checks = _compare(s, direct, bp)
            per = sum(secs for _, secs in done.values()) / max(len(done), 1) * 1000
            if progress:
                progress(f"end to end, {title}: {time.perf_counter() - t0:.1f} s waiting and BP")
            t0 = time.perf_counter()
            for param, check in checks.items():
                lhs, rhs = _lhs_rhs(param)
                check.detail = (check.detail + "; " if check.detail else "") + f"{title}; {per:.0f} ms per parameter"
                d.add(Step(f"e2e.{tag}.{param.key}", lhs, rhs, "claim",
                           f"{title}: sympy.diff of the composed cost vs the BP value for block {param.key}", check,
                           (_THEOREMS[param.name][0],)))
        return d

    return finish


def derive_end_to_end(spec: ModelSpec, *, seed: int = 0, full_limit: int = FULL_LIMIT, progress=None) -> Derivation:
    """The end-to-end comparison (module doc): twin exhaustively, the model itself by a stratified sample."""
    return start_end_to_end(spec, Inline(), seed=seed, full_limit=full_limit)(progress)
