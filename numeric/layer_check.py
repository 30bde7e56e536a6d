"""Layer-level gradient checks: a CS231n-style ``forward``/``backward`` pair, or a ``(loss, grads)`` function.

Real backprop code rarely comes as ``loss(params)``/``grad(params)``. A layer comes as a pair::

    out, cache = affine_forward(x, w, b)          # or out_1, ..., out_k, cache
    dx, dw, db = affine_backward(dout, cache)     # or backward(dout_1, ..., dout_k, cache)

and a loss layer as one function, ``loss, dx = softmax_loss(x, y)``. :func:`check_layer` and :func:`check_loss`
turn them into a :func:`numeric.gradcheck` problem: the inputs being differentiated (``wrt``: by default every
floating-point array input; a ``bn_param`` dict or integer labels get none) become the parameters, and a layer's
scalar is ``sum_i <dout_i, out_i>`` for seeded random ``dout_i`` — its gradient with respect to an input is what
``backward(dout, cache)`` must return. Every row, diagnosis and mode of :func:`numeric.gradcheck` applies; rows are
named after the inputs (the parameter names of ``forward``'s signature for a tuple, the keys for a dict).

A forward that returns different outputs for the same inputs (a dropout drawing a new mask per call) cannot be
differentiated; it is reported as bad input, with what to do.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from numeric.check_result import GradcheckResult
from numeric.checker import gradcheck
from numeric.errors import BadInput
from numeric.guard import announce

__all__ = ["LayerProblem", "LossProblem", "Problem", "check_layer", "check_loss", "check_problem", "problem_kind"]

Array = np.ndarray
Inputs = Sequence[Any] | Mapping[str, Any]


def _is_float_array(v: Any) -> bool:
    return isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating)


def _names(fn: Callable, inputs: Inputs) -> list[str]:
    """The name of each input: dict keys, else ``fn``'s positional parameter names (``arg0``... past them)."""
    if isinstance(inputs, Mapping):
        return [str(k) for k in inputs]
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):  # builtins and some C callables have no signature
        params = []
    names = [p.name for p in params[:len(inputs)]]
    return names + [f"arg{i}" for i in range(len(names), len(inputs))]


@dataclass
class _Inputs:
    """The inputs of a user function by name, and which of them are differentiated."""

    fn: Callable
    names: list[str]
    values: list[Any]
    keyword: bool
    wrt: list[str]

    @classmethod
    def of(cls, fn: Callable, inputs: Inputs, wrt: Sequence[str] | None, what: str) -> _Inputs:
        if not isinstance(inputs, (Mapping, list, tuple)):
            raise BadInput(f"{what}: inputs must be a tuple/list (passed as f(*inputs)) or a dict (f(**inputs)), "
                           f"got {type(inputs).__name__}")
        names = _names(fn, inputs)
        values = list(inputs.values()) if isinstance(inputs, Mapping) else list(inputs)
        floats = [n for n, v in zip(names, values, strict=True) if _is_float_array(v)]
        if wrt is None:
            chosen = floats
        else:
            chosen = [str(w) for w in wrt]
            unknown = [w for w in chosen if w not in names]
            if unknown:
                raise BadInput(f"{what}: wrt names {', '.join(unknown)}, which are not inputs "
                               f"(inputs: {', '.join(names)})")
            not_float = [w for w in chosen if w not in floats]
            if not_float:
                raise BadInput(f"{what}: {', '.join(not_float)} in wrt are not floating-point arrays; only those "
                               "can be differentiated")
        if not chosen:
            raise BadInput(f"{what}: no input is a floating-point NumPy array, so there is nothing to differentiate "
                           f"(inputs: {', '.join(names) or 'none'})")
        return cls(fn, names, values, isinstance(inputs, Mapping), chosen)

    def params(self) -> dict[str, Array]:
        return {n: v for n, v in zip(self.names, self.values, strict=True) if n in self.wrt}

    def call(self, params: Mapping[str, Any]) -> Any:
        """``fn`` at the inputs, with the differentiated ones taken from ``params``."""
        values = [params[n] if n in self.wrt else v for n, v in zip(self.names, self.values, strict=True)]
        if self.keyword:
            return self.fn(**dict(zip(self.names, values, strict=True)))
        return self.fn(*values)

    def batch_sizes(self) -> list[int]:
        """Candidates for m: the leading axis of the first array input (N by CS231n's convention), then other axes."""
        arrays = [v for v in self.values if isinstance(v, np.ndarray) and v.ndim]
        dims = [int(arrays[0].shape[0])] if arrays else []
        dims += [int(d) for v in arrays for d in v.shape]
        return [d for i, d in enumerate(dims) if d > 2 and d not in dims[:i]]

    def gradients(self, got: Any, what: str) -> dict[str, Any]:
        """The user's gradients by input name: a dict, a tuple/list in ``wrt`` order (or of every float input), or
        one array when one input is differentiated."""
        if isinstance(got, Mapping):  # gradients of inputs not being checked are dropped, unknown keys kept
            return {str(k): v for k, v in got.items() if str(k) in self.wrt or str(k) not in self.names}
        if isinstance(got, np.ndarray) or np.isscalar(got):
            got = (got,)
        if not isinstance(got, (tuple, list)):
            raise TypeError(f"{what} returned {type(got).__name__}; it must return the gradients of "
                            f"{', '.join(self.wrt)} as a tuple, a list or a dict")
        floats = [n for n, v in zip(self.names, self.values, strict=True) if _is_float_array(v)]
        for order in (self.wrt, floats):
            if len(got) == len(order):
                return {n: g for n, g in zip(order, got, strict=True) if n in self.wrt}
        raise TypeError(f"{what} returned {len(got)} gradients for the {len(self.wrt)} inputs "
                        f"{', '.join(self.wrt)} (return them in that order, or as a dict)")


def _split(result: Any) -> tuple[list[Any], Any, bool]:
    """``(outs, cache, has_cache)`` from what a forward returned: a tuple's last element is the cache."""
    if isinstance(result, tuple | list):
        if len(result) < 2:
            raise BadInput("forward returned a tuple of one element: return out, or (out_1, ..., out_k, cache)")
        return list(result[:-1]), result[-1], True
    return [result], None, False


def _outputs(outs: list[Any]) -> list[Array]:
    arrays = []
    for i, out in enumerate(outs):
        arr = np.asarray(out)
        if not np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_:
            raise BadInput(f"forward's output {i + 1} has dtype {arr.dtype}; outputs must be numbers or float "
                           "arrays (the cache goes last in the tuple)")
        arrays.append(arr)
    return arrays


def _max_difference(first: Sequence[Array], second: Sequence[Array]) -> float:
    return max(float(np.max(np.abs(a - b))) if a.size else 0.0 for a, b in zip(first, second, strict=True))


@dataclass
class LayerProblem:
    """A layer to check: ``forward(*inputs) -> out | (out_1, ..., out_k, cache)`` and ``backward(*douts, cache)``.

    ``bpv gradcheck`` accepts one from ``make_problem()`` in place of ``(loss, grad, params)``.
    """

    forward: Callable[..., Any]
    backward: Callable[..., Any]
    inputs: Inputs
    wrt: Sequence[str] | None = None
    notes: list[str] = field(default_factory=list)

    def as_gradcheck(self, seed: int = 0) -> tuple[Callable, Callable, dict[str, Array], list[int]]:
        """``(loss, grad, params, batch_sizes)`` for :func:`numeric.gradcheck`."""
        ins = _Inputs.of(self.forward, self.inputs, self.wrt, "check_layer")
        params = ins.params()
        own = {n: v.copy() for n, v in params.items()}  # the user's arrays stay untouched whatever forward does
        outs0, _, has_cache = self._run(ins, own)
        moved = [n for n in params if not np.array_equal(own[n], params[n], equal_nan=True)]
        if moved:
            raise BadInput(f"forward changed its input {moved[0]} in place (e.g. out = x; out[out < 0] = 0): the "
                           "check differentiates around fixed inputs; copy before modifying (out = x.copy())")
        outs1, _, _ = self._run(ins, own)
        if not all(np.array_equal(a, b, equal_nan=True) for a, b in zip(outs0, outs1, strict=True)):
            raise BadInput(f"forward gives different outputs for the same inputs (max difference "
                           f"{_max_difference(outs0, outs1):.3g}): a random draw on every call (a dropout mask?) "
                           "cannot be differentiated; seed it inside forward (np.random.default_rng(seed)) or pass "
                           "the mask as an input")
        rng = np.random.default_rng(seed)
        douts = [rng.standard_normal(o.shape).astype(o.dtype if np.issubdtype(o.dtype, np.floating) else np.float64)
                 for o in outs0]
        notes = self.notes

        def loss(p: Mapping[str, Any]) -> Any:
            outs, _, _ = self._run(ins, p)
            return sum(np.sum(d * o) for d, o in zip(douts, outs, strict=True))

        def grad(p: Mapping[str, Any]) -> dict[str, Any]:
            _, cache, _ = self._run(ins, p)
            given = [d.copy() for d in douts]  # the user's backward may write into dout (dx = dout; dx[x < 0] = 0)
            announce("backward()")
            got = self.backward(*given, cache) if has_cache else self.backward(*given)
            if any(not np.array_equal(a, b) for a, b in zip(given, douts, strict=True)) and not notes:
                notes.append("backward changed dout in place: harmless for this check, but in a network the "
                             "layer above would see its own gradient overwritten (copy dout before writing)")
            return ins.gradients(got, "backward")

        return loss, grad, params, ins.batch_sizes()

    def _run(self, ins: _Inputs, params: Mapping[str, Any]) -> tuple[list[Array], Any, bool]:
        announce("forward()")
        outs, cache, has_cache = _split(ins.call(params))
        return _outputs(outs), cache, has_cache


@dataclass
class LossProblem:
    """A loss layer to check: ``fn(*inputs) -> (loss, grads)``, CS231n's ``softmax_loss(x, y) -> (loss, dx)``."""

    fn: Callable[..., Any]
    inputs: Inputs
    wrt: Sequence[str] | None = None
    notes: list[str] = field(default_factory=list)

    def as_gradcheck(self, seed: int = 0) -> tuple[Callable, Callable, dict[str, Array], list[int]]:
        """``(loss, grad, params, batch_sizes)`` for :func:`numeric.gradcheck` (``seed`` is unused: no douts)."""
        ins = _Inputs.of(self.fn, self.inputs, self.wrt, "check_loss")

        def both(p: Mapping[str, Any]) -> tuple[Any, Any]:
            announce("fn()")
            got = ins.call(p)
            if not isinstance(got, tuple | list) or len(got) != 2:
                kind = f"a tuple of {len(got)}" if isinstance(got, tuple | list) else type(got).__name__
                raise BadInput(f"check_loss: fn must return (loss, grads), got {kind}")
            return got

        def loss(p: Mapping[str, Any]) -> Any:
            return both(p)[0]

        def grad(p: Mapping[str, Any]) -> dict[str, Any]:
            return ins.gradients(both(p)[1], "fn")

        return loss, grad, ins.params(), ins.batch_sizes()


def _check(problem: LayerProblem | LossProblem, seed: int, options: Any) -> GradcheckResult:
    loss, grad, params, batch_sizes = problem.as_gradcheck(seed)
    options.setdefault("batch_size", batch_sizes)
    result = gradcheck(loss, grad, params, seed=seed, **options)
    result.notes.extend(problem.notes)
    from numeric.named_bugs import explain  # here: named_bugs builds on this module

    return explain(problem, result, seed)  # a wrong row named where an experiment on the user's code supports it


def check_layer(forward: Callable[..., Any], backward: Callable[..., Any], inputs: Inputs,
                wrt: Sequence[str] | None = None, *, seed: int = 0, **options: Any) -> GradcheckResult:
    """Check ``backward`` against finite differences of ``forward``; ``options`` are :func:`numeric.gradcheck`'s.

    ``inputs``: a tuple/list (``forward(*inputs)``) or a dict (``forward(**inputs)``). ``forward`` returns ``out``
    or ``(out_1, ..., out_k, cache)``; ``backward(*douts, cache)`` (``backward(*douts)`` when there is no cache)
    returns the gradients of ``wrt`` (default: every floating-point array input) as a tuple in that order or a dict.

    >>> import numpy as np
    >>> def scale_forward(x, w):
    ...     return x * w, (x, w)
    >>> def scale_backward(dout, cache):
    ...     x, w = cache
    ...     return dout * w, dout * x
    >>> check_layer(scale_forward, scale_backward, (np.arange(3.0), np.array([2.0, -1.0, 0.5]))).ok
    True
    """
    return _check(LayerProblem(forward, backward, inputs, wrt), seed, options)


def check_loss(fn: Callable[..., Any], inputs: Inputs, wrt: Sequence[str] | None = None, *, seed: int = 0,
               **options: Any) -> GradcheckResult:
    """Check a function returning ``(loss, grads)`` (``grads``: one array, a tuple in ``wrt`` order, or a dict)."""
    return _check(LossProblem(fn, inputs, wrt), seed, options)


Problem = tuple[Callable, Callable, Mapping[str, Any]] | LayerProblem | LossProblem


def problem_kind(problem: Any) -> str | None:
    """What a ``make_problem()`` returned, in words, or None when it is one of the three accepted shapes."""
    if isinstance(problem, LayerProblem | LossProblem):
        return None
    if not isinstance(problem, tuple) or len(problem) != 3:
        got = f"a tuple of {len(problem)}" if isinstance(problem, tuple) else type(problem).__name__
        return (f"{got}; it must return (loss, grad, params), a numeric.LayerProblem(forward, backward, inputs) or "
                "a numeric.LossProblem(fn, inputs)")
    loss, grad, params = problem
    if not callable(loss):
        return f"a loss that is not callable ({type(loss).__name__}); it must be loss(params) -> number"
    if not callable(grad):
        return f"a grad that is not callable ({type(grad).__name__}); it must be grad(params) -> dict of arrays"
    if not isinstance(params, Mapping):
        return f"params of type {type(params).__name__}; it must be a dict of arrays"
    return None


def check_problem(problem: Problem, *, seed: int = 0, **options: Any) -> GradcheckResult:
    """Check any of the three shapes ``make_problem()`` may return (see :func:`problem_kind`)."""
    if isinstance(problem, LayerProblem | LossProblem):
        return _check(problem, seed, options)
    loss, grad, params = problem
    return gradcheck(loss, grad, params, seed=seed, **options)
