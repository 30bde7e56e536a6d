"""A model's scalar cost C(θ) composed symbolically at concrete widths: the forward pass written out, nothing more.

This is the *independent* side of the end-to-end proof: ``sympy.diff`` of the composed C with respect to a
parameter never goes through the backprop recursion (BP1-BP4), so agreeing with it is evidence BP1-BP4 are right.

API
---
``compose_model(spec, *, m=1, fixed=None) -> ComposedModel``

``ComposedModel`` fields:

* ``spec``, ``m`` (the batch size);
* ``theta``: ``{"W1": Matrix, "b1": Matrix, ...}`` shaped per the spec's layout (docs/conventions.md § Conventions). The
  elements are the book-indexed symbols of :mod:`derive.core.symbols`, 1-based, layer first: in the columns layout
  ``theta["W2"][j-1, k-1] = w[2, j, k]`` (w^2_{jk}) and ``theta["b2"][j-1, 0] = b[2, j]``; in the rows layout the
  matrices are transposed, ``theta["W2"][k-1, j-1] = w[2, j, k]`` and ``theta["b2"][0, j-1] = b[2, j]``. Either way
  w^l_{jk} connects unit k of layer l-1 to unit j of layer l, as in the book.
* ``theta_symbols``: every parameter symbol, flat, ordered W1, b1, W2, b2, ...; within a block in the row-major
  order of that block's matrix (the order of ``numpy.ravel`` on the parameter array of the same layout).
* ``x[s][k]``, ``y[s][j]``: inputs and targets of sample s. **Sample convention**: sample s (1-based) has the
  symbols ``x[s, k]`` and ``y[s, j]`` (``IndexedBase`` objects ``x`` and :data:`derive.core.symbols.y`), printed
  x_{s,k} and y_{s,j}; the lists are 0-based (``x[0][0]`` is the symbol x[1, 1]).
* ``z[l][s][j]``, ``a[l][s][j]`` for l = 0..L (lists 0-based in s and j): ``a[0] = x``; ``z[0]`` is empty (the
  input layer has no pre-activation);
* ``per_sample_cost[s]``: C_x of sample s; ``cost``: the batch cost with the spec's reduction (mean = (1/m) Σ_s C_x,
  sum = Σ_s C_x);
* ``uses``: labels of already proven steps the composition relies on (see below).

What is used, and from where: each layer's forward written out by the layer object
(:meth:`derive.layers.dense.DenseSym.forward_at`); every activation from its derived definition
(:func:`derive.functions.activations.derive_activation`; softmax from the index-form definition of
:func:`derive_softmax`);
the cost
from the index-form definition of :func:`derive.functions.costs.derive_cost` (bce in the textbook form derived there
from the Bernoulli likelihood). Nothing from the backprop derivation.

Speed (docs/conventions.md § Deriving): an activation is an opaque ``sp.Function`` subclass
(:func:`activation_function`) whose value at a number is its definition and whose ``fdiff`` returns the derivative
*already derived and checked* by :func:`derive.functions.activations.derive_activation`: written through the
function's own value where the registry entry has such a form (σ(1 − σ), 1 − tanh²: ``self_derivative``), proven
equal to the derived derivative here; the raw ``sympy.diff`` of the definition otherwise, with the ReLU'(0) = 0
convention. Those steps are listed in ``ComposedModel.uses``. Without this, differentiating a composed sigmoid/ReLU
net costs ~110 s per parameter.
Printers: each class prints (NumPy, mpmath, lambdify) as its *definition* applied to the printed argument, built
as a SymPy tree so the argument is always parenthesised correctly.

``fixed`` replaces some leaf symbols (parameters, inputs, targets) by numbers *while composing*: the same function,
partially evaluated, which keeps C small when only a few parameters are differentiated on a wide model.

This module is not the derivation of BP1-BP4 (see :mod:`derive.backprop.general_rule`,
:mod:`derive.backprop.fixed_width`) and does
not compute gradients.

>>> from numeric.spec import ModelSpec
>>> cm = compose_model(ModelSpec.build("2-1", "identity", "quadratic"))
>>> cm.cost
(-y[1, 1] + b[1, 1] + w[1, 1, 1]*x[1, 1] + w[1, 1, 2]*x[1, 2])**2/2
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

import sympy as sp

from derive.backprop.output_delta import SOFTMAX_WIDTH
from derive.core.proof import prove_equal
from derive.core.symbols import a as a_base
from derive.core.symbols import y as y_base
from derive.core.symbols import z as z_base
from derive.functions.activations import alpha, derive_activation, derive_softmax, zs
from derive.functions.costs import L as L_cost
from derive.functions.costs import derive_cost, n_out
from derive.layers import symbolic_layer
from numeric.errors import SpecError
from numeric.spec import ActSpec, ModelSpec

__all__ = ["ComposedModel", "ProvenActivation", "activate", "activation_function", "compose_model", "cost_at",
           "softmax_at", "x"]

#: inputs of sample s: x[s, k] (1-based sample, 1-based unit); targets are derive.core.symbols.y[s, j]
x = sp.IndexedBase("x")


def _definition(name: str, arg: sp.Expr, param: sp.Expr | None) -> sp.Expr:
    """The activation's definition (its registry entry, the one :func:`derive_activation` differentiates) at ``arg``.

    Built directly at ``arg`` rather than substituted into f(z): at 60-digit numbers the two orders of evaluation
    round differently in the last digits.
    """
    from derive.functions.registry import ACTIVATIONS as SYM_ACTIVATIONS

    return SYM_ACTIVATIONS[name].definition(arg, param)


class ProvenActivation(sp.Function):
    """An activation as an opaque function: its definition at numbers, its already derived derivative in ``fdiff``.

    Subclasses (one per activation name, see :func:`activation_function`) set ``act_name``; activations with a
    parameter take it as a second argument: ``leaky_relu(z, alpha)``.
    """

    act_name: str = ""
    nargs = (1, 2)

    @classmethod
    def eval(cls, arg, param=None):
        if arg.is_Number and (param is None or param.is_Number):
            return _definition(cls.act_name, arg, param)
        return None

    def _act(self) -> ActSpec:
        param = self.args[1] if len(self.args) > 1 else None
        return ActSpec(self.act_name, None if param is None else float(param))

    def definition(self) -> sp.Expr:
        """The activation's definition applied to this argument (for printing and for checks)."""
        return _definition(self.act_name, self.args[0], self.args[1] if len(self.args) > 1 else None)

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        return _derivative_at(self.func, self._act(), self.args[0], self.args[1] if len(self.args) > 1 else None)

    def _print_as_definition(self, printer):
        return printer._print(self.definition())

    _numpycode = _print_as_definition
    _mpmathcode = _print_as_definition
    _lambdacode = _print_as_definition
    _pythoncode = _print_as_definition


@cache
def _self_derivative(act: ActSpec):
    """The registry's f' written through f's own value (σ(1 − σ)), if it is proven equal to the derived f'."""
    from derive.functions.registry import ACTIVATIONS as SYM_ACTIVATIONS

    form = SYM_ACTIVATIONS[act.name].self_derivative
    if form is None:
        return None
    result = derive_activation(act)
    if not result.derivation[f"{act.name}.closed"].holds:
        return None
    proven = prove_equal(form(result.f_numeric()), result.fprime_numeric()).holds is True
    return form if proven else None


def _derivative_at(cls, act: ActSpec, arg: sp.Expr, param: sp.Expr | None) -> sp.Expr:
    own = _self_derivative(act)
    if own is not None:
        return own(cls(arg))  # the proven closed form, in terms of this opaque function
    result = derive_activation(act)
    subs = {zs: arg}
    if param is not None:
        subs[alpha] = param
    if arg.is_Number:
        return result.fprime.xreplace(subs)
    # Heaviside(arg, 0) would ask SymPy for the sign of a huge argument (~110 s per parameter, docs/conventions.md):
    # keep the step function unevaluated until numbers are substituted (xreplace re-evaluates it then).
    return result.fprime.replace(
        lambda e: isinstance(e, sp.Heaviside),
        lambda e: sp.Heaviside(*[arg_.xreplace(subs) for arg_ in e.args], evaluate=False),
    ).xreplace(subs)


def _is_identity(act: ActSpec) -> bool:
    """f(z) = z: nothing to compose (the definition decides, not the name)."""
    return act.entry.elementwise and derive_activation(act).f == zs


_CLASSES: dict[str, type] = {}


def activation_function(name: str) -> type:
    """The opaque :class:`ProvenActivation` subclass for an element-wise activation other than the identity."""
    try:
        act = ActSpec.parse(name)
    except SpecError:
        raise ValueError(f"no opaque function for activation {name!r}") from None
    if not act.entry.elementwise or _is_identity(act):
        raise ValueError(f"no opaque function for activation {name!r}")
    if name not in _CLASSES:
        cls = type(name, (ProvenActivation,), {"act_name": name, "__module__": __name__})
        _CLASSES[name] = cls
        globals()[name] = cls  # importable by name, so expressions holding it can be pickled
    return _CLASSES[name]


def _uses(act: ActSpec) -> tuple[str, ...]:
    """The labels of the proven steps composing ``act`` relies on."""
    if _is_identity(act):
        return ()
    if not act.entry.elementwise:
        return ("softmax.def",)
    labels = [f"{act.name}.def", f"{act.name}.diff"]
    if _self_derivative(act) is not None:
        labels.append(f"{act.name}.closed")
    if any(step.label == f"{act.name}.convention" for step in derive_activation(act).derivation):
        labels.append(f"{act.name}.convention")
    return tuple(labels)


@dataclass
class ComposedModel:
    """The forward pass and the cost of a model, written out symbolically (see the module doc)."""

    spec: ModelSpec
    m: int
    theta: dict[str, sp.Matrix]
    theta_symbols: list[sp.Expr]
    x: list[list[sp.Expr]]
    y: list[list[sp.Expr]]
    z: list[list[list[sp.Expr]]]
    a: list[list[list[sp.Expr]]]
    per_sample_cost: list[sp.Expr]
    cost: sp.Expr
    uses: tuple[str, ...] = field(default_factory=tuple)


def _softmax_definition() -> tuple[sp.Expr, sp.Symbol, sp.Symbol]:
    """softmax's index-form definition exp(z^L_i) / Σ_k exp(z^L_k), its unit index i and its width symbol n."""
    step = derive_softmax(SOFTMAX_WIDTH).derivation["softmax.def"]
    i = step.lhs.indices[1]
    (_k, _lo, width), = next(iter(step.rhs.atoms(sp.Sum))).limits
    return step.rhs, i, width


@cache
def softmax_at(width: int) -> tuple[sp.Expr, ...]:
    """softmax at a concrete width: a_j in terms of z[L, 1..width] (instantiated from the definition)."""
    rhs, i, nn = _softmax_definition()
    return tuple(rhs.subs({nn: width, i: j}).doit() for j in range(1, width + 1))


def activate(act: ActSpec, zs_: list[sp.Expr]) -> list[sp.Expr]:
    """The activation of one layer applied to one sample's units (softmax from its definition, element-wise ones as
    their opaque proven functions, the identity as nothing)."""
    if _is_identity(act):
        return list(zs_)
    if not act.entry.elementwise:
        out_L = derive_softmax(SOFTMAX_WIDTH).derivation["softmax.def"].lhs.indices[0]
        table = {z_base[out_L, k + 1]: zk for k, zk in enumerate(zs_)}
        return [s.xreplace(table) for s in softmax_at(len(zs_))]
    cls = activation_function(act.name)
    if act.param is None:
        return [cls(v) for v in zs_]
    param = sp.nsimplify(act.param)
    return [cls(v, param) for v in zs_]


def cost_at(spec: ModelSpec, a_out: list[sp.Expr], y_s: list[sp.Expr]) -> sp.Expr:
    """One sample's cost C_x from its outputs and targets, by the cost's derived definition."""
    n = spec.sizes[-1]
    concrete = derive_cost(spec.cost).C.subs(n_out, n).doit()
    table = {a_base[L_cost, k + 1]: a_out[k] for k in range(n)}
    table.update({y_base[k + 1]: y_s[k] for k in range(n)})
    return concrete.xreplace(table)


def _forward(spec: ModelSpec, inputs: list[list[sp.Expr]], leaf, first_layer: int = 1) -> tuple[list, list]:
    """z^l and a^l of every sample from layer ``first_layer`` on (``inputs`` = a^{first_layer-1}), each layer's
    forward written out by the layer object; the lists of earlier layers are left empty (z^0 always is)."""
    m = len(inputs)
    z_all: list[list[list[sp.Expr]]] = [[[] for _ in range(m)] for _ in range(first_layer)]
    a_all: list[list[list[sp.Expr]]] = [[[] for _ in range(m)] for _ in range(first_layer - 1)] + [inputs]
    for layer in spec.layers[first_layer - 1:]:
        z_l = [symbolic_layer(layer).forward_at(a_all[-1][s], value=leaf) for s in range(m)]
        z_all.append(z_l)
        a_all.append([activate(layer.act, units) for units in z_l])
    return z_all, a_all


@cache
def _theta(spec: ModelSpec) -> dict[str, sp.Matrix]:
    """The parameter matrices of ``spec`` (built once per spec: the end-to-end check composes hundreds of times)."""
    return {param.key: param.matrix(spec.layout) for layer in spec.layers for param in symbolic_layer(layer).params}


def _cost_uses(spec: ModelSpec) -> list[str]:
    """The labels of the cost's proven steps: its definition, and its textbook form where it was derived."""
    labels = {step.label for step in derive_cost(spec.cost).derivation}
    derived = [label for label in (f"{spec.cost}.expand", f"{spec.cost}.textbook") if label in labels]
    return [*derived, f"{spec.cost}.def"]


def compose_model(spec: ModelSpec, *, m: int = 1, fixed: Mapping[sp.Expr, sp.Expr] | None = None,
                  first_layer: int = 1, inputs: list[list[sp.Expr]] | None = None) -> ComposedModel:
    """Compose C(θ) of ``spec`` over a batch of ``m`` symbolic samples (see the module doc).

    ``first_layer`` > 1 composes from that layer on, with ``inputs[s]`` the activations a^{first_layer-1} of sample
    s (the values the earlier layers give at ``fixed``, computed once: the same expression, because numbers are
    evaluated while composing anyway); ``z``, ``a`` of the earlier layers are then left empty.
    """
    if m < 1:
        raise ValueError(f"batch size m must be at least 1, got {m}")
    if not 1 <= first_layer <= spec.L or (first_layer > 1) != (inputs is not None):
        raise ValueError(f"first_layer must be 1..{spec.L}, with the inputs a^(first_layer-1) when above 1")
    fixed = dict(fixed or {})

    def leaf(sym):
        return fixed.get(sym, sym)

    theta = _theta(spec)
    theta_symbols = [s for name in spec.param_names() for s in theta[name]]  # Matrix iterates row-major
    xs = [[x[s + 1, k + 1] for k in range(spec.sizes[0])] for s in range(m)]
    ys = [[y_base[s + 1, j + 1] for j in range(spec.sizes[-1])] for s in range(m)]
    start = inputs if inputs is not None else [[leaf(v) for v in xs[s]] for s in range(m)]
    z_all, a_all = _forward(spec, start, leaf, first_layer)
    per_sample = [cost_at(spec, a_all[spec.L][s], [leaf(v) for v in ys[s]]) for s in range(m)]
    total = sp.Add(*per_sample)
    cost = total / m if spec.reduction == "mean" else total
    uses: list[str] = []
    for act in dict.fromkeys(spec.activations):
        uses.extend(_uses(act))
    uses.extend(_cost_uses(spec))
    return ComposedModel(spec, m, theta, theta_symbols, xs, ys, z_all, a_all, per_sample, cost, tuple(uses))
