"""The spec of a convolutional network: ``--net 1x8x8-c4k3p1-pool2-flat-10 --act relu,softmax``.

A :class:`ConvNetSpec` is an input shape (C, H, W) and a sequence of stages: convolutions (each followed by its
activation), max-pools, one flatten and then dense layers, the last of which is the output. It always works in
torch's NCHW **rows** layout: x is (m, C, H, W), y is (m, n_L) one-hot or integer labels (m,).

``l`` counts only the layers with parameters (docs/conventions.md § Convolution): ``lenet_tiny`` has W1 (4, 1, 3,
3), b1 (1, 4) for the convolution and W2 (64, 10), b2 (1, 10) for the dense layer (rows layout: (n_{l-1}, n_l)).

The ``--net`` grammar, stages joined by ``-``:

* ``CxHxW`` first (``8x8`` means one channel): the input;
* ``c<C_out>k<k>[s<stride>][p<pad>]``: a convolution, stride 1 and padding 0 by default (``c4k3p1``);
* ``pool<k>[s<stride>]``: max-pooling with a k x k window, stride k by default (``pool2``);
* ``flat``: flatten (C order); written out when omitted before the first dense layer;
* ``<n>``: a dense layer of n units.

NumPy-free and SymPy-free, like :mod:`numeric.spec`.

>>> spec = ConvNetSpec.build("1x8x8-c4k3p1-pool2-flat-10", "relu,softmax", "cce")
>>> spec.param_shapes()
{'W1': (4, 1, 3, 3), 'b1': (1, 4), 'W2': (64, 10), 'b2': (1, 10)}
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from numeric.conv import Conv2d, Flatten, MaxPool2d
from numeric.errors import SpecError
from numeric.functions import COSTS, Activation, Cost
from numeric.layers import Dense
from numeric.limits import MAX_UNITS, spec_digest
from numeric.spec import REDUCTIONS, ActSpec, Layout, ModelSpec, parse_activations

__all__ = ["ConvNetSpec", "is_conv_net", "parse_conv_net"]

Stage = Conv2d | MaxPool2d | Flatten | Dense

_CONV = re.compile(r"c(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?")
_POOL = re.compile(r"pool(\d+)(?:s(\d+))?")
_INPUT = re.compile(r"(?:(\d+)x)?(\d+)x(\d+)")


def is_conv_net(text: str) -> bool:
    """Whether ``--net`` text is the convolutional grammar (its first stage is an input shape ``CxHxW``)."""
    return bool(_INPUT.fullmatch(text.strip().split("-")[0]))


def _parse_input(token: str, text: str) -> tuple[int, int, int]:
    found = _INPUT.fullmatch(token)
    if found is None:
        raise SpecError(f"--net {text!r}: the first stage must be the input shape CxHxW, e.g. 1x8x8")
    c, h, w = (int(found.group(1) or 1), int(found.group(2)), int(found.group(3)))
    if min(c, h, w) < 1:
        raise SpecError(f"--net {text!r}: the input shape {token} must have C, H, W >= 1")
    return c, h, w


def parse_conv_net(text: str) -> tuple[tuple[int, int, int], list[tuple]]:
    """``(input (C, H, W), stages)``; each stage is ``("conv", c_out, k, s, p)``, ``("pool", k, s)``, ``("flat",)``
    or ``("dense", n)``. Structure only: sizes are checked when the spec is built."""
    text = text.strip()
    tokens = text.split("-")
    if re.search(r"\d{10,}", text):
        raise SpecError(f"--net {text[:40]!r}...: a number of 10 or more digits; sizes are at most {MAX_UNITS:,}")
    if any(not t for t in tokens):
        raise SpecError(f"--net {text!r} has an empty stage; join stages with single '-', e.g. 1x8x8-c4k3-pool2-10")
    shape = _parse_input(tokens[0], text)
    stages: list[tuple] = []
    for token in tokens[1:]:
        if (conv := _CONV.fullmatch(token)) is not None:
            c_out, k, s, p = conv.groups()
            stages.append(("conv", int(c_out), int(k), int(s or 1), int(p or 0)))
        elif (pool := _POOL.fullmatch(token)) is not None:
            k, s = pool.groups()
            stages.append(("pool", int(k), int(s or k)))
        elif token == "flat":
            stages.append(("flat",))
        elif token.isdigit():
            stages.append(("dense", int(token)))
        else:
            raise SpecError(
                f"--net {text!r}: stage {token!r} is not one of c<C_out>k<k>[s<stride>][p<pad>] (a convolution, "
                "e.g. c4k3p1), pool<k>[s<stride>] (max-pooling, e.g. pool2), flat, or a dense width")
    return shape, stages


@dataclass(frozen=True)
class ConvNetSpec:
    """A convolutional network (see the module doc). Build it with :meth:`build`."""

    input_shape: tuple[int, int, int]
    layers: tuple[Stage, ...]
    #: one activation per convolution, in order (a dense layer holds its own)
    conv_acts: tuple[ActSpec, ...]
    cost: str
    reduction: str = "mean"
    name: str | None = None
    description: str = field(default="", compare=False)

    kind = "conv"
    layout = Layout.ROWS
    penalty = None
    plain = False

    # ----- construction -------------------------------------------------------------------------------------
    @classmethod
    def build(cls, net: str, activations: str | Sequence[str] = "relu", cost: str = "cce",
              reduction: str = "mean", name: str | None = None, description: str = "") -> ConvNetSpec:
        """Validate and build from ``--net`` text and ``--act`` (one name per layer with parameters)."""
        shape, stages = parse_conv_net(net)
        if cost not in COSTS:
            raise SpecError(f"unknown cost {cost!r}; known costs: {', '.join(COSTS)}")
        if reduction not in REDUCTIONS:
            raise SpecError(f"unknown reduction {reduction!r}; use one of: {', '.join(REDUCTIONS)}")
        n_param = sum(s[0] in ("conv", "dense") for s in stages)
        if not any(s[0] == "dense" for s in stages):
            raise SpecError(f"--net {net!r} has no dense output layer; end it with the number of outputs, e.g. -10")
        acts = parse_activations(activations, n_param)
        layers, conv_acts = cls._layers(net, shape, stages, acts)
        dense_sizes = [layers[-sum(isinstance(x, Dense) for x in layers)].n_in,
                       *(x.n_out for x in layers if isinstance(x, Dense))]
        # the dense head is validated as the dense net it is (output-only activations, cost and output agree)
        ModelSpec.build(dense_sizes, [str(x.act) for x in layers if isinstance(x, Dense)], cost, reduction, "rows")
        for layer, act in zip((x for x in layers if isinstance(x, Conv2d)), conv_acts, strict=True):
            if act.entry.output_only:
                raise SpecError(f"{act.name} after convolution {layer.index}: {act.name} is only allowed as the "
                                "output activation; use e.g. relu there")
        return cls(shape, tuple(layers), tuple(conv_acts), cost, reduction, name, description)

    @staticmethod
    def _layers(net: str, shape: tuple[int, int, int], stages: list[tuple], acts: Sequence[ActSpec]
                ) -> tuple[list[Stage], list[ActSpec]]:
        layers: list[Stage] = []
        conv_acts: list[ActSpec] = []
        c, h, w = shape
        flat: int | None = None  # the width once flattened
        l = 0
        for stage in stages:
            kind = stage[0]
            if kind == "dense" and flat is None:  # flatten written out before the first dense layer
                layers.append(Flatten(l))
                flat = c * h * w
            if kind == "conv":
                if flat is not None:
                    raise SpecError(f"--net {net!r}: a convolution after flatten or a dense layer; "
                                    "convolutions and pools come first")
                l += 1
                _, c_out, k, s, p = stage
                layer = Conv2d(l, c, c_out, k, s, p)
                try:
                    c, h, w = layer.out_shape(h, w)
                except Exception as exc:
                    raise SpecError(f"--net {net!r}: {exc}") from None
                layers.append(layer)
                conv_acts.append(acts[l - 1])
            elif kind == "pool":
                if flat is not None:
                    raise SpecError(f"--net {net!r}: a pool after flatten or a dense layer")
                _, k, s = stage
                pool = MaxPool2d(l, k, s)
                try:
                    c, h, w = pool.out_shape(c, h, w)
                except Exception as exc:
                    raise SpecError(f"--net {net!r}: {exc}") from None
                layers.append(pool)
            elif kind == "flat":
                if flat is not None:
                    raise SpecError(f"--net {net!r}: flatten twice")
                layers.append(Flatten(l))
                flat = c * h * w
            else:
                l += 1
                layers.append(Dense(l, flat, stage[1], acts[l - 1]))
                flat = stage[1]
        if not isinstance(layers[-1], Dense):
            raise SpecError(f"--net {net!r} must end with a dense output layer")
        return layers, conv_acts

    # ----- views ------------------------------------------------------------------------------------------
    @property
    def convs(self) -> list[Conv2d]:
        return [x for x in self.layers if isinstance(x, Conv2d)]

    @property
    def dense(self) -> list[Dense]:
        return [x for x in self.layers if isinstance(x, Dense)]

    def conv_act(self, layer: Conv2d) -> ActSpec:
        return self.conv_acts[self.convs.index(layer)]

    @property
    def activations(self) -> tuple[ActSpec, ...]:
        """One per layer with parameters, in order (what ``--act`` lists)."""
        acts = iter(self.conv_acts)
        return tuple(next(acts) if isinstance(x, Conv2d) else x.act for x in self.layers
                     if isinstance(x, Conv2d | Dense))

    @property
    def output_activation(self) -> Activation:
        return self.layers[-1].activation

    @property
    def cost_entry(self) -> Cost:
        return COSTS[self.cost]

    @property
    def L(self) -> int:
        """Layers with parameters."""
        return len(self.convs) + len(self.dense)

    @property
    def n_out(self) -> int:
        return self.layers[-1].n_out

    def shapes(self) -> list[tuple[int, ...]]:
        """The shape of one sample after each stage (the input first): (C, H, W) or (n,)."""
        c, h, w = self.input_shape
        out: list[tuple[int, ...]] = [(c, h, w)]
        for x in self.layers:
            if isinstance(x, Conv2d):
                out.append(x.out_shape(out[-1][1], out[-1][2]))
            elif isinstance(x, MaxPool2d):
                out.append(x.out_shape(*out[-1]))
            elif isinstance(x, Flatten):
                n = 1
                for d in out[-1]:
                    n *= d
                out.append((n,))
            else:
                out.append((x.n_out,))
        return out

    def param_names(self) -> list[str]:
        return [n for x in self.layers for n in x.param_names()]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {n: s for x in self.layers for n, s in x.param_shapes(self.layout).items()}

    @property
    def n_params(self) -> int:
        return sum(x.n_params for x in self.layers)

    def x_shape(self, m: int) -> tuple[int, ...]:
        return (m, *self.input_shape)

    def y_shape(self, m: int) -> tuple[int, int]:
        return (m, self.n_out)

    def head(self) -> ModelSpec:
        """The dense layers after flatten as the plain dense net they are (rows layout): the part of this net that
        BP1-BP4 and the batch forms are about."""
        dense = self.dense
        return ModelSpec.build([dense[0].n_in, *(x.n_out for x in dense)], [str(x.act) for x in dense], self.cost,
                               self.reduction, "rows")

    def zero_gradient_blocks(self) -> list[str]:
        return []

    def dropout_layers(self) -> list:
        return []

    # ----- names --------------------------------------------------------------------------------------------
    @property
    def net(self) -> str:
        """The canonical ``--net`` text (flatten and default strides written out)."""
        c, h, w = self.input_shape
        parts = [f"{c}x{h}x{w}"]
        for x in self.layers:
            if isinstance(x, Conv2d):
                parts.append(f"c{x.c_out}k{x.k}" + (f"s{x.stride}" if x.stride != 1 else "")
                             + (f"p{x.pad}" if x.pad else ""))
            elif isinstance(x, MaxPool2d):
                parts.append(f"pool{x.k}" + (f"s{x.stride}" if x.stride != x.k else ""))
            elif isinstance(x, Flatten):
                parts.append("flat")
            else:
                parts.append(str(x.n_out))
        return "-".join(parts)

    @property
    def act_text(self) -> str:
        names = [str(a) for a in self.activations]
        return names[0] if len(set(names)) == 1 else ",".join(names)

    def cli_args(self) -> str:
        return f"--net {self.net} --act {self.act_text} --cost {self.cost} --reduction {self.reduction}"

    @property
    def title(self) -> str:
        return self.name or f"{self.net} {self.act_text} / {self.cost}"

    @property
    def slug(self) -> str:
        if self.name:
            return re.sub(r"[^A-Za-z0-9_]+", "_", self.name)
        acts = "_".join(str(a).replace(":", "").replace(".", "p").replace("-", "m") for a in self.activations)
        return re.sub(r"[^A-Za-z0-9_]+", "_", f"conv_{self.net.replace('-', '_')}_{acts}_{self.cost}_"
                                             f"{self.reduction}")

    def family_key(self) -> str:
        return f"conv;net={self.net};act={self.act_text};cost={self.cost};red={self.reduction}"

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "net": self.net,
                "activations": [str(a) for a in self.activations], "cost": self.cost, "reduction": self.reduction,
                "layout": self.layout.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConvNetSpec:
        return cls.build(d["net"], d["activations"], d["cost"], d.get("reduction", "mean"), d.get("name"))

    def layers_dict(self) -> list[dict]:
        acts = iter(self.conv_acts)
        return [{**x.to_dict(), "activation": str(next(acts))} if isinstance(x, Conv2d) else x.to_dict()
                for x in self.layers]

    def hash(self) -> str:
        return spec_digest(self.to_dict())

    def __str__(self) -> str:
        return f"{self.title} ({self.cli_args()})"
