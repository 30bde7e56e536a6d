"""Adapters from the shapes real backprop code has to a gradient check, so no one writes glue code.

Each turns one common shape into what :func:`numeric.gradcheck` or :func:`numeric.check_layer` takes:

* :func:`grad_from_update` — the gradient exists only inside an in-place update ``theta -= lr * g``: it is
  read back as ``(theta - theta') / lr`` from one step on a private copy;
* :func:`grad_from_optimizer` — the gradient is handed to an optimiser object (``opt.step(grads)``,
  ``opt.update(params, grads)``, ``opt.apply_gradients(zip(grads, params))``): a :class:`GradientRecorder` stands
  in for the optimiser and keeps what it was given;
* :func:`attributes_problem` — the parameters live on an object or in a module's globals (``self.W``, ``Wxh``) and
  the loss function takes no parameters (``lossFun(inputs, targets, hprev)`` style): they are set for each call and
  restored after;
* :func:`layer_from_object` — a layer object with ``forward(x)``/``backward(dout)`` methods that keeps its
  parameters and their gradients as attributes (``self.W``, ``self.dW``);
* :mod:`numeric.adapters_torch` — a PyTorch ``autograd.Function`` or module with a hand-written backward.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from numeric.errors import BadInput
from numeric.layer_check import LayerProblem

__all__ = ["GradientRecorder", "attributes_problem", "grad_from_optimizer", "grad_from_update", "layer_from_object"]

Array = np.ndarray
Params = Mapping[str, Any]


def _copies(params: Params) -> dict[str, Array]:
    return {k: np.array(v, copy=True) for k, v in params.items()}


def grad_from_update(update: Callable[[dict[str, Array]], Any], lr: float = 1.0) -> Callable[[Params], dict]:
    """``grad(params)`` from an update step ``update(params)`` that applies ``theta <- theta - lr * g``.

    ``update`` may change the arrays in place (``params["W"] -= lr * dW``) or return the new dict. It runs on a
    private copy, so the caller's parameters never move. Pass the learning rate the step uses; the recovered
    gradient is exact up to rounding of order ``eps * |theta| / lr``, so a larger ``lr`` is more precise.
    """
    if not lr:
        raise BadInput("grad_from_update: lr must be non-zero (the gradient is (theta - theta') / lr)")

    def grad(params: Params) -> dict[str, Array]:
        stepped = _copies(params)
        returned = update(stepped)
        after = returned if isinstance(returned, Mapping) else stepped
        missing = [k for k in params if k not in after]
        if missing:
            raise KeyError(f"the update step returned no {', '.join(missing)}")
        return {k: (np.asarray(params[k]) - np.asarray(after[k])) / lr for k in params}

    return grad


class GradientRecorder:
    """An optimiser stand-in: whatever gradients the user's code hands it are recorded, nothing is updated.

    Understood calls: ``step(grads)``, ``update(grads)``, ``update(params, grads)``, ``apply_gradients(pairs)``
    (``(grad, param)`` pairs), ``opt(grads)``; ``grads`` is a dict by key or a sequence in the order of the
    parameters; a pair's parameter is matched by identity with the arrays the step was given.
    """

    def __init__(self, params: Params):
        self.params = params
        self.grads: dict[str, Any] = {}

    def _record(self, grads: Any) -> None:
        if isinstance(grads, Mapping):
            self.grads.update({str(k): v for k, v in grads.items()})
            return
        grads = list(grads)
        if grads and all(isinstance(p, tuple) and len(p) == 2 for p in grads):
            by_id = {id(v): k for k, v in self.params.items()}
            for g, param in grads:
                key = by_id.get(id(param))
                if key is None:
                    raise KeyError("apply_gradients got a (grad, param) pair whose param is not one of the arrays "
                                   "the step was given")
                self.grads[key] = g
            return
        if len(grads) != len(self.params):
            raise KeyError(f"the optimiser got {len(grads)} gradients for {len(self.params)} parameters "
                           f"({', '.join(self.params)}); pass a dict, or one per parameter in that order")
        self.grads.update(zip(self.params, grads, strict=True))

    def step(self, *args: Any) -> None:
        self._record(args[-1])

    update = step
    __call__ = step

    def apply_gradients(self, pairs: Any) -> None:
        self._record(list(pairs))

    def zero_grad(self) -> None:
        """Training loops call it before a step; there is nothing to clear."""


def grad_from_optimizer(train_step: Callable[[dict[str, Array], GradientRecorder], Any]) -> Callable[[Params], dict]:
    """``grad(params)`` from ``train_step(params, optimiser)``, the user's step that hands gradients to an optimiser.

    The step gets private copies of the parameters and a :class:`GradientRecorder` as its optimiser.
    """

    def grad(params: Params) -> dict[str, Any]:
        own = _copies(params)
        recorder = GradientRecorder(own)
        train_step(own, recorder)
        if not recorder.grads:
            raise KeyError("the training step never handed gradients to the optimiser")
        return dict(recorder.grads)

    return grad


def _get(owner: Any, path: str) -> Any:
    """``owner.a.b`` or ``owner.a["b"]`` for the dotted ``path`` ``a.b``."""
    value = owner
    for part in path.split("."):
        value = value[part] if isinstance(value, Mapping) else getattr(value, part)
    return value


def _set(owner: Any, path: str, value: Any) -> None:
    head, _, last = path.rpartition(".")
    parent = _get(owner, head) if head else owner
    if isinstance(parent, dict):
        parent[last] = value
    else:
        setattr(parent, last, value)


@contextlib.contextmanager
def _attributes_set(owner: Any, values: Params) -> Iterator[None]:
    """``owner``'s attributes ``values`` set for the duration, the originals restored after."""
    saved = {path: _get(owner, path) for path in values}
    try:
        for path, value in values.items():
            _set(owner, path, value)
        yield
    finally:
        for path, value in saved.items():
            _set(owner, path, value)


def _by_name(names: Sequence[str], grads: Any, what: str) -> dict[str, Any]:
    if isinstance(grads, Mapping):
        return {str(k): v for k, v in grads.items()}
    grads = list(grads)
    if len(grads) < len(names):
        raise TypeError(f"{what} returned {len(grads)} gradients for {len(names)} parameters ({', '.join(names)})")
    return dict(zip(names, grads[:len(names)], strict=True))


def attributes_problem(owner: Any, names: Sequence[str], loss: Callable[[], Any],
                       grad: Callable[[], Any] | None = None) -> tuple[Callable, Callable, dict[str, Array]]:
    """``(loss, grad, params)`` for parameters kept as attributes of ``owner`` (an object, or a module for globals).

    ``names`` are attribute paths (``"W1"``, ``"params.W1"`` for a dict attribute). ``loss()`` takes no arguments
    and reads them; ``grad()`` returns the gradients as a dict or in ``names`` order. Without ``grad``, ``loss()``
    returns ``(loss, g_1, ..., g_k, ...)``: the value first, then one gradient per name (later items, such as an
    RNN's last hidden state, are ignored).
    """
    try:
        params = {n: np.array(_get(owner, n), copy=True) for n in names}
    except (AttributeError, KeyError, TypeError) as err:
        raise BadInput(f"attributes_problem: cannot read {err} from {type(owner).__name__}") from None

    def run(fn: Callable[[], Any], p: Params) -> Any:
        with _attributes_set(owner, {n: p[n] for n in names}):
            return fn()

    def value(p: Params) -> Any:
        out = run(loss, p)
        return out[0] if grad is None else out

    def gradient(p: Params) -> dict[str, Any]:
        if grad is not None:
            return _by_name(names, run(grad, p), "grad()")
        out = run(loss, p)
        return _by_name(names, list(out)[1:], "loss()")

    return value, gradient, params


def layer_from_object(layer: Any, inputs: Sequence[Any], params: Sequence[str],
                      grads: str | Mapping[str, str] = "d{}", *,
                      forward: str = "forward", backward: str = "backward",
                      input_gradients: bool = True) -> LayerProblem:
    """A :class:`~numeric.layer_check.LayerProblem` for a layer object keeping its parameters as attributes.

    ``layer.forward(*inputs)`` returns the output; ``layer.backward(dout)`` returns the gradient of the input
    (a tuple for several inputs, None for none) and stores each parameter's gradient in the attribute named by
    ``grads``: a pattern filled with the parameter's last name (``"d{}"``: ``dW`` for ``W`` or ``params.W``;
    ``"grads.{}"`` for a dict attribute) or a dict from parameter to path. Parameters are restored after each call.
    ``input_gradients=False``: ``backward`` returns nothing to check (the first layer of a net).
    """
    names = [f"input{i}" if len(inputs) > 1 else "x" for i in range(len(inputs))]
    clash = set(names) & set(params)
    if clash:
        raise BadInput(f"layer_from_object: parameter names {sorted(clash)} clash with the input names")
    try:
        values = {n: np.array(_get(layer, n), copy=True) for n in params}
    except (AttributeError, KeyError, TypeError) as err:
        raise BadInput(f"layer_from_object: cannot read parameter {err} from {type(layer).__name__}") from None

    where = {n: grads[n] if isinstance(grads, Mapping) else grads.format(n.rpartition(".")[2]) for n in params}

    def run_forward(**arrays: Any) -> tuple[Any, dict[str, Any]]:
        with _attributes_set(layer, {n: arrays[n] for n in params}):
            out = getattr(layer, forward)(*(arrays[n] for n in names))
        return out, {n: arrays[n] for n in params}

    def run_backward(dout: Any, state: dict[str, Any]) -> dict[str, Any]:
        with _attributes_set(layer, state):
            dx = getattr(layer, backward)(dout)
            got = {n: np.array(_get(layer, where[n]), copy=True) for n in params}
        if dx is not None:
            dxs = dx if isinstance(dx, tuple | list) else (dx,)
            got.update({n: d for n, d in zip(names, dxs, strict=False) if np.issubdtype(np.asarray(d).dtype,
                                                                                        np.floating)})
        return got

    floats = [n for n, v in zip(names, inputs, strict=True)
              if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating)]
    wrt = [*params, *floats] if input_gradients else list(params)
    return LayerProblem(run_forward, run_backward, {**dict(zip(names, inputs, strict=True)), **values}, wrt)
