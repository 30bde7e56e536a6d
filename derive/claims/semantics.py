"""What the symbols of a claim mean on a model, and their values: ground truth "against the derivation".

A claim is checked on a small concrete **instance** of the context model (:func:`instance_spec`: widths capped at
3 and alternating 3/2 so that transposes and swapped indices change shapes or values). Its cost C(θ) is composed
with :func:`derive.backprop.compose.compose_model` (the forward pass written out, nothing from BP1-BP4); true values are
computed from it:

* w^l_{jk}, b^l_j, x, y: the composed model's own symbols at a random rational point;
  z^l_j, a^l_j: the composed forward pass at that point;
* ∂C/∂w^l_{jk}, ∂C/∂b^l_j (and dW, db): ``sympy.diff`` of the composed C;
* δ^l_j = ∂C_x/∂z^l_j (and Δ, dZ): the model is composed with z^l_j shifted by a symbol t (added to b^l_j, which
  enters the composed cost through z^l_j alone), δ is ``sympy.diff`` of the sample's cost C_x by t at t = 0;
* ∂C/∂a^L_j (∇_a C, dA^L): the cost's index-form definition differentiated with respect to a^L_j;
  ∂C/∂a^l for a hidden layer (dA^l): the network from layer l+1 on, composed on its own with a^l as its input;
  ∂C/∂x (dA^0): the composed cost differentiated by the input;
* the ones vector 𝟙: as long as the product it stands in needs;
* σ(v), σ'(v): the activation of the layer v belongs to, from :data:`derive.functions.registry.ACTIVATIONS` and its
  derived derivative (:func:`derive.functions.activations.derive_activation`).

Course-notes batch names: dW = ∂C/∂W, db = ∂C/∂b; dZ and dA are **ambiguous** unless a convention is given:
``per_sample`` (the course notes: dZ stacks the per-sample ∂C_x/∂z, which makes dW = (1/m) dZ Aᵀ true) or
``batch`` (dZ = ∂C/∂Z, which carries the 1/m of a mean cost). :class:`Evaluator` takes one of them.

Every derivative is taken on the cost composed with all leaves but the differentiated one fixed to the point's
values (partial evaluation through ``compose_model(..., fixed=...)``): the same function, a much smaller tree.
Values are exact rationals where the model is rational (identity/ReLU, quadratic costs), otherwise 45-digit
floats compared to 25 digits. This module evaluates; it does not decide verdicts (:mod:`derive.claims.verdicts`).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from numeric.errors import BadInput
from numeric.spec import Layout, ModelSpec

__all__ = [
    "DEFAULT_SPEC",
    "DIGITS",
    "EXTRA_KEYS",
    "MAX_EXPONENT",
    "Context",
    "NotCheckable",
    "OutOfRange",
    "ShapeMismatch",
    "context_from_directive",
    "instance_spec",
    "number",
]

DIGITS = 40
#: powers with larger exponents are not evaluated (10^{10^{10}} would take forever)
MAX_EXPONENT = 64
DEFAULT_SPEC = ModelSpec.build("2-3-4", "sigmoid", "quadratic")


class NotCheckable(Exception):
    """The claim uses something this model cannot give a value to (reason in ``str``)."""


class OutOfRange(Exception):
    """An index value outside the model. ``kind`` is ``layer``, ``unit`` or ``sample``.

    A binding where a layer does not exist is skipped (BP2 is stated for l < L); a unit index that exists on the
    left side but not on the right is an error of the claim (a swapped index).
    """

    def __init__(self, message: str, kind: str = "layer"):
        super().__init__(message)
        self.kind = kind


class ShapeMismatch(Exception):
    """Two vectors/matrices whose shapes do not fit the operation."""


@dataclass(frozen=True)
class Context:
    """The model the symbols refer to, where it came from, and the dZ/dA convention (None: ambiguous).

    ``cost_known``: the cost was given (flag, directive) or read from the document's own definition. When it is not,
    a claim is refuted only if it fails under every cost of the registry (the default is a guess, not the document's).
    """

    spec: ModelSpec = DEFAULT_SPEC
    source: str = "default: 2-3-4 sigmoid, quadratic cost, mean over the batch"
    dz: str | None = None
    cost_known: bool = True
    jacobian: str | None = None  # numerator / denominator layout of Jacobians (None: not said)
    declared: bool = False  # the model is the document's own (flags, directive, definitions), not a default

    def describe(self) -> str:
        conv = f", dZ/dA {self.dz}" if self.dz else ""
        extras = "".join(f"/{k}={v:g}" if not isinstance(v, str) else f"/norm={v}"
                         for k, v in self.spec.extras_dict().items())
        return f"{self.spec.net} {self.spec.act_text}/{self.spec.cost}/{self.spec.reduction}/{self.spec.layout}" \
               f"{'' if self.spec.bias else '/no bias'}{extras}{conv} ({self.source})"


_KEYS = ("model", "net", "act", "cost", "reduction", "layout", "bias", "convention", "dz", "jacobian", "norm",
         "keep_prob", "l2", "l2_n")
#: the keys of the blocks past the dense layer, as ``ModelSpec.build`` keywords
EXTRA_KEYS = ("norm", "keep_prob", "l2", "l2_n")


def _extra_value(key: str, value: str):
    """A directive's ``norm=``/``keep_prob=``/``l2=``/``l2_n=`` value as the ``ModelSpec.build`` keyword wants it
    (None: the block switched off); ``ModelSpec.build`` judges the range."""
    if key == "norm":
        return None if value in ("none", "no", "off") else value
    if value in ("none", "no", "off"):
        return None
    try:
        return int(value) if key == "l2_n" else float(value)
    except ValueError:
        what = "a positive integer (the training-set size n)" if key == "l2_n" else "a number"
        raise BadInput(f"bpv directive: {key}={value!r} is not {what}, e.g. "
                       f"{'l2_n=50000' if key == 'l2_n' else key + '=0.5'}") from None


def context_from_directive(text: str, base: Context | None = None, source: str = "directive") -> Context:
    """``act=sigmoid cost=bce net=2-3-1 reduction=mean layout=columns bias=no convention=course``, and the blocks
    past the dense layer ``l2=5 l2_n=50 keep_prob=0.8 norm=batch`` (``ModelSpec.build`` keywords; ``none`` drops
    one). A directive with ``net=`` declares a new model (its blocks are those it names); one without keeps the
    blocks of the model before it."""
    from numeric.catalog import get_model

    base = base or Context()
    fields: dict[str, str] = {}
    for part in text.replace(";", " ").split():
        if "=" not in part:
            raise BadInput(f"bpv directive {text!r}: expected key=value pairs, got {part!r}; keys: {', '.join(_KEYS)}")
        key, value = part.split("=", 1)
        key = key.replace("-", "_")  # keep-prob, l2-n as the command-line flags spell them
        if key not in _KEYS:
            raise BadInput(f"bpv directive: unknown key {key!r}; keys: {', '.join(_KEYS)}")
        fields[key] = value
    spec = base.spec
    if "model" in fields:
        spec = get_model(fields["model"])
    if any(k in fields for k in ("net", "act", "cost", "reduction", "layout", "bias", *EXTRA_KEYS)):
        acts = fields.get("act", ",".join(str(a) for a in spec.activations)
                          if "net" not in fields else spec.act_text)
        # a directive naming the network (net=, model=) declares a new model, blocks included; one that does not
        # keeps the blocks of the model before unless it sets them (norm=none drops one)
        extras = {} if "net" in fields else dict(spec.extras_dict())
        for key in EXTRA_KEYS:
            if key in fields:
                extras[key] = _extra_value(key, fields[key])
        if extras.get("l2") is None and "l2_n" not in fields:
            extras.pop("l2_n", None)  # l2=none drops the training-set size with the term
        extras = {k: v for k, v in extras.items() if v is not None}
        try:
            spec = ModelSpec.build(fields.get("net", spec.net), acts, fields.get("cost", spec.cost),
                                   fields.get("reduction", spec.reduction), fields.get("layout", spec.layout),
                                   fields.get("bias", "yes" if spec.bias else "no") not in ("no", "false", "0"),
                                   **extras)
        except BadInput as err:
            if not any(k in fields for k in EXTRA_KEYS):
                raise
            raise BadInput(f"bpv directive {text.strip()!r}: {err}") from None
    dz = base.dz
    conv = fields.get("convention", fields.get("dz"))
    if conv is not None:
        if conv in ("course", "per_sample", "per-sample"):
            dz = "per_sample"
        elif conv in ("batch", "total"):
            dz = "batch"
        else:
            raise BadInput(f"bpv directive: convention={conv!r}; use course (per-sample dZ) or batch (dZ = dC/dZ)")
    known = base.cost_known or "cost" in fields or "model" in fields
    jac = fields.get("jacobian", base.jacobian)
    if jac not in (None, "numerator", "denominator"):
        raise BadInput(f"bpv directive: jacobian={jac!r}; use numerator (J_ij = du_i/dv_j) or denominator")
    declared = base.declared or any(k in fields for k in ("model", "net", "layout"))
    return Context(spec, source, dz, known, jac, declared)


def instance_spec(spec: ModelSpec) -> ModelSpec:
    """Same depth, activations, cost, layout; widths 2 (input), 3, 4, ... (capped by the model's own widths).

    Every layer gets a width of its own (and the batch size is none of them, :func:`derive.claims.verdicts.
    batch_size`), so no W^l is square, no two quantities of different layers have the same shape, and a product
    that type-checks does so for every size of the model: a missing transpose changes the shape, and ``×`` has one
    reading. A softmax output keeps at least 2 units. The instance always has biases (a model without them is evaluated
    with b = 0) and the columns layout (the evaluator orients matrices for the context's layout).
    """
    sizes = [min(n, i + 2) for i, n in enumerate(spec.sizes)]
    sizes[-1] = max(spec.output_activation.min_units, sizes[-1])
    # the composed cost is the same function of w^l_{jk} in either layout: the layout only orients the matrices
    # the evaluator builds, so the instance is always composed in the columns layout
    # the dense network only: an L2 term is added by the instance (Instance.dC), normalisation and dropout are
    # not composed (claims about them are judged block by block, derive.claims.blocks)
    return ModelSpec.build(sizes, [str(a) for a in spec.activations], spec.cost, spec.reduction, Layout.COLUMNS,
                           True)


def number(v) -> sp.Expr:
    if isinstance(v, sp.Rational):
        return v
    n = sp.N(v, DIGITS + 5)
    if not n.is_real:
        raise NotCheckable(f"a value that is not a real number at a sample point ({sp.N(n, 6)})")
    return sp.Float(n, DIGITS + 5)
