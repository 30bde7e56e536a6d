"""The steps of a shared-weight model's derivation as its chapter shows them: found by label, printed readably.

Two jobs, both about *reading* :func:`derive.backprop.model.derive_model`'s parts, never about deriving:

* :func:`printable` copies a derivation with its symbols renamed for the page: the code names of the RNN's
  parameters (``Whh``) become the book's (W_hh, as the forward's own matrices are named), ``Xp`` (the padded input)
  becomes X_p, and an indexed array whose name already carries a script (``G_s``, ``G_s^pad``) is put in
  parentheses, so that its indices do not make a double subscript: (G_s)_{noae}. The expressions are otherwise the
  derived ones (``xreplace`` of names only; nothing is evaluated).
* :data:`CONV_KEY_STEPS`, :data:`POOL_KEY_STEPS` and :func:`rnn_key_steps` name the steps a reader should take
  away (dK as a correlation, db as a sum, dX as the full convolution with the flipped kernel, the pooling tie
  convention; BPTT's dh_t, da_t and dW_hh), each with a sentence saying why it has that shape. The equation and
  its check are the derivation's; the sentence is explanation only.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import sympy as sp

from derive.core.proof import Strength
from derive.core.steps import Derivation, Step

__all__ = ["CONV_KEY_STEPS", "DISPLAY_NAMES", "POOL_KEY_STEPS", "KeyStep", "find_part", "find_step", "printable",
           "rnn_key_steps", "rnn_steps_derived", "strength_words"]

#: code names -> the names the page prints (the RNN's parameters as its forward writes them; the padded input)
DISPLAY_NAMES = {"Whh": "W_hh", "Wxh": "W_xh", "Why": "W_hy", "bh": "b_h", "by": "b_y", "Xp": "X_p"}

_SCRIPTED = re.compile(r"([A-Za-z]+)(?:_([A-Za-z0-9]+))?(?:\^([A-Za-z0-9]+))?")


def _braced(name: str) -> str:
    """``G_s`` -> ``(G_{s})``, ``G_s^pad`` -> ``(G_{s}^{\\mathrm{pad}})``: a name with scripts in parentheses, so
    that an entry reads (G_s)_{noae}, the entry noae of the array G_s (braces alone run the scripts together)."""
    m = _SCRIPTED.fullmatch(name)
    if m is None:
        return name
    base, sub, sup = m.groups()
    out = base + (f"_{{{sub}}}" if sub else "")
    if sup:
        out += f"^{{\\mathrm{{{sup}}}}}" if len(sup) > 1 else f"^{{{sup}}}"
    return f"({out})"


def _renamed(expr: sp.Basic) -> sp.Basic:
    if not isinstance(expr, sp.Basic):
        return expr
    table: dict[sp.Basic, sp.Basic] = {}
    for base in expr.atoms(sp.IndexedBase):
        name = DISPLAY_NAMES.get(base.label.name, base.label.name)
        if "_" in name or "^" in name:
            table[base] = sp.IndexedBase(_braced(name))
    for m in expr.atoms(sp.MatrixSymbol):
        name = m.name if isinstance(m.name, str) else str(m.name)
        if name in DISPLAY_NAMES:
            table[m] = sp.MatrixSymbol(DISPLAY_NAMES[name], *m.shape)
    return expr.xreplace(table) if table else expr


def printable(d: Derivation) -> Derivation:
    """A copy of ``d`` whose steps print readably (module doc); checks, kinds and labels are unchanged."""
    steps = [dataclasses.replace(s, lhs=_renamed(s.lhs), rhs=_renamed(s.rhs)) for s in d.steps]
    return dataclasses.replace(d, steps=steps)


def find_part(parts: list[Derivation] | None, subject: str) -> Derivation | None:
    """The part of derive_model about ``subject`` (``conv2d``, ``maxpool2d``, ``rnn``), or None."""
    return next((d for d in parts or [] if d.subject == subject), None)


def find_step(d: Derivation | None, label: str) -> Step | None:
    if d is None:
        return None
    return next((s for s in d.steps if s.label == label), None)


def strength_words(step: Step) -> str:
    """How strongly the step was established, in words for its heading."""
    if step.kind.unchecked:
        return step.kind.value
    if step.holds is not True:
        return "does not hold" if step.holds is False else "undecided"
    strength = step.check.strength if step.check is not None else None
    return {Strength.SYMBOLIC: "proved symbolically", Strength.EXACT: "proved in exact arithmetic",
            Strength.NUMERIC: "numerical evidence"}.get(strength, "checked")


@dataclass(frozen=True)
class KeyStep:
    """A step to show prominently: its label in the derivation, a heading and a sentence of explanation.

    ``why`` is TeX written here: words and single symbols only; every formula is the step's own equation.
    """

    label: str
    title: str
    why: str


CONV_KEY_STEPS = (
    KeyStep("conv.dK.correlate", "The kernel gradient is a correlation",
            r"A kernel entry $K_{ocuv}$ multiplies, in every window, the input entry at offset $(u, v)$ of that "
            r"window, so its gradient collects $G$ times that entry over all windows: the padded input $X_p$ "
            r"correlated with $G$. With stride $s$ the windows are $s$ apart, so $G$ is first spread out by "
            r"$s - 1$ zeros between its entries ($G_s$)."),
    KeyStep("conv.db.sum", "The bias gradient is a sum",
            r"One bias per output channel is added at every position of that channel, so its gradient is $G$ "
            r"summed over the samples and all positions."),
    KeyStep("conv.dX.full", "The input gradient is a full convolution with the flipped kernel",
            r"An input entry is read by every window that covers it, each time through the kernel entry at the "
            r"opposite offset. Collecting those terms slides the kernel rotated by 180 degrees over $G_s$ padded "
            r"by $k - 1$ zeros ($G_s^{\mathrm{pad}}$): a \emph{full} convolution. Its $p$ border rows and columns "
            r"belong to the zero padding and are cropped."),
)

POOL_KEY_STEPS = (
    KeyStep("pool.dX.ties", "Max-pooling at a tie: a convention",
            r"The maximum has no derivative where two entries of a window tie. As torch does, the \emph{first} "
            r"maximum in row-major order gets all of $G$ and the others nothing; wherever the maximum is unique "
            r"this is the derivative (the check below)."),
    KeyStep("pool.dX.route", "Max-pooling routes the gradient",
            r"Only the winning entry of each window reaches the output, so each window's $G$ goes back to its "
            r"first maximum and every other entry of the window gets 0."),
)


def rnn_steps_derived(d: Derivation | None) -> int:
    """The T of the unrolled derivation: the largest t with a step ``rnn.dz<t>`` (0 if none)."""
    found = [int(m.group(1)) for s in (d.steps if d is not None else [])
             if (m := re.fullmatch(r"rnn\.dz(\d+)", s.label))]
    return max(found, default=0)


def rnn_key_steps(d: Derivation | None) -> tuple[KeyStep, ...]:
    """BPTT's key steps at the derivation's own T: dh_t one step before the end (it has the dh_next term)."""
    T = rnn_steps_derived(d)
    if T == 0:
        return ()
    t = max(T - 1, 1)
    return (
        KeyStep(f"rnn.dh{t}", "The state gradient has two parts: backpropagation through time",
                r"The state $h_t$ feeds the output of its own step and the next step's pre-activation $a_{t+1}$, "
                r"so its gradient adds both: one term through $W_{hy}$ from the output, and the \emph{dh\_next} "
                r"term through $W_{hh}$, carried back in time from step $t + 1$ "
                f"(shown at $t = {t}$; at the last step there is no next step and only the first term remains)."),
        KeyStep(f"rnn.da{t}", "Through tanh, entry by entry",
                r"The state is $\tanh$ of the pre-activation entry by entry, so the state gradient is multiplied "
                r"entry by entry by the derivative of $\tanh$ at $a_t$ (derived from its definition in the "
                r"step-by-step derivation)."),
        KeyStep("rnn.dWhh", "A shared weight sums over time",
                r"The same $W_{hh}$ is used at every step, so its gradient is the sum over $t$ of each step's "
                r"contribution: $da_t$ times the state it multiplied, $h_{t-1}$ (not $h_t$)."),
    )
