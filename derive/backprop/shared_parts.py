"""The parts of the derivation of a model with shared weights: a convolutional net or a recurrent one.

A convolutional net (:class:`~numeric.conv_spec.ConvNetSpec`) has, in order:

1. **its functions** (:func:`~derive.backprop.model_functions.model_function_derivations`): each activation's
   derivative (the convolutions' and the dense layers'), the cost, δ^L;
2. **the general rule** and **the batch forms of its dense head** (the dense layers after flatten, a plain dense net
   in the rows layout: :meth:`~numeric.conv_spec.ConvNetSpec.head`);
3. **its layers**: the convolution (:func:`derive.layers.conv.derive_conv2d`, every derivative by ``sympy.diff`` of
   the written-out cost, exhaustively at stride 1 and 2, padding 0 and 1, and in index form for all sizes) and, when
   the net pools, max-pooling with its tie convention (:func:`derive.layers.pool.derive_maxpool`);
4. **end to end**, when :mod:`derive.backprop.conv_end_to_end` is present: ``sympy.diff`` of the composed cost of a
   small twin against the chained rules.

A recurrent net (:class:`~numeric.rnn_spec.RnnSpec`) has its functions (tanh, softmax, cce, δ^L) and BPTT
(:func:`derive.layers.rnn.derive_bptt`): every backward form compared with ``sympy.diff`` of the unrolled cost at
T = 3, which never goes through the recursion: that part is also the model end to end.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from derive.core.steps import Derivation
from numeric.conv import MaxPool2d
from numeric.conv_spec import ConvNetSpec
from numeric.rnn_spec import RnnSpec

__all__ = ["shared_plan"]

Plan = list[tuple[str, Callable[[], list[Derivation]]]]


def _conv_layers(spec: ConvNetSpec) -> list[Derivation]:
    from derive.layers.conv import derive_conv2d
    from derive.layers.pool import derive_maxpool

    parts = [derive_conv2d()]
    if any(isinstance(x, MaxPool2d) for x in spec.layers):
        parts.append(derive_maxpool())
    return parts


def shared_plan(spec: ConvNetSpec | RnnSpec) -> Plan:
    """The parts of ``spec``'s derivation (module doc), each a name and how to make it."""
    from derive.backprop.model import batch_forms_part
    from derive.backprop.model_functions import model_function_derivations

    if isinstance(spec, RnnSpec):
        from derive.layers.rnn import derive_bptt

        return [("model functions", lambda: model_function_derivations(spec)),
                ("layers", lambda: [derive_bptt()])]
    from derive.backprop.general_rule import derive_general_rule

    plan: Plan = [
        ("model functions", lambda: model_function_derivations(spec)),
        ("general rule", lambda: [derive_general_rule()]),
        ("batch forms", lambda: [batch_forms_part(spec.head())]),
        ("layers", lambda: _conv_layers(spec)),
    ]
    if importlib.util.find_spec("derive.backprop.conv_end_to_end") is not None:
        from derive.backprop import conv_end_to_end

        plan.append(("end to end", lambda: [conv_end_to_end.derive_conv_end_to_end(spec)]))
    return plan
