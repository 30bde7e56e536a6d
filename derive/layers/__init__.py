"""Layers as objects, SymPy side: each layer's forward as an index expression, its matrix form and its TeX.

The SymPy half of :mod:`numeric.layers`, paired by ``kind`` (``numeric.layers.Dense.kind == "dense"`` is
:class:`derive.layers.dense.DenseSym`). Derivations, code generation and reports read a layer through
:func:`symbolic_layer` and never write z = W a + b themselves.

The protocol every SymPy layer follows (what :class:`~derive.layers.dense.DenseSym` provides):

* ``kind``; ``index`` (the layer l, an integer or a Symbol), its widths ``n_in``/``n_out`` (integers or Symbols);
* ``params``: one :class:`~derive.layers.dense.Param` per parameter (key ``W2``, matrix name, ``IndexedBase`` of
  its book-indexed entries, TeX), so a layer may have any number of parameters;
* ``forward(unit, previous, k)``: the pre-activation of one unit as an index expression (a ``Sum`` at symbolic
  widths); ``forward_at(previous, ...)``: every unit written out at concrete widths;
* ``batch_entry``/``batch_matrix``: the same map on a whole batch (the batch is the layer's input, so a layer that
  couples the samples fits), as the entry of a matrix and as a matrix expression;
* ``tex``: the forward as the book prints it.

Importing this package loads no SymPy: the registry is resolved on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["LAYERS", "BatchNormSym", "DenseSym", "DropoutSym", "L2Sym", "LayerNormSym", "Param", "symbolic_layer"]

#: kind -> "module:class" of the SymPy half (resolved lazily); the l2 penalty is not a layer but pairs the same way
_KINDS = {
    "dense": "derive.layers.dense:DenseSym",
    "batchnorm": "derive.layers.norm_layers:BatchNormSym",
    "layernorm": "derive.layers.norm_layers:LayerNormSym",
    "dropout": "derive.layers.dropout:DropoutSym",
    "l2": "derive.layers.penalty:L2Sym",
}

#: exported name -> the module defining it (imported on first use)
_EXPORTS = {"DenseSym": "derive.layers.dense", "Param": "derive.layers.dense",
            "BatchNormSym": "derive.layers.norm_layers", "LayerNormSym": "derive.layers.norm_layers",
            "DropoutSym": "derive.layers.dropout", "L2Sym": "derive.layers.penalty"}


def _resolve(path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def symbolic_layer(layer: Any, **options: Any) -> Any:
    """The SymPy half of a :mod:`numeric.layers` layer (same index, widths and parameters).

    ``options`` go to the class's ``of`` constructor (``widths=`` replaces the concrete widths by symbols).
    """
    try:
        cls = _resolve(_KINDS[layer.kind])
    except KeyError:
        raise ValueError(f"no SymPy half for layer kind {layer.kind!r}; known: {', '.join(_KINDS)}") from None
    return cls.of(layer, **options)


def __getattr__(name: str) -> Any:
    if name == "LAYERS":
        return {kind: _resolve(path) for kind, path in _KINDS.items()}
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'derive.layers' has no attribute {name!r}")
