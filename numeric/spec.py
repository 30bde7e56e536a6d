"""The model spec: one object that describes a network (a sequence of layers) and its conventions.

A :class:`ModelSpec` holds the layer sizes ``n_0 .. n_L``, one activation per layer, the cost, the batch reduction
(``mean`` or ``sum``), the layout (samples as ``columns`` of X, the default, or as ``rows``) and whether the layers
have biases. Everything downstream (derivations, kernels, checks, reports) takes this object.

It is NumPy-free and SymPy-free on purpose: parsing and validating a spec must be cheap and importable anywhere.
The conventions are those of ``docs/conventions.md``: ``W^l`` is ``(n_l, n_{l-1})`` in the columns layout and
``(n_{l-1}, n_l)`` in the rows layout; ``b^l`` is ``(n_l, 1)`` or ``(1, n_l)``.

>>> spec = ModelSpec.build([3, 30, 10, 3, 1], "sigmoid,sigmoid,relu,identity", "mse")
>>> spec.L, spec.param_shapes()["W2"], spec.n_params
(4, (10, 30), 467)
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from numeric.dropout import Dropout
from numeric.errors import SpecError
from numeric.functions import ACTIVATIONS as FUNCTION_ACTIVATIONS
from numeric.functions import COSTS as FUNCTION_COSTS
from numeric.functions import Activation, Cost
from numeric.layers import Dense
from numeric.limits import MAX_ACT_PARAM, MAX_UNITS, exact_text, spec_digest
from numeric.normalisation import NORMS
from numeric.penalty import L2
from numeric.spec_blocks import block_options

__all__ = [
    "ACTIVATIONS",
    "COSTS",
    "LAYOUTS",
    "MAX_ACT_PARAM",
    "MAX_UNITS",
    "NORMS",
    "REDUCTIONS",
    "ActSpec",
    "Layout",
    "ModelSpec",
    "exact_text",
    "parse_activations",
    "parse_net",
]

REDUCTIONS = ("mean", "sum")


class Layout(str, enum.Enum):
    """Where the samples of a batch go: the columns of X (the default) or its rows.

    Columns: X is (n_0, m), W^l is (n_l, n_{l-1}), b^l is (n_l, 1). Rows transposes everything, as row-major
    tutorials write it: X is (m, n_0), W^l is (n_{l-1}, n_l), b^l is (1, n_l).
    """

    COLUMNS = "columns"
    ROWS = "rows"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, text: str | Layout) -> Layout:
        try:
            return cls(text)
        except ValueError:
            raise SpecError(f"unknown layout {text!r}; use one of: {', '.join(LAYOUTS)}") from None

    @property
    def columns(self) -> bool:
        return self is Layout.COLUMNS

    def matrix(self, n_out: int, n_in: int) -> tuple[int, int]:
        """The shape of a weight matrix from n_in to n_out units."""
        return (n_out, n_in) if self.columns else (n_in, n_out)

    def vector(self, n: int) -> tuple[int, int]:
        """The shape of a per-unit vector (a bias): a column (n, 1) or a row (1, n)."""
        return (n, 1) if self.columns else (1, n)

    def batch(self, n: int, m: int) -> tuple[int, int]:
        """The shape of n units for m samples."""
        return (n, m) if self.columns else (m, n)

    def to_columns(self, array: Any) -> Any:
        """An array of this layout in the columns working layout (a view, no copy)."""
        return array if self.columns else array.T

    #: back from the columns working layout: the same transpose (it is its own inverse)
    from_columns = to_columns

    @property
    def sample_axis(self) -> int:
        return 1 if self.columns else 0


LAYOUTS = tuple(layout.value for layout in Layout)

#: the registries' names, for help texts and validation (the entries themselves live in numeric.functions)
ACTIVATIONS: dict[str, float | None] = {name: entry.param for name, entry in FUNCTION_ACTIVATIONS.items()}
COSTS: dict[str, str] = {name: entry.summary for name, entry in FUNCTION_COSTS.items()}


@dataclass(frozen=True)
class ActSpec:
    """One layer's activation: a name from :data:`ACTIVATIONS` and its parameter (``leaky_relu:0.01``)."""

    name: str
    param: float | None = None

    def __str__(self) -> str:
        if self.param is None:
            return self.name
        # the text identifies the model (hashes, cache keys, kernel names): short where that loses no digit
        return f"{self.name}:{exact_text(self.param)}"

    @property
    def entry(self) -> Activation:
        """The registry entry (:data:`numeric.functions.ACTIVATIONS`)."""
        return FUNCTION_ACTIVATIONS[self.name]

    @classmethod
    def parse(cls, text: str) -> ActSpec:
        """Parse ``name`` or ``name:param``; the parameter defaults as in :data:`ACTIVATIONS`."""
        name, sep, raw = text.strip().partition(":")
        name = name.strip()
        if name not in FUNCTION_ACTIVATIONS:
            known = ", ".join(FUNCTION_ACTIVATIONS)
            raise SpecError(f"unknown activation {name!r}; known activations: {known}")
        default = FUNCTION_ACTIVATIONS[name].param
        if not sep:
            return cls(name, default)
        if default is None:
            raise SpecError(f"activation {name!r} takes no parameter, got {text.strip()!r}")
        try:
            value = float(raw)
        except ValueError:
            raise SpecError(
                f"activation parameter in {text.strip()!r} is not a number; write e.g. {name}:{default:g}"
            ) from None
        if not abs(value) <= MAX_ACT_PARAM:  # also NaN
            raise SpecError(f"activation parameter in {text.strip()!r} must be finite with |value| <= "
                            f"{MAX_ACT_PARAM:g}, e.g. {name}:{default:g}")
        return cls(name, value)


def parse_net(text: str) -> tuple[int, ...]:
    """Parse ``--net`` text such as ``3-30-10-3-1`` into layer sizes ``(n_0, ..., n_L)``."""
    text = text.strip()
    if not re.fullmatch(r"\d+(-\d+)+", text):
        if re.fullmatch(r"\d+", text):
            raise SpecError(f"--net {text!r} has no layer: give at least an input and an output size, e.g. {text}-1")
        raise SpecError(
            f"--net {text!r} is not a list of positive layer sizes joined by '-', e.g. 3-30-10-3-1"
        )
    parts = text.split("-")
    big = next((p for p in parts if len(p.lstrip("0")) > len(str(MAX_UNITS)) or int(p) > MAX_UNITS), None)
    if big is not None:
        shown = big if len(big) <= 20 else f"{big[:12]}... ({len(big)} digits)"
        raise SpecError(f"--net: layer size {shown} is larger than {MAX_UNITS:,} units; give each size as a "
                        "positive integer of at most that")
    sizes = tuple(int(part) for part in parts)
    if any(n < 1 for n in sizes):
        raise SpecError(f"--net {text!r}: every layer size must be at least 1")
    return sizes


def parse_activations(text: str | Sequence[str], n_layers: int) -> tuple[ActSpec, ...]:
    """Parse ``--act``: one name for every layer, or a comma-separated list with one name per layer."""
    parts = [p for p in (text.split(",") if isinstance(text, str) else list(text))]
    if any(not str(p).strip() for p in parts):
        raise SpecError(f"--act {text!r} has an empty name; write e.g. sigmoid,relu")
    acts = tuple(p if isinstance(p, ActSpec) else ActSpec.parse(str(p)) for p in parts)
    if len(acts) == 1:
        return acts * n_layers
    if len(acts) != n_layers:
        raise SpecError(
            f"--act names {len(acts)} activations but the net has {n_layers} layers; "
            f"give one name for all layers or exactly {n_layers}"
        )
    return acts


@dataclass(frozen=True)
class ModelSpec:
    """A network (a sequence of :mod:`numeric.layers`) and its conventions. Build it with :meth:`build`.

    ``layers`` is the network; ``sizes``, ``activations`` and ``bias`` are views of it, so code written for the
    dense MLP keeps reading ``spec.sizes`` while new layer kinds join the sequence.
    """

    layers: tuple[Dense, ...]
    cost: str
    reduction: str = "mean"
    layout: Layout = Layout.COLUMNS
    name: str | None = None
    description: str = field(default="", compare=False)
    #: the L2 term of the cost (None: no regularisation)
    penalty: L2 | None = None

    # ----- construction -------------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        sizes: str | Iterable[int],
        activations: str | Sequence[str] = "sigmoid",
        cost: str = "quadratic",
        reduction: str = "mean",
        layout: str | Layout = "columns",
        bias: bool = True,
        name: str | None = None,
        description: str = "",
        *,
        norm: str | None = None,
        keep_prob: float | None = None,
        l2: float | None = None,
        l2_n: int | None = None,
    ) -> ModelSpec:
        """Validate and build a dense network.

        ``sizes`` is ``"3-30-10"`` or ``[3, 30, 10]``; ``activations`` one name for all layers or one per layer
        (``"sigmoid,relu"`` or a list); parameters after a colon (``leaky_relu:0.1``). ``norm`` (``batch`` or
        ``layer``) and ``keep_prob`` (inverted dropout) apply to every hidden layer, in the order affine -> norm ->
        activation -> dropout; ``l2`` is lambda of the L2 term over a training set of ``l2_n`` samples (None: the
        batch size). Raises :class:`SpecError`.
        """
        if isinstance(sizes, str):
            sizes_t = parse_net(sizes)
        else:
            sizes_t = tuple(int(n) for n in sizes)
            if len(sizes_t) < 2:
                raise SpecError("a net needs at least an input and an output size, e.g. [3, 1]")
            if any(n < 1 for n in sizes_t):
                raise SpecError(f"every layer size must be at least 1, got {list(sizes_t)}")
            if any(n > MAX_UNITS for n in sizes_t):
                raise SpecError(f"every layer size must be at most {MAX_UNITS:,} units")
        acts = parse_activations(activations, len(sizes_t) - 1)
        if cost not in FUNCTION_COSTS:
            raise SpecError(f"unknown cost {cost!r}; known costs: {', '.join(FUNCTION_COSTS)}")
        if reduction not in REDUCTIONS:
            raise SpecError(f"unknown reduction {reduction!r}; use one of: {', '.join(REDUCTIONS)}")
        L = len(acts)
        norm_cls, keep, penalty = block_options(norm, keep_prob, l2, l2_n, L)
        layers = tuple(
            Dense(l, sizes_t[l - 1], sizes_t[l], act, bool(bias),
                  norm=norm_cls(l, sizes_t[l]) if norm_cls is not None and l < L else None,
                  dropout=Dropout(l, sizes_t[l], keep) if keep is not None and l < L else None)
            for l, act in enumerate(acts, start=1))
        spec = cls(layers, cost, reduction, Layout.parse(layout), name, description, penalty)
        spec._check_compatible()
        return spec

    def _check_compatible(self) -> None:
        for layer in self.layers:
            entry = layer.activation
            if entry.output_only and layer.index != self.L:
                raise SpecError(
                    f"{entry.name} in hidden layer {layer.index}: {entry.name} is only allowed as the output "
                    f"activation (layer {self.L}); use e.g. relu or sigmoid there"
                )
        out = self.output_activation
        if self.sizes[-1] < out.min_units:
            raise SpecError(f"{out.name} output needs at least {out.min_units} units (a 1-unit softmax is "
                            "constant 1); use sigmoid+bce")
        need = self.cost_entry.requires_output
        if need is not None and out.name != need:
            raise SpecError(
                f"cost {self.cost} wants a {need} output layer (its outputs are class probabilities), got "
                f"{self.activations[-1]}; use --act ...,{need} or cost bce with a sigmoid output"
            )

    def warnings(self) -> list[str]:
        """Legal but questionable combinations, each explained in one sentence."""
        out = self.output_activation
        found = []
        if self.cost_entry.wants_probabilities and not out.probabilities:
            found.append(
                f"cost {self.cost} wants an output in (0, 1) but {out.name} gives values in {out.output_range}, "
                "where ln(a) or ln(1 - a) is undefined; use a sigmoid output"
            )
        return found

    # ----- views of the layers --------------------------------------------------------------------------------
    @property
    def sizes(self) -> tuple[int, ...]:
        """``(n_0, n_1, ..., n_L)``."""
        return (self.layers[0].n_in, *(layer.n_out for layer in self.layers))

    @property
    def activations(self) -> tuple[ActSpec, ...]:
        return tuple(layer.act for layer in self.layers)

    @property
    def bias(self) -> bool:
        return all(layer.bias for layer in self.layers)

    @property
    def norm(self) -> str | None:
        """``batch``, ``layer`` or None: the normalisation of the hidden layers."""
        kinds = {layer.norm.kind for layer in self.layers if layer.norm is not None}
        return next((key for key, cls in NORMS.items() if cls.kind in kinds), None)

    @property
    def keep_prob(self) -> float | None:
        """The keep probability of dropout on the hidden layers (None: no dropout)."""
        return next((layer.dropout.keep for layer in self.layers if layer.dropout is not None), None)

    @property
    def l2(self) -> float | None:
        return None if self.penalty is None else self.penalty.lam

    @property
    def l2_n(self) -> int | None:
        return None if self.penalty is None else self.penalty.n

    @property
    def plain(self) -> bool:
        """The textbook dense net of BP1-BP4: no normalisation, no dropout, no L2 term."""
        return self.penalty is None and all(layer.plain for layer in self.layers)

    def dropout_layers(self) -> list[Dropout]:
        return [layer.dropout for layer in self.layers if layer.dropout is not None]

    def zero_gradient_blocks(self) -> list[str]:
        """Parameters whose true gradient is identically zero: the bias of a layer normalised over the batch (the
        batch mean removes any per-unit constant; bpv derive proves it, step batchnorm.bias). Checks compare such a
        block with the scale of the largest block, never by its own block-relative error (meaningless at 0)."""
        return [layer.b for layer in self.layers if layer.bias and layer.norm is not None and layer.norm.cancels_bias]

    def weight_names(self) -> list[str]:
        """The parameters an L2 term covers: the weights W^l (never biases, gamma or beta)."""
        return [layer.W for layer in self.layers]

    def extras_dict(self) -> dict:
        """The blocks past the dense layer, as ``build`` keywords; empty for a plain net."""
        d: dict = {}
        if self.norm is not None:
            d["norm"] = self.norm
        if self.keep_prob is not None:
            d["keep_prob"] = self.keep_prob
        if self.penalty is not None:
            d["l2"] = self.penalty.lam
            if self.penalty.n is not None:
                d["l2_n"] = self.penalty.n
        return d

    @property
    def output_activation(self) -> Activation:
        """The registry entry of the output layer's activation."""
        return self.layers[-1].activation

    @property
    def cost_entry(self) -> Cost:
        """The registry entry of the cost (:data:`numeric.functions.COSTS`)."""
        return FUNCTION_COSTS[self.cost]

    # ----- derived facts ------------------------------------------------------------------------------------
    @property
    def L(self) -> int:
        """Number of layers with parameters (the input layer 0 has none)."""
        return len(self.sizes) - 1

    def param_names(self) -> list[str]:
        """Parameter keys in order: ``W1, b1, W2, b2, ...`` (no ``b`` keys without biases)."""
        return [name for layer in self.layers for name in layer.param_names()]

    def param_shapes(self) -> dict[str, tuple[int, int]]:
        """Shape of every parameter, per layout (docs/conventions.md § Conventions)."""
        return {name: shape for layer in self.layers for name, shape in layer.param_shapes(self.layout).items()}

    def x_shape(self, m: int) -> tuple[int, int]:
        """Shape of a batch of ``m`` inputs."""
        return self.layout.batch(self.sizes[0], m)

    def y_shape(self, m: int) -> tuple[int, int]:
        """Shape of a batch of ``m`` targets (one-hot for cce)."""
        return self.layout.batch(self.sizes[-1], m)

    @property
    def n_params(self) -> int:
        return sum(layer.n_params for layer in self.layers)

    @property
    def net(self) -> str:
        return "-".join(str(n) for n in self.sizes)

    @property
    def act_text(self) -> str:
        """``--act`` text: one name when all layers agree, else one per layer."""
        names = [str(a) for a in self.activations]
        return names[0] if len(set(names)) == 1 else ",".join(names)

    def cli_args(self) -> str:
        """The flags that rebuild this spec on the command line."""
        flags = f"--net {self.net} --act {self.act_text} --cost {self.cost}"
        flags += f" --reduction {self.reduction} --layout {self.layout}"
        flags += "" if self.bias else " --no-bias"
        if self.norm is not None:
            flags += f" --norm {self.norm}"
        if self.keep_prob is not None:
            flags += f" --keep-prob {exact_text(self.keep_prob)}"
        if self.penalty is not None:
            flags += f" --l2 {exact_text(self.penalty.lam)}" + (
                "" if self.penalty.n is None else f" --l2-n {self.penalty.n}")
        return flags

    @property
    def slug(self) -> str:
        """A file-name-safe identifier: the catalog name, or one built from the spec."""
        if self.name:
            return re.sub(r"[^A-Za-z0-9_]+", "_", self.name)
        acts = "_".join(str(a).replace(":", "").replace(".", "p").replace("-", "m") for a in self.activations)
        parts = ["net", self.net.replace("-", "_"), acts, self.cost, self.reduction, self.layout]
        if not self.bias:
            parts.append("nobias")
        for key, value in self.extras_dict().items():
            parts.append(f"{key.replace('_', '')}{exact_text(value)}" if not isinstance(value, str) else f"{value}norm")
        return re.sub(r"[^A-Za-z0-9_]+", "p", "_".join(parts))

    @property
    def title(self) -> str:
        return self.name or f"{self.net} {self.act_text} / {self.cost}"

    def family_key(self) -> str:
        """What a generated kernel depends on: everything but the widths.

        A kernel serves any widths with the same depth, activations, cost, reduction, layout and biases.
        """
        acts = ",".join(str(a) for a in self.activations)
        key = f"L={self.L};act={acts};cost={self.cost};red={self.reduction};layout={self.layout};bias={self.bias}"
        # the blocks past the dense layer are part of the family only when present (plain kernels keep their key)
        return key + "".join(f";{k}={v}" for k, v in self.extras_dict().items())

    def plain_family(self) -> ModelSpec:
        """The dense net of this family: the same layers without normalisation, dropout or L2 term."""
        return ModelSpec.build(list(self.sizes), [str(a) for a in self.activations], self.cost, self.reduction,
                               self.layout, self.bias)

    def with_sizes(self, sizes: Sequence[int], name: str | None = None) -> ModelSpec:
        """The same family at other widths (validated)."""
        return ModelSpec.build(
            list(sizes), [str(a) for a in self.activations], self.cost, self.reduction, self.layout, self.bias, name,
            **self.extras_dict(),
        )

    def reduced_twin(self, cap: int = 3) -> ModelSpec:
        """Same depth, activations, cost, reduction, layout; every width capped at ``cap`` (softmax keeps >= 2)."""
        sizes = [min(n, cap) for n in self.sizes]
        return self.with_sizes(sizes, name=f"{self.name}_twin" if self.name else None)

    # ----- serialisation ------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The spec as JSON data; ``layers`` lists each layer (``from_dict`` reads the dense view)."""
        return {
            "name": self.name,
            "sizes": list(self.sizes),
            "activations": [str(a) for a in self.activations],
            "cost": self.cost,
            "reduction": self.reduction,
            "layout": self.layout.value,
            "bias": self.bias,
            **self.extras_dict(),  # only when present: a plain net's dict (and hash) is what it always was
        }

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        return cls.build(
            d["sizes"], d["activations"], d["cost"], d.get("reduction", "mean"), d.get("layout", "columns"),
            d.get("bias", True), d.get("name"),
            **{k: d[k] for k in ("norm", "keep_prob", "l2", "l2_n") if d.get(k) is not None},
        )

    def layers_dict(self) -> list[dict]:
        return [layer.to_dict() for layer in self.layers]

    def hash(self) -> str:
        """A stable hex digest of everything that changes the mathematics (not the name)."""
        return spec_digest(self.to_dict())

    def __str__(self) -> str:
        return f"{self.title} ({self.cli_args()})"
