"""The model spec: one object that describes a fully connected network and its conventions.

A :class:`ModelSpec` holds the layer sizes ``n_0 .. n_L``, one activation per layer, the cost, the batch reduction
(``mean`` or ``sum``), the layout (samples as ``columns`` of X, the default, or as ``rows``) and whether the layers
have biases. Everything downstream (derivations, kernels, checks, reports) takes this object.

It is NumPy-free and SymPy-free on purpose: parsing and validating a spec must be cheap and importable anywhere.
The conventions are those of ``shared/DESIGN.md``: ``W^l`` is ``(n_l, n_{l-1})`` in the columns layout and
``(n_{l-1}, n_l)`` in the rows layout; ``b^l`` is ``(n_l, 1)`` or ``(1, n_l)``.

>>> spec = ModelSpec.build([3, 30, 10, 3, 1], "sigmoid,sigmoid,relu,identity", "mse")
>>> spec.L, spec.param_shapes()["W2"], spec.n_params
(4, (10, 30), 467)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from numeric.errors import SpecError

__all__ = [
    "ACTIVATIONS",
    "COSTS",
    "LAYOUTS",
    "REDUCTIONS",
    "ActSpec",
    "ModelSpec",
    "parse_activations",
    "parse_net",
]

#: Known activations and the default of their parameter (None: the activation has no parameter).
ACTIVATIONS: dict[str, float | None] = {
    "identity": None,
    "sigmoid": None,
    "tanh": None,
    "relu": None,
    "leaky_relu": 0.01,
    "softplus": None,
    "elu": 1.0,
    "softmax": None,
}
#: Range of each activation's output, used by the compatibility table (bce wants values in (0, 1)).
OUTPUT_RANGE: dict[str, str] = {
    "identity": "(-inf, inf)",
    "sigmoid": "(0, 1)",
    "tanh": "(-1, 1)",
    "relu": "[0, inf)",
    "leaky_relu": "(-inf, inf)",
    "softplus": "(0, inf)",
    "elu": "(-alpha, inf)",
    "softmax": "(0, 1), summing to 1",
}
COSTS: dict[str, str] = {
    "quadratic": "1/2 ||a - y||^2",
    "squared": "||a - y||^2",
    "mse": "mean over the outputs of (a - y)^2",
    "bce": "binary cross-entropy -[y ln a + (1 - y) ln(1 - a)]",
    "cce": "categorical cross-entropy -sum_j y_j ln a_j",
}
REDUCTIONS = ("mean", "sum")
LAYOUTS = ("columns", "rows")


@dataclass(frozen=True)
class ActSpec:
    """One layer's activation: a name from :data:`ACTIVATIONS` and its parameter (``leaky_relu:0.01``)."""

    name: str
    param: float | None = None

    def __str__(self) -> str:
        return self.name if self.param is None else f"{self.name}:{self.param:g}"

    @classmethod
    def parse(cls, text: str) -> ActSpec:
        """Parse ``name`` or ``name:param``; the parameter defaults as in :data:`ACTIVATIONS`."""
        name, sep, raw = text.strip().partition(":")
        name = name.strip()
        if name not in ACTIVATIONS:
            known = ", ".join(ACTIVATIONS)
            raise SpecError(f"unknown activation {name!r}; known activations: {known}")
        default = ACTIVATIONS[name]
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
        if value != value or value in (float("inf"), float("-inf")):
            raise SpecError(f"activation parameter in {text.strip()!r} must be finite")
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
    sizes = tuple(int(part) for part in text.split("-"))
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
    """A fully connected network and its conventions. Build it with :meth:`build` (validates)."""

    sizes: tuple[int, ...]
    activations: tuple[ActSpec, ...]
    cost: str
    reduction: str = "mean"
    layout: str = "columns"
    bias: bool = True
    name: str | None = None
    description: str = field(default="", compare=False)

    # ----- construction -------------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        sizes: str | Iterable[int],
        activations: str | Sequence[str] = "sigmoid",
        cost: str = "quadratic",
        reduction: str = "mean",
        layout: str = "columns",
        bias: bool = True,
        name: str | None = None,
        description: str = "",
    ) -> ModelSpec:
        """Validate and build a spec.

        ``sizes`` is ``"3-30-10"`` or ``[3, 30, 10]``; ``activations`` one name for all layers or one per layer
        (``"sigmoid,relu"`` or a list); parameters after a colon (``leaky_relu:0.1``). Raises :class:`SpecError`.
        """
        if isinstance(sizes, str):
            sizes_t = parse_net(sizes)
        else:
            sizes_t = tuple(int(n) for n in sizes)
            if len(sizes_t) < 2:
                raise SpecError("a net needs at least an input and an output size, e.g. [3, 1]")
            if any(n < 1 for n in sizes_t):
                raise SpecError(f"every layer size must be at least 1, got {list(sizes_t)}")
        acts = parse_activations(activations, len(sizes_t) - 1)
        if cost not in COSTS:
            raise SpecError(f"unknown cost {cost!r}; known costs: {', '.join(COSTS)}")
        if reduction not in REDUCTIONS:
            raise SpecError(f"unknown reduction {reduction!r}; use one of: {', '.join(REDUCTIONS)}")
        if layout not in LAYOUTS:
            raise SpecError(f"unknown layout {layout!r}; use one of: {', '.join(LAYOUTS)}")
        spec = cls(sizes_t, acts, cost, reduction, layout, bool(bias), name, description)
        spec._check_compatible()
        return spec

    def _check_compatible(self) -> None:
        for l, act in enumerate(self.activations, start=1):
            if act.name == "softmax" and l != self.L:
                raise SpecError(
                    f"softmax in hidden layer {l}: softmax is only allowed as the output activation "
                    f"(layer {self.L}); use e.g. relu or sigmoid there"
                )
        out = self.activations[-1]
        if out.name == "softmax" and self.sizes[-1] < 2:
            raise SpecError("softmax output needs at least 2 units (a 1-unit softmax is constant 1); use sigmoid+bce")
        if self.cost == "cce" and out.name != "softmax":
            raise SpecError(
                f"cost cce wants a softmax output layer (its outputs are class probabilities), got {out}; "
                "use --act ...,softmax or cost bce with a sigmoid output"
            )

    def warnings(self) -> list[str]:
        """Legal but questionable combinations, each explained in one sentence."""
        out = self.activations[-1]
        found = []
        if self.cost == "bce" and out.name not in ("sigmoid", "softmax"):
            found.append(
                f"cost bce wants an output in (0, 1) but {out.name} gives values in {OUTPUT_RANGE[out.name]}, "
                "where ln(a) or ln(1 - a) is undefined; use a sigmoid output"
            )
        return found

    # ----- derived facts ------------------------------------------------------------------------------------
    @property
    def L(self) -> int:
        """Number of layers with parameters (the input layer 0 has none)."""
        return len(self.sizes) - 1

    def param_names(self) -> list[str]:
        """Parameter keys in order: ``W1, b1, W2, b2, ...`` (no ``b`` keys without biases)."""
        names = []
        for l in range(1, self.L + 1):
            names.append(f"W{l}")
            if self.bias:
                names.append(f"b{l}")
        return names

    def param_shapes(self) -> dict[str, tuple[int, int]]:
        """Shape of every parameter, per layout (DESIGN.md § Conventions)."""
        shapes: dict[str, tuple[int, int]] = {}
        for l in range(1, self.L + 1):
            n_in, n_out = self.sizes[l - 1], self.sizes[l]
            cols = self.layout == "columns"
            shapes[f"W{l}"] = (n_out, n_in) if cols else (n_in, n_out)
            if self.bias:
                shapes[f"b{l}"] = (n_out, 1) if cols else (1, n_out)
        return shapes

    def x_shape(self, m: int) -> tuple[int, int]:
        """Shape of a batch of ``m`` inputs."""
        return (self.sizes[0], m) if self.layout == "columns" else (m, self.sizes[0])

    def y_shape(self, m: int) -> tuple[int, int]:
        """Shape of a batch of ``m`` targets (one-hot for cce)."""
        return (self.sizes[-1], m) if self.layout == "columns" else (m, self.sizes[-1])

    @property
    def n_params(self) -> int:
        return sum(r * c for r, c in self.param_shapes().values())

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
        return flags + ("" if self.bias else " --no-bias")

    @property
    def slug(self) -> str:
        """A file-name-safe identifier: the catalog name, or one built from the spec."""
        if self.name:
            return re.sub(r"[^A-Za-z0-9_]+", "_", self.name)
        acts = "_".join(str(a).replace(":", "").replace(".", "p").replace("-", "m") for a in self.activations)
        parts = ["net", self.net.replace("-", "_"), acts, self.cost, self.reduction, self.layout]
        if not self.bias:
            parts.append("nobias")
        return "_".join(parts)

    @property
    def title(self) -> str:
        return self.name or f"{self.net} {self.act_text} / {self.cost}"

    def family_key(self) -> str:
        """What a generated kernel depends on: everything but the widths.

        A kernel serves any widths with the same depth, activations, cost, reduction, layout and biases.
        """
        acts = ",".join(str(a) for a in self.activations)
        return f"L={self.L};act={acts};cost={self.cost};red={self.reduction};layout={self.layout};bias={self.bias}"

    def with_sizes(self, sizes: Sequence[int], name: str | None = None) -> ModelSpec:
        """The same family at other widths (validated)."""
        return ModelSpec.build(
            list(sizes), [str(a) for a in self.activations], self.cost, self.reduction, self.layout, self.bias, name
        )

    def reduced_twin(self, cap: int = 3) -> ModelSpec:
        """Same depth, activations, cost, reduction, layout; every width capped at ``cap`` (softmax keeps >= 2)."""
        sizes = [min(n, cap) for n in self.sizes]
        return self.with_sizes(sizes, name=f"{self.name}_twin" if self.name else None)

    # ----- serialisation ------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "sizes": list(self.sizes),
            "activations": [str(a) for a in self.activations],
            "cost": self.cost,
            "reduction": self.reduction,
            "layout": self.layout,
            "bias": self.bias,
        }

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        return cls.build(
            d["sizes"], d["activations"], d["cost"], d.get("reduction", "mean"), d.get("layout", "columns"),
            d.get("bias", True), d.get("name"),
        )

    def hash(self) -> str:
        """A stable hex digest of everything that changes the mathematics (not the name)."""
        d = self.to_dict()
        d.pop("name")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def __str__(self) -> str:
        return f"{self.title} ({self.cli_args()})"
