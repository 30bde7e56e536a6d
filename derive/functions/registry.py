"""The SymPy registry of bpv's functions: one entry per activation and one per cost.

This is the SymPy half of :mod:`numeric.functions` (paired by name; a test fails when they disagree or an entry
lacks a field). Every SymPy-side consumer reads these entries: the derivations (:mod:`derive.functions.activations`,
:mod:`derive.functions.costs`), the stable forms a kernel prints (:mod:`derive.functions.stable`), the composed
models, claims semantics, plots and reports.

An entry holds the **definition** (the only place the function is written down), the **textbook claims** (typed in
as claims only: compared against what SymPy derives, never used as derived), the **TeX name**, the **stable forward
form** a kernel prints and the **derivative written with the forward value** ``a = f(z)`` (a claim proven equal to
the derived derivative). Adding an activation is one :class:`SymActivation` here and one
:class:`numeric.functions.Activation` there (``docs/architecture.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import sympy as sp

__all__ = ["ACTIVATIONS", "COSTS", "SymActivation", "SymCost", "alpha", "sigma_f", "sigmoid_definition",
           "stable_sigmoid", "stable_softplus"]

alpha = sp.Symbol("alpha", positive=True)
#: the logistic function as an opaque name, for closed forms written in terms of σ(z)
sigma_f = sp.Function("sigma")
_elu_f = sp.Function("ELU")

Expr = sp.Expr
#: f(z, alpha) -> expression; alpha is None for an activation without a parameter
Form = Callable[[Expr, Expr | None], Expr]


def sigmoid_definition(z: Expr) -> Expr:
    return 1 / (1 + sp.exp(-z))


def stable_sigmoid(t: Expr) -> Expr:
    """σ(t) = (1 + tanh(t/2))/2: bounded for every t, analytic, and no branch at all.

    (The masked form 1/(1+e^{-t}) | e^t/(1+e^t) keeps relative accuracy below 1e-16 too, but boolean-mask gathers
    cost six times a tanh on these machines; absolute accuracy 2^-53 is what the gradients need.)
    """
    return (1 + sp.tanh(t / 2)) / 2


def stable_softplus(t: Expr) -> Expr:
    """ln(1 + e^t) split on the sign of t, so that no exponential overflows: t + log1p(e^-t) | log1p(e^t)."""
    from sympy.codegen.cfunctions import log1p

    return sp.Piecewise((t + log1p(sp.exp(-t)), t > 0), (log1p(sp.exp(t)), True))


_GELU_C = sp.sqrt(2 / sp.pi)
_GELU_K = sp.Rational(44715, 1000000)


def _gelu_inner(z: Expr) -> Expr:
    return _GELU_C * (z + _GELU_K * z**3)


@dataclass(frozen=True)
class SymActivation:
    """One activation, SymPy side.

    ``definition(z, alpha)`` is f(z) (None for the vector-valued softmax, derived in index form by
    :func:`derive.functions.activations.derive_softmax`). ``closed_form(z, alpha)`` returns the textbook f'(z) and
    the substitutions that give its names (σ, ELU) their meaning. ``stable_forward(z, alpha)`` is what a kernel
    prints for f (None: the definition itself); ``from_forward(z, a, alpha)`` is f' written with the forward value
    ``a``. ``self_derivative(f)`` writes f' through f's own value (σ(1 − σ), 1 − tanh²) where that closed form
    exists, so a composed model can differentiate through an opaque f cheaply. ``exact``: rational at rational
    points (claims are then evaluated in exact arithmetic).
    """

    name: str
    symbol: str  # the name of f in derivations: σ is "sigma"
    tex: str  # f's name in LaTeX
    definition: Form | None
    closed_form: Callable[[Expr, Expr | None], tuple[Expr, dict]] | None
    stable_forward: Form | None
    from_forward: Callable[[Expr, Expr, Expr | None], Expr] | None
    exact: bool
    self_derivative: Callable[[Expr], Expr] | None = None

    @property
    def function(self) -> type[sp.Function]:
        """f as an undefined SymPy function named :attr:`symbol` (for printing ``f(z)`` and ``f'(z)``)."""
        return sp.Function(self.symbol)


def _entries(*items):
    return MappingProxyType({item.name: item for item in items})


def _step(z: Expr, low: Expr) -> Expr:
    """1 for z > 0, ``low`` otherwise (a derivative's two branches)."""
    return sp.Piecewise((1, z > 0), (low, True))


ACTIVATIONS: Mapping[str, SymActivation] = _entries(
    SymActivation("identity", "id", r"\operatorname{id}", lambda z, _: z, lambda z, _: (sp.Integer(1), {}),
                  None, lambda z, a, _: sp.Integer(1), exact=True),
    SymActivation("sigmoid", "sigma", r"\sigma", lambda z, _: sigmoid_definition(z),
                  lambda z, _: (sigma_f(z) * (1 - sigma_f(z)), {sigma_f(z): sigmoid_definition(z)}),
                  lambda z, _: stable_sigmoid(z), lambda z, a, _: a * (1 - a), exact=False,
                  self_derivative=lambda s: s * (1 - s)),
    SymActivation("tanh", "tanh", r"\tanh", lambda z, _: (sp.exp(z) - sp.exp(-z)) / (sp.exp(z) + sp.exp(-z)),
                  lambda z, _: (1 - sp.tanh(z) ** 2, {}), lambda z, _: sp.tanh(z), lambda z, a, _: 1 - a**2,
                  exact=False, self_derivative=lambda t: 1 - t**2),
    SymActivation("relu", "ReLU", r"\operatorname{ReLU}", lambda z, _: sp.Max(0, z),
                  lambda z, _: (_step(z, 0), {}), lambda z, _: sp.Piecewise((z, z > 0), (0, True)),
                  lambda z, a, _: sp.Heaviside(z, 0), exact=True),
    SymActivation("leaky_relu", "LReLU", r"\operatorname{LReLU}",
                  lambda z, al: sp.Piecewise((z, z > 0), (al * z, True)), lambda z, al: (_step(z, al), {}),
                  None, lambda z, a, al: _step(z, al), exact=True),
    SymActivation("softplus", "softplus", r"\operatorname{softplus}", lambda z, _: sp.log(1 + sp.exp(z)),
                  lambda z, _: (sigma_f(z), {sigma_f(z): sigmoid_definition(z)}),
                  lambda z, _: stable_softplus(z), lambda z, a, _: stable_sigmoid(z), exact=False),
    SymActivation("elu", "ELU", r"\operatorname{ELU}",
                  lambda z, al: sp.Piecewise((z, z > 0), (al * (sp.exp(z) - 1), True)),
                  lambda z, al: (sp.Piecewise((1, z > 0), (_elu_f(z) + al, True)),
                                 {_elu_f(z): sp.Piecewise((z, z > 0), (al * (sp.exp(z) - 1), True))}),
                  None, lambda z, a, al: sp.Piecewise((1, z > 0), (a + al, True)), exact=False),
    SymActivation("swish", "swish", r"\operatorname{swish}", lambda z, _: z * sigmoid_definition(z),
                  lambda z, _: (sigma_f(z) + z * sigma_f(z) * (1 - sigma_f(z)), {sigma_f(z): sigmoid_definition(z)}),
                  lambda z, _: z * stable_sigmoid(z),
                  lambda z, a, _: stable_sigmoid(z) + a * (1 - stable_sigmoid(z)), exact=False),
    SymActivation("gelu", "GELU", r"\operatorname{GELU}",
                  lambda z, _: z / 2 * (1 + sp.tanh(_gelu_inner(z))),
                  lambda z, _: ((1 + sp.tanh(_gelu_inner(z))) / 2
                                + z / 2 * (1 - sp.tanh(_gelu_inner(z)) ** 2) * _GELU_C * (1 + 3 * _GELU_K * z**2),
                                {}),
                  None,
                  lambda z, a, _: (1 + sp.tanh(_gelu_inner(z))) / 2
                  + z / 2 * (1 - sp.tanh(_gelu_inner(z)) ** 2) * _GELU_C * (1 + 3 * _GELU_K * z**2),
                  exact=False),
    SymActivation("softmax", "softmax", r"\operatorname{softmax}", None, None, None, None, exact=False),
)


# ----- costs ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SymCost:
    """One cost, SymPy side: C_x = Σ_k term(a^L_k, y_k), and the textbook ∂C_x/∂a^L_j as a claim.

    ``term(ak, yk, n)`` is the per-unit term (``n`` the output width, for mse). A cost with a ``likelihood``
    is not written down: it is derived as the negative log of that likelihood, and ``textbook(ak, yk)`` is the
    expanded textbook form, a claim. ``log_domain``: a in (0, 1) and y in [0, 1] where random checks evaluate it.
    """

    name: str
    long_name: str  # in prose: "binary cross-entropy"
    tex: str
    term: Callable[[Expr, Expr, Expr], Expr]
    derivative_claim: Callable[[Expr, Expr, Expr], Expr]
    log_domain: bool = False
    likelihood: Callable[[Expr, Expr], Expr] | None = None
    likelihood_text: str = ""  # what the likelihood is, in one line
    textbook: Callable[[Expr, Expr], Expr] | None = None


def _bernoulli(ak: Expr, yk: Expr) -> Expr:
    return ak**yk * (1 - ak) ** (1 - yk)


COSTS: Mapping[str, SymCost] = _entries(
    SymCost("quadratic", "quadratic cost", r"\tfrac12\lVert a - y\rVert^2",
            lambda ak, yk, n: sp.Rational(1, 2) * (ak - yk) ** 2, lambda aj, yj, n: aj - yj),
    SymCost("squared", "squared error", r"\lVert a - y\rVert^2",
            lambda ak, yk, n: (ak - yk) ** 2, lambda aj, yj, n: 2 * (aj - yj)),
    SymCost("mse", "mean squared error", r"\operatorname{MSE}",
            lambda ak, yk, n: (ak - yk) ** 2 / n, lambda aj, yj, n: 2 * (aj - yj) / n),
    SymCost("bce", "binary cross-entropy", r"\operatorname{BCE}",
            lambda ak, yk, n: -sp.log(_bernoulli(ak, yk)), lambda aj, yj, n: (aj - yj) / (aj * (1 - aj)),
            log_domain=True, likelihood=_bernoulli,
            likelihood_text="Bernoulli likelihood of target y_k given the predicted probability a^L_k",
            textbook=lambda ak, yk: -(yk * sp.log(ak) + (1 - yk) * sp.log(1 - ak))),
    SymCost("cce", "categorical cross-entropy", r"\operatorname{CCE}",
            lambda ak, yk, n: -yk * sp.log(ak), lambda aj, yj, n: -yj / aj, log_domain=True),
)
