"""The spec of a vanilla recurrent network unrolled over T steps: ``--rnn 5-8-5 --steps 4``.

``--rnn V-H-V``: a vocabulary of V tokens in, H tanh hidden units, the same V tokens out (the next-token
prediction of min-char-rnn; the layer is :class:`numeric.rnn.RNN`). ``--steps T`` is the length of the sequences a
check or a report instantiates (the kernel and the reference take any T). Parameters carry min-char-rnn's names
``Wxh, Whh, bh, Why, by`` (docs/conventions.md § Recurrence records the exception to W1..WL); the columns layout;
``x`` and ``y`` are integer token arrays of shape (T, m); the cost is softmax + cross-entropy summed over time and
averaged over the m sequences.

>>> RnnSpec.build("5-8-5", 4).param_shapes()["Whh"]
(8, 8)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from numeric.errors import SpecError
from numeric.functions import ACTIVATIONS, COSTS, Activation, Cost
from numeric.limits import MAX_UNITS, spec_digest
from numeric.rnn import RNN
from numeric.spec import ActSpec, Layout

__all__ = ["MAX_STEPS", "RnnSpec", "parse_rnn"]

#: longer unrolls are refused: checks and reports instantiate the whole unrolled graph
MAX_STEPS = 200


def parse_rnn(text: str) -> tuple[int, int]:
    """``(vocab, hidden)`` from ``--rnn V-H-V`` text."""
    text = str(text).strip()
    if re.search(r"\d{10,}", text):
        raise SpecError(f"--rnn {text[:40]!r}...: a number of 10 or more digits; sizes are at most {MAX_UNITS:,}")
    if not re.fullmatch(r"\d+-\d+-\d+", text):
        raise SpecError(f"--rnn {text!r} is not V-H-V (vocabulary, hidden units, vocabulary), e.g. 5-8-5")
    v_in, hidden, v_out = (int(t) for t in text.split("-"))
    if v_in != v_out:
        raise SpecError(f"--rnn {text!r}: the output vocabulary ({v_out}) must be the input's ({v_in}): the net "
                        f"predicts the next token; write {v_in}-{hidden}-{v_in}")
    if v_in < 2 or hidden < 1:
        raise SpecError(f"--rnn {text!r}: the vocabulary needs at least 2 tokens and the hidden layer 1 unit")
    return v_in, hidden


@dataclass(frozen=True)
class RnnSpec:
    """A vanilla RNN over ``vocab`` tokens with ``hidden`` units, instantiated at ``steps`` time steps."""

    vocab: int
    hidden: int
    steps: int
    name: str | None = None
    description: str = field(default="", compare=False)

    kind = "rnn"
    layout = Layout.COLUMNS
    cost = "cce"
    reduction = "mean"
    penalty = None
    plain = False

    @classmethod
    def build(cls, net: str, steps: int, name: str | None = None, description: str = "") -> RnnSpec:
        vocab, hidden = parse_rnn(net)
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
            raise SpecError(f"--steps must be an integer from 1 to {MAX_STEPS}, got {steps!r}")
        return cls(vocab, hidden, steps, name, description)

    @property
    def cell(self) -> RNN:
        """The layer (:class:`numeric.rnn.RNN`): the NumPy reference forward and BPTT."""
        return RNN(self.vocab, self.hidden)

    @property
    def layers(self) -> tuple[RNN]:
        return (self.cell,)

    @property
    def activations(self) -> tuple[ActSpec, ActSpec]:
        """tanh on the hidden state, softmax on the output (what the cell computes; not a flag)."""
        return (ActSpec("tanh"), ActSpec("softmax"))

    @property
    def output_activation(self) -> Activation:
        return ACTIVATIONS["softmax"]

    @property
    def cost_entry(self) -> Cost:
        return COSTS[self.cost]

    @property
    def L(self) -> int:
        return 1

    def param_names(self) -> list[str]:
        return self.cell.param_names()

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return self.cell.param_shapes()

    @property
    def n_params(self) -> int:
        return self.cell.n_params

    def x_shape(self, m: int) -> tuple[int, int]:
        return (self.steps, m)

    y_shape = x_shape

    def zero_gradient_blocks(self) -> list[str]:
        return []

    def dropout_layers(self) -> list:
        return []

    @property
    def net(self) -> str:
        return f"{self.vocab}-{self.hidden}-{self.vocab}"

    def cli_args(self) -> str:
        return f"--rnn {self.net} --steps {self.steps}"

    @property
    def title(self) -> str:
        return self.name or f"RNN {self.net}, T = {self.steps}"

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_]+", "_", self.name) if self.name else f"rnn_{self.vocab}_{self.hidden}_" \
                                                                          f"T{self.steps}"

    def family_key(self) -> str:
        """A kernel serves every vocabulary, width and T."""
        return "rnn;act=tanh;out=softmax;cost=cce;red=mean;layout=columns"

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "net": self.net, "steps": self.steps}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RnnSpec:
        return cls.build(d["net"], int(d["steps"]), d.get("name"))

    def layers_dict(self) -> list[dict]:
        return [{**self.cell.to_dict(), "steps": self.steps}]

    def hash(self) -> str:
        return spec_digest(self.to_dict())

    def __str__(self) -> str:
        return f"{self.title} ({self.cli_args()})"
