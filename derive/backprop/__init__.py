"""derive.backprop: the backprop derivations, each established by its own method.

Modules, by idea:

* :mod:`~derive.backprop.output_delta` — δ^L for an (output activation, cost) pair;
* :mod:`~derive.backprop.general_rule` — BP1-BP4 for every width, in index form (the chain rule the one axiom);
* :mod:`~derive.backprop.fixed_width` — BP1-BP4 at small widths by SymPy's own chain rule (no axiom);
* :mod:`~derive.backprop.batch` — the batch (matrix) forms, from :mod:`~derive.backprop.batch_nodes` (matrix nodes),
  :mod:`~derive.backprop.batch_names` (names and their layer indices), :mod:`~derive.backprop.batch_textbook`
  (the forms as the book writes them), :mod:`~derive.backprop.batch_index` (derived in index form) and
  :mod:`~derive.backprop.batch_check` (checked element-wise);
* :mod:`~derive.backprop.compose` / :mod:`~derive.backprop.end_to_end` — the composed cost C(θ) and ``sympy.diff`` of
  it against the BP value;
* :mod:`~derive.backprop.model` / :mod:`~derive.backprop.model_functions` — a whole model's derivation;
* :mod:`~derive.backprop.sums` — the index-form rewrite two of them share.

Every layer's forward is read from :mod:`derive.layers`. Public names are imported on first use (no SymPy at import).
"""

from __future__ import annotations

from numeric.lazy import lazy_exports

_LAZY = {
    "BatchForms": "derive.backprop.batch",
    "derive_batch_forms": "derive.backprop.batch",
    "ComposedModel": "derive.backprop.compose",
    "compose_model": "derive.backprop.compose",
    "derive_end_to_end": "derive.backprop.end_to_end",
    "derive_fixed_width": "derive.backprop.fixed_width",
    "derive_general_rule": "derive.backprop.general_rule",
    "ModelDerivation": "derive.backprop.model",
    "derive_model": "derive.backprop.model",
    "model_function_derivations": "derive.backprop.model_functions",
    "OutputDelta": "derive.backprop.output_delta",
    "derive_output_delta": "derive.backprop.output_delta",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

__all__ = sorted(_LAZY)


