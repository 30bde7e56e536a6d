"""The NumPy registry of bpv's functions: one entry per activation and one per cost.

Every NumPy-side consumer reads these entries and nothing else: the spec (names, parameters, ranges, which
activation may stand where), the hand-written backprop (values and derivatives), random instances (the target
kind), the checkers (kinks) and the torch oracle of ``bpv verify`` (the torch op). The SymPy side of the same
entries (definitions, textbook claims, TeX names, stable forms) is :mod:`derive.functions.registry`; a test
fails when the two disagree on names or an entry lacks a field.

Adding an activation is one :class:`Activation` here and one entry there; see ``docs/architecture.md``.

Every function is **analytic** and **stable**: branches are masks on ``z.real`` (so the complex step works through
them; no ``np.abs``, ``np.maximum``, ``np.clip`` or ``np.logaddexp`` touches complex data) and nothing overflows
for ``|z| <= 1e3``. The unit axis is ``-2`` (columns; stacked perturbations ``(P, n, m)`` work too). The derivative
of an activation takes ``(z, a, p)``: the pre-activation, the forward value ``a = f(z)`` and the parameter, since
not every derivative is a function of ``a`` alone (GELU's is not).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "COSTS",
    "Activation",
    "Cost",
    "Fused",
    "TargetKind",
    "log_sum_exp",
    "sigmoid",
    "softplus",
]

Array = np.ndarray


# ----- stable, analytic building blocks ---------------------------------------------------------------------------
def _mask_apply(z: Array, pos: Callable[[Array], Array], neg: Callable[[Array], Array]) -> Array:
    """``pos(z)`` where ``z.real > 0`` and ``neg(z)`` elsewhere, each evaluated only on its own elements."""
    out = np.empty_like(z)
    m = z.real > 0
    out[m] = pos(z[m])
    out[~m] = neg(z[~m])
    return out


def _real_mask(z: Array, inside: float, outside: float) -> Array:
    """``inside`` where ``z.real > 0``, ``outside`` elsewhere, in z's real dtype (the ReLU'(0) = 0 convention)."""
    real = z.real.dtype.type
    return np.where(z.real > 0, real(inside), real(outside))


def sigmoid(z: Array) -> Array:
    """(1 + tanh(z/2)) / 2: the logistic function with one transcendental, analytic, no overflow for any z.

    NumPy's complex tanh saturates cleanly, so the complex step still gets sech^2(z/2)/4 from the imaginary part.
    The absolute error is below 2.3e-16; tiny values lose relative precision, and nothing divides by them (bce
    after a sigmoid is fused and computed from z).
    """
    out = np.tanh(0.5 * z)
    out *= 0.5
    out += 0.5
    return out


def softplus(z: Array) -> Array:
    """ln(1 + e^z) = z + ln(1 + e^-z) for z > 0, ln(1 + e^z) elsewhere."""
    if not np.iscomplexobj(z):  # the same two branches for real data: max(z, 0) + ln(1 + e^-|z|), faster
        return (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))).astype(z.dtype, copy=False)
    return _mask_apply(z, lambda t: t + np.log1p(np.exp(-t)), lambda t: np.log1p(np.exp(t)))


def log_sum_exp(z: Array, axis: int = -2) -> Array:
    """ln sum_j e^{z_j} over the units, shifted by the real maximum (a real constant: stays analytic)."""
    c = np.max(z.real, axis=axis, keepdims=True)
    return c + np.log(np.sum(np.exp(z - c), axis=axis, keepdims=True))


def _softmax(z: Array) -> Array:
    c = np.max(z.real, axis=-2, keepdims=True)
    e = np.exp(z - c)
    return e / np.sum(e, axis=-2, keepdims=True)


def _softmax_vjp(z: Array, a: Array, g: Array, p: float | None) -> Array:
    """J^T g for the softmax Jacobian J = diag(a) - a a^T: a * (g - sum_j a_j g_j)."""
    return a * (g - np.sum(a * g, axis=-2, keepdims=True))


_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715


def _gelu(z: Array) -> Array:
    return 0.5 * z * (1.0 + np.tanh(_GELU_C * (z + _GELU_K * z**3)))


def _gelu_prime(z: Array) -> Array:
    t = np.tanh(_GELU_C * (z + _GELU_K * z**3))
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * _GELU_C * (1.0 + 3.0 * _GELU_K * z * z)


# ----- activations ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Activation:
    """One activation: its NumPy value and derivative, and what every other NumPy-side tool needs to know.

    ``value(z, p)`` is f(z); ``derivative(z, a, p)`` is f'(z) given the forward value ``a`` (None for an activation
    that is not element-wise, whose ``vjp(z, a, g, p)`` applies the transposed Jacobian to ``g`` instead).
    ``torch(F, z, p, axis)`` is the same function written with ``torch.nn.functional`` ``F`` (the oracle of
    ``bpv verify``; torch is imported only there). ``param`` is the default of its parameter (None: it has none).
    """

    name: str
    summary: str
    value: Callable[[Array, float | None], Array]
    derivative: Callable[[Array, Array, float | None], Array] | None
    output_range: str
    torch: Callable[[Any, Any, float | None, int], Any]
    param: float | None = None
    kinks: tuple[float, ...] = ()
    vjp: Callable[[Array, Array, Array, float | None], Array] | None = None
    output_only: bool = False  # only as the output layer (softmax normalises over the whole layer)
    min_units: int = 1
    probabilities: bool = False  # outputs in (0, 1): a valid argument of ln a and ln(1 - a)

    @property
    def elementwise(self) -> bool:
        return self.derivative is not None

    def backward(self, z: Array, a: Array, g: Array, p: float | None) -> Array:
        """dC/dz from g = dC/da: g * f'(z) element-wise, or J^T g for a vector-valued activation."""
        if self.derivative is not None:
            return g * self.derivative(z, a, p)
        assert self.vjp is not None, f"activation {self.name} has neither a derivative nor a vjp"
        return self.vjp(z, a, g, p)


def _entries(*items):
    return MappingProxyType({item.name: item for item in items})


#: name -> entry, in the order the help lists them
ACTIVATIONS: Mapping[str, Activation] = _entries(
    Activation("identity", "f(z) = z", lambda z, p: z, lambda z, a, p: np.ones_like(z.real),
               "(-inf, inf)", lambda F, z, p, axis: z),
    Activation("sigmoid", "1/(1 + e^-z)", lambda z, p: sigmoid(z), lambda z, a, p: a * (1.0 - a),
               "(0, 1)", lambda F, z, p, axis: F.sigmoid(z), probabilities=True),
    Activation("tanh", "(e^z - e^-z)/(e^z + e^-z)", lambda z, p: np.tanh(z), lambda z, a, p: 1.0 - a * a,
               "(-1, 1)", lambda F, z, p, axis: F.tanh(z)),
    Activation("relu", "max(0, z), ReLU'(0) = 0", lambda z, p: z * _real_mask(z, 1.0, 0.0),
               lambda z, a, p: _real_mask(z, 1.0, 0.0), "[0, inf)", lambda F, z, p, axis: F.relu(z),
               kinks=(0.0,)),
    Activation("leaky_relu", "z for z > 0, alpha z otherwise (leaky_relu:alpha)",
               lambda z, p: z * _real_mask(z, 1.0, p), lambda z, a, p: _real_mask(z, 1.0, p), "(-inf, inf)",
               lambda F, z, p, axis: F.leaky_relu(z, p), param=0.01, kinks=(0.0,)),
    Activation("softplus", "ln(1 + e^z)", lambda z, p: softplus(z), lambda z, a, p: sigmoid(z), "(0, inf)",
               lambda F, z, p, axis: F.softplus(z)),
    Activation("elu", "z for z > 0, alpha (e^z - 1) otherwise (elu:alpha)",
               lambda z, p: _mask_apply(z, lambda t: t, lambda t: p * np.expm1(t)),
               lambda z, a, p: _mask_apply(z, lambda t: np.ones_like(t), lambda t: p * np.exp(t)),
               "(-alpha, inf)", lambda F, z, p, axis: F.elu(z, p), param=1.0, kinks=(0.0,)),
    Activation("swish", "z sigmoid(z) (SiLU)", lambda z, p: z * sigmoid(z),
               lambda z, a, p: (s := sigmoid(z)) + a * (1.0 - s), "(-0.2785, inf)",
               lambda F, z, p, axis: F.silu(z)),
    Activation("gelu", "z/2 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))) (tanh approximation)",
               lambda z, p: _gelu(z), lambda z, a, p: _gelu_prime(z), "(-0.1700, inf)",
               lambda F, z, p, axis: F.gelu(z, approximate="tanh")),
    Activation("softmax", "e^z_j / sum_k e^z_k (output layer only)", lambda z, p: _softmax(z), None,
               "(0, 1), summing to 1", lambda F, z, p, axis: F.softmax(z, dim=axis), vjp=_softmax_vjp,
               output_only=True, min_units=2, probabilities=True),
)


# ----- costs ------------------------------------------------------------------------------------------------------
class TargetKind(enum.Enum):
    """What a cost's targets are: any real numbers, 0/1 labels, or classes (one-hot or integer labels)."""

    REAL = "real"
    BINARY = "binary"
    CLASSES = "classes"


@dataclass(frozen=True)
class Fused:
    """A cost composed with one output activation, computed from z (stable), with its output error if simpler.

    ``term(z, y)`` is the per-unit cost; ``delta(z, a, y)`` is delta^L = dC_x/dz^L (None: use the chain rule).
    """

    term: Callable[[Array, Array], Array]
    delta: Callable[[Array, Array, Array], Array] | None = None
    torch: Callable[[Any, Any, Any, int], Any] | None = None  # (F, z, target, axis) -> per-unit cost


@dataclass(frozen=True)
class Cost:
    """One cost, per sample: C_x = sum_k term(a_k, y_k, n) over the n output units.

    ``derivative(a, y, n)`` is dC_x/da (None: the cost is only defined after ``requires_output``); ``fused`` maps an
    output activation's name to the composed, stable form; ``torch(F, a, target, n)`` is the per-unit cost in torch.
    """

    name: str
    summary: str
    term: Callable[[Array, Array, int], Array]
    derivative: Callable[[Array, Array, int], Array] | None
    target: TargetKind
    torch: Callable[[Any, Any, Any, int], Any]
    fused: Mapping[str, Fused] = field(default_factory=dict)
    requires_output: str | None = None  # the output activation the cost is only defined after
    wants_probabilities: bool = False  # ln a and ln(1 - a) appear: the output must lie in (0, 1)

    def per_sample(self, out: Activation, z: Array, a: Array, y: Array) -> Array:
        """C_x for every sample (last axis), from z where a fused form exists."""
        fused = self.fused.get(out.name)
        per_unit = fused.term(z, y) if fused else self.term(a, y, z.shape[-2])
        return np.sum(per_unit, axis=-2)

    def output_delta(self, out: Activation, z: Array, a: Array, y: Array, p: float | None) -> Array:
        """BP1: delta^L = dC_x/dz^L per sample (unscaled by the batch reduction)."""
        fused = self.fused.get(out.name)
        if fused is not None and fused.delta is not None:
            return fused.delta(z, a, y)
        assert self.derivative is not None, f"cost {self.name} needs the output {self.requires_output}"
        return out.backward(z, a, self.derivative(a, y, z.shape[-2]), p)


def _bce_softmax_term(z: Array, y: Array) -> Array:
    log_a = z - log_sum_exp(z)
    a = np.exp(log_a)
    return -(y * log_a + (1.0 - y) * np.log1p(-a))


#: name -> entry, in the order the help lists them
COSTS: Mapping[str, Cost] = _entries(
    Cost("quadratic", "1/2 ||a - y||^2", lambda a, y, n: 0.5 * (a - y) ** 2, lambda a, y, n: a - y,
         TargetKind.REAL, lambda F, a, t, n: 0.5 * (a - t) ** 2),
    Cost("squared", "||a - y||^2", lambda a, y, n: (a - y) ** 2, lambda a, y, n: 2.0 * (a - y),
         TargetKind.REAL, lambda F, a, t, n: (a - t) ** 2),
    Cost("mse", "mean over the outputs of (a - y)^2", lambda a, y, n: (a - y) ** 2 / n,
         lambda a, y, n: 2.0 * (a - y) / n, TargetKind.REAL, lambda F, a, t, n: (a - t) ** 2 / n),
    Cost("bce", "binary cross-entropy -[y ln a + (1 - y) ln(1 - a)]",
         lambda a, y, n: -(y * np.log(a) + (1.0 - y) * np.log1p(-a)),
         lambda a, y, n: (a - y) / (a * (1.0 - a)), TargetKind.BINARY,
         lambda F, a, t, n: -(t * a.log() + (1 - t) * (1 - a).log()),
         fused={
             # -[y ln s(z) + (1 - y) ln(1 - s(z))] = softplus(z) - y z, and delta^L = a - y
             "sigmoid": Fused(lambda z, y: softplus(z) - y * z, lambda z, a, y: a - y,
                              lambda F, z, t, axis: F.softplus(z) - t * z),
             "softmax": Fused(_bce_softmax_term),
         },
         wants_probabilities=True),
    Cost("cce", "categorical cross-entropy -sum_j y_j ln a_j", lambda a, y, n: -y * np.log(a), None,
         TargetKind.CLASSES, lambda F, a, t, n: -t * a.log(),
         fused={
             # -sum_j y_j (z_j - lse(z)), and delta^L = a sum_j y_j - y (= a - y for one-hot y)
             "softmax": Fused(lambda z, y: y * (log_sum_exp(z) - z),
                              lambda z, a, y: a * np.sum(y, axis=-2, keepdims=True) - y,
                              lambda F, z, t, axis: -t * F.log_softmax(z, dim=axis)),
         },
         requires_output="softmax"),
)
