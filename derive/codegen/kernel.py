"""Code generation: one standalone NumPy module per model family, printed from proven forms.

``generate_kernel_source(spec)`` returns the source of a module with ``forward(params, x)``,
``loss(params, x, y)`` and ``gradients(params, x, y)`` for every model of ``spec``'s family (same depth,
activations, cost, reduction, layout and biases; any widths). It is printed, not written by hand:

* the **element-wise pieces** (activations, sigma' from the forward value, the cost term, dC/da, the fused
  bce and cce forms) come from :mod:`derive.functions.stable`, which proves each one equal to the derived form, and
  are printed by :mod:`derive.codegen.elementwise`;
* the **layer structure** (Z, A, the pre-scaled errors E, the gradients) comes from :mod:`derive.backprop.batch`:
  every line is one proven matrix expression, printed by :mod:`derive.codegen.model_lines`;
* the **argument checks** are the template ``templates/validation.py`` (:mod:`derive.codegen.validation`).

This module assembles them with a header. The source is deterministic: same family and SymPy version, same bytes
(no timestamps, no measured numbers). It is ASCII and needs NumPy only. This module does not verify the kernel
against the hand-written backprop; ``bpv kernels`` does that before writing (:mod:`derive.cli.commands.kernels`).
"""

from __future__ import annotations

import hashlib
import re
import textwrap

import sympy as sp

from derive import __version__ as BPV_VERSION
from derive.backprop.batch import CAP, BatchForms, derive_batch_forms
from derive.backprop.model import block_derivations
from derive.backprop.model_functions import model_function_derivations
from derive.codegen.blocks import BlockLines, update_lines
from derive.codegen.elementwise import SOFTMAX_PIECES, inlined, piece_source, softmax_source
from derive.codegen.folded import VECTOR_TANH_SOURCE, Folded, dispatches, folded_forms, folded_source
from derive.codegen.model_lines import ModelLines
from derive.codegen.validation import validation_source
from derive.codegen.workspace import workspace_source
from derive.core.steps import Derivation
from derive.functions.stable import StableForms, derive_stable_forms, lse, piece_name
from numeric.spec import ModelSpec

__all__ = ["ascii_source", "derivation_hash", "elementwise_section", "generate_kernel_source", "kernel_name",
           "section_rule"]

VERIFY_BOUNDS = ("block-relative error <= 1e-12 against numeric.backprop (forward, loss, gradients) and against "
                 "complex step; central differences with Richardson extrapolation within their own error estimate "
                 "(numeric.gradcheck, full mode)")


def kernel_name(spec: ModelSpec) -> str:
    """The module name: the catalog name, or one built from the spec (a valid identifier)."""
    return spec.slug


def derivation_hash(spec: ModelSpec) -> str:
    """Digest of every derivation the kernel is printed from (batch forms, stable forms, model functions, blocks,
    update rules)."""
    if getattr(spec, "kind", "dense") != "dense":  # convolution, recurrence: the hash of their whole derivation
        from derive.backprop.model import derive_model

        return derive_model(spec).hash()
    h = hashlib.sha256()
    plain = spec.plain_family()
    parts = [derive_batch_forms(plain).derivation, derive_stable_forms(plain).derivation, folded_forms(plain)[1],
             *model_function_derivations(plain), *block_derivations(spec)]
    for d in parts:
        h.update(d.hash().encode())
    return h.hexdigest()[:16]


def _blocks_text(spec: ModelSpec) -> list[str]:
    """The header lines that say which blocks the family has, with their constants."""
    out = []
    norm = next((layer.norm for layer in spec.layers if layer.norm is not None), None)
    if norm is not None:
        out.append(f"             {norm.kind} on every hidden layer (training mode: the statistics of the batch "
                   f"given, eps = {norm.eps:g});")
    if spec.keep_prob is not None:
        out.append(f"             inverted dropout after every hidden activation, keep probability "
                   f"{spec.keep_prob:g} (masks=);")
    if spec.penalty is not None:
        n = "the batch size" if spec.penalty.n is None else str(spec.penalty.n)
        out.append(f"             L2 term (lambda / 2n) sum w^2 with lambda = {spec.penalty.lam:g}, n = {n} "
                   "(l2=, l2_n=).")
    return out


def _header(spec: ModelSpec, forms: BatchForms, stable: StableForms, folded: Derivation,
            blocks: list[Derivation]) -> str:
    acts = ",".join(str(a) for a in spec.activations)
    lines = [
        f"Generated NumPy kernel for the model family of {spec.title} (any widths).",
        "",
        f"Family:      {spec.L} layers; activations {acts}; cost {spec.cost}; {spec.reduction} over the batch;",
        f"             samples as {spec.layout}; {'with' if spec.bias else 'no'} biases.",
        *_blocks_text(spec),
        f"Generated:   by bpv {BPV_VERSION} with SymPy {sp.__version__} from `bpv kernels "
        + (spec.name if spec.name else spec.cli_args()) + "`.",
        f"Derivation:  {derivation_hash(spec)} (hash of the batch-form, stable-form, activation, cost and",
        "             output-error derivations this module is printed from"
        + (", and of its blocks and update rules)." if not spec.plain else ", and of its update rule)."),
        "",
        "How it was verified",
        "-------------------",
        "Each layer-level line (Z, A, E, gradients) is printed from a batch form proven element-wise: evaluated",
        f"entry by entry on an instance with widths capped at {CAP} and batch m = {forms.instance['m']}, and compared"
        " with",
        "sympy.diff of the batch cost (sigma and the downstream cost undefined functions; the output error with",
        "this model's own functions). Each element-wise function is printed from a form proven equal to the",
        *textwrap.wrap(
            "derived one (the *.kernel steps, the *.folded steps and the fused costs)."
            + (" The blocks past the dense layer and sgd_step are printed from array forms proven entry by entry "
               "against sympy.diff of their definitions at small sizes (or in index form for all sizes)."
               if not spec.plain else " sgd_step is printed from the derived update rule (steps update.*).")
            + " Steps, verdicts and methods:", 110),
    ]
    for d in (forms.derivation, stable.derivation, folded, *blocks):
        for s in d.steps:
            if s.kind.unchecked:
                continue
            text = f"{s.label}: {s.verdict()}, {s.method}"
            lines.extend(textwrap.wrap(text, 108, initial_indent="  ", subsequent_indent="      "))
    lines += [
        *textwrap.wrap("Before writing this file, `bpv kernels` ran it on a random instance and compared it with "
                       "the hand-written backprop and with finite differences (" + VERIFY_BOUNDS + "); it refuses "
                       "to write a kernel that fails.", 110),
        "",
        "Needs NumPy only. Do not edit: regenerate.",
    ]
    return '"""' + "\n".join(lines).replace("\\", "/") + '\n"""\n'


def _constants(spec: ModelSpec) -> str:
    """The family constants of the blocks (a keyword of the kernel's functions overrides L2 and L2_N)."""
    out = ""
    norm = next((layer.norm for layer in spec.layers if layer.norm is not None), None)
    if norm is not None:
        out += f"#: eps of the {norm.kind} (torch's and CS231n's default)\nEPS = {norm.eps!r}\n"
    if spec.keep_prob is not None:
        out += f"#: the probability of keeping a unit (torch's p is 1 - KEEP_PROB)\nKEEP_PROB = {spec.keep_prob!r}\n"
    if spec.penalty is not None:
        out += (f"#: lambda and n of the L2 term (lambda / 2n) sum w^2 (n = None: the batch size)\n"
                f"L2 = {spec.penalty.lam!r}\nL2_N = {spec.penalty.n!r}\n")
    return out


def _preamble(spec: ModelSpec) -> str:
    names = ["FAMILY", "KEYS", "LAYERS", "REUSE_WORKSPACE", "WORKSPACE_SLOTS", "clear_workspace", "forward",
             "gradients", "loss", "sgd_step"]
    if spec.dropout_layers():
        names.append("MASKS")
    listed = textwrap.fill(", ".join(f'"{n}"' for n in sorted(names)) + ",", 110, initial_indent="    ",
                           subsequent_indent="    ")
    return ("from __future__ import annotations\n\nimport threading\n\nimport numpy as np\n\n"
            f"__all__ = [\n{listed}\n]\n\n"
            f"#: What this kernel serves: every width of this family.\nFAMILY = {spec.family_key()!r}\n"
            f"LAYERS = {spec.L}\n" + _constants(spec))


def _sgd_step(spec: ModelSpec) -> list[str]:
    """``sgd_step`` of a dense kernel: w -> w - eta dC/dw, b -> b - eta dC/db (steps update.*)."""
    return ["def sgd_step(params, x, y, eta):",
            '    """One step of gradient descent on the batch (x, y): the parameters after it, as fresh arrays.',
            "",
            "    Printed from the derived update rule (steps update.*): theta -> theta - eta dC/dtheta.",
            '    """',
            "    grads = gradients(params, x, y)",
            "    return {", *update_lines(spec, "grads"), "    }"]


def _rule(title: str, width: int = 110) -> str:
    """A section comment, ruled to column ``width``."""
    text = f"# ----- {title} "
    return "\n\n" + text + "-" * (width - len(text)) + "\n"


def _elementwise(spec: ModelSpec, stable: StableForms, folded: dict[str, Folded]) -> list[str]:
    """Every element-wise function the kernel calls; the identity is inlined (A = Z, no factor 1), the softmax
    pieces are printed inside the shifted softmax, a forward form that folds is printed folded."""
    parts = ["\n\n" + (folded_source(folded[key], piece) if key in folded else piece_source(piece))
             for key, piece in stable.pieces.items() if key not in SOFTMAX_PIECES and not inlined(piece)]
    if any(key in folded and dispatches(piece) for key, piece in stable.pieces.items()):
        parts.insert(0, "\n" + VECTOR_TANH_SOURCE)
    out = spec.layers[-1].act
    if not out.entry.elementwise:
        lse_needed = lse in stable.pieces["cost_term"].args
        parts.append("\n" + softmax_source(piece_name(out), spec.layout.batch(0, 1).index(0), stable,
                                           lse=lse_needed, vjp="cost_da" in stable.pieces))
    return parts


def elementwise_section(family: ModelSpec) -> tuple[str, StableForms, Derivation]:
    """The element-wise functions of a kernel for ``family``'s activations and cost (printed exactly as a dense
    kernel prints them, from the proven stable and exp-folded forms), with the two derivations they come from.

    For the kernels that print their own layers (convolution, recurrence): ``family`` is a dense stand-in with
    their activations, cost, reduction and layout. ValueError when a form does not hold."""
    stable = derive_stable_forms(family)
    folded, folded_derivation = folded_forms(family)
    bad = [s.label for s in stable.derivation.failures() + folded_derivation.failures()]
    if bad:
        raise ValueError(f"cannot print element-wise functions from forms that do not hold: {', '.join(bad)}")
    return "".join(_elementwise(family, stable, folded)), stable, folded_derivation


def section_rule(title: str, width: int = 110) -> str:
    """A section comment of a generated kernel, ruled to column ``width``."""
    return _rule(title, width)


def ascii_source(source: str) -> str:
    """``source`` unchanged if it is ASCII; ValueError showing where it is not."""
    return _ascii(source)


def _ascii(source: str) -> str:
    try:
        source.encode("ascii")
    except UnicodeEncodeError as err:
        raise ValueError(f"generated source is not ASCII at {err.start}: {source[err.start - 40:err.end + 40]!r}"
                         ) from None
    return source


def generate_kernel_source(spec: ModelSpec) -> str:
    """The source of the kernel module for ``spec``'s family (deterministic, ASCII, NumPy only)."""
    kind = getattr(spec, "kind", "dense")
    if kind == "conv":
        from derive.codegen.conv_kernel import generate_conv_kernel_source

        return generate_conv_kernel_source(spec)
    if kind == "rnn":
        from derive.codegen.rnn_kernel import generate_rnn_kernel_source

        return generate_rnn_kernel_source(spec)
    plain = spec.plain_family()
    forms = derive_batch_forms(plain)
    stable = derive_stable_forms(plain)
    if not forms.holds or not stable.holds:
        bad = [s.label for s in forms.derivation.failures() + stable.derivation.failures()]
        raise ValueError(f"cannot generate a kernel from forms that do not hold: {', '.join(bad)}")
    folded, folded_derivation = folded_forms(plain)
    if not folded_derivation.holds:
        raise ValueError(f"cannot generate a kernel from folded forms that do not hold: "
                         f"{', '.join(s.label for s in folded_derivation.failures())}")
    blocks = block_derivations(spec)
    bad = [s.label for d in blocks for s in d.failures()]
    if bad:
        raise ValueError(f"cannot generate a kernel from block forms that do not hold: {', '.join(bad)}")
    model = ModelLines(spec, forms, stable) if spec.plain else BlockLines(spec, forms, stable)
    parts = [_header(spec, forms, stable, folded_derivation, blocks), _preamble(spec),
             _rule("element-wise functions, printed from the proven stable forms", 109),
             *_elementwise(plain, stable, folded),
             _rule("checking the arguments"), validation_source(spec),
             _rule("the workspace: intermediates kept between calls"), workspace_source(spec),
             _rule("the model, printed from the proven batch forms")]
    bodies = [model.forward(), model.loss(), model.gradients()]
    if isinstance(model, BlockLines):
        if spec.penalty is not None:
            bodies.append(model.data_gradients())
        bodies.append(model.sgd_step())
    else:
        bodies.append(_sgd_step(spec))
    parts += ["\n\n" + "\n".join(body) + "\n" for body in bodies]
    source = re.sub(r"\n{4,}", "\n\n\n", "".join(parts))  # two blank lines between definitions, as PEP 8
    return _ascii(source)
