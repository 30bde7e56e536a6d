"""The layer-level lines of a kernel (``forward``, ``loss``, ``gradients``), printed from the proven batch forms.

Every line is one matrix expression of :mod:`derive.backprop.batch` (Z, A, the pre-scaled errors E, the gradients),
printed by :class:`~derive.codegen.printer.KernelPrinter` as matrix products, Hadamard products and sums over the
batch, so a 784-wide layer is one GEMM. Names and layer indices come from ``spec.layers`` and the forms' own
:class:`~derive.backprop.batch.Names`; the cost line is printed from the cost piece's own arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.backprop.batch import BatchForms
from derive.codegen.elementwise import inlined
from derive.codegen.folded import fold_activation
from derive.codegen.inplace import UFUNCS
from derive.codegen.printer import KernelPrinter, LayerFunctions, MatrixNames
from derive.functions.stable import StableForms, a, lse, n_units, piece_name, stable_activation, y, z
from numeric.functions import TargetKind
from numeric.spec import ActSpec, ModelSpec

__all__ = ["ModelLines", "layer_functions", "matrix_names", "overwrites_input"]


def overwrites_input(act: ActSpec) -> bool:
    """True when a hidden layer's A^l may be written into Z^l's own array: the derivative piece reads only the
    forward value a (never z), and the forward piece reads z only before it first writes ``out`` (an exp-folded
    form, whose numerator and denominator are functions of u and the mask alone, or one ufunc of z). One array
    less per layer keeps the element-wise passes in cache."""
    if not act.entry.elementwise:
        return False
    fwd, prime, _ = stable_activation(act)
    if z in prime.expr.free_symbols or inlined(fwd):
        return False
    if fold_activation(act) is not None:
        return True
    return type(fwd.expr) in UFUNCS and fwd.expr.args == (z,)


def layer_functions(act: ActSpec) -> LayerFunctions:
    """The kernel functions of one activation: its stable pieces, or the softmax and its J^T g."""
    if not act.entry.elementwise:
        name = piece_name(act)
        return LayerFunctions(name, None, f"{name}_vjp")
    fwd, prime, _ = stable_activation(act)
    folded = fold_activation(act)
    return LayerFunctions(None if inlined(fwd) else fwd.name, None if inlined(prime) else prime.name,
                          forward_scratch=folded is not None)


def matrix_names(spec: ModelSpec, forms: BatchForms, stable: StableForms) -> MatrixNames:
    """Kernel names for the forms' matrices: ``W^{l}`` is the layer's own parameter key, Z^l, A^l, E^l are
    ``Z{l}``, ``A{l}``, ``E{l}``."""
    N = forms.names
    names: dict[sp.MatrixSymbol, str] = {N.A(0): "A0", N.Y(spec.L): "Y"}
    layer: dict[sp.MatrixSymbol, int] = {}
    outputs: dict[int, sp.MatrixSymbol] = {}
    functions: dict[int, LayerFunctions] = {}
    for dense in spec.layers:
        l = dense.index
        names[N.W(l)] = dense.W
        if dense.bias:
            names[N.b(l)] = dense.b
        names.update({N.Z(l): f"Z{l}", N.A(l): f"A{l}", N.E(l): f"E{l}"})
        layer[N.Z(l)] = layer[N.A(l)] = l
        outputs[l] = N.A(l)
        functions[l] = layer_functions(dense.act)
    cost_da = stable.pieces.get("cost_da")
    extra = ("n_out",) if cost_da is not None and cost_da.expr.has(n_units) else ()
    return MatrixNames(names, layer, outputs, functions, spec.layout.sample_axis,
                       cost_da.name if cost_da is not None else "", extra)


def _shape(pair: tuple[str, str]) -> str:
    return f"({pair[0]}, {pair[1]})"


@dataclass
class ModelLines:
    """Prints the three public functions of one kernel."""

    spec: ModelSpec
    forms: BatchForms
    stable: StableForms

    def __post_init__(self) -> None:
        self.matrices = matrix_names(self.spec, self.forms, self.stable)
        self.printer = KernelPrinter({"fully_qualified_modules": True}, self.matrices)
        layout = self.spec.layout
        self.unit_axis = layout.batch(0, 1).index(0)
        self.shape_x, self.shape_y = _shape(layout.batch("n_0", "m")), _shape(layout.batch("n_L", "m"))

    def name(self, matrix: sp.MatrixSymbol) -> str:
        return self.matrices.names[matrix]

    def code(self, expr) -> str:
        return self.printer.doprint(expr)

    @property
    def output(self) -> int:
        return self.spec.layers[-1].index

    def unpack(self) -> str:
        keys = self.spec.param_names()
        return ", ".join(keys) + (" = _parameters(params)" if len(keys) > 1 else ", = _parameters(params)")

    def inputs(self) -> str:
        """The checked input batch A^0; its feature count is checked against the first layer's weights."""
        return f"    {self.name(self.forms.names.A(0))} = _inputs(x, {self.spec.layers[0].W})"

    def setup(self) -> list[str]:
        """The working dtype (every array the call makes has it: float32 in, float32 out), the batch size and
        the workspace of this dtype and these shapes."""
        spec, A0 = self.spec, self.name(self.forms.names.A(0))
        widths = ", ".join(f"{dense.W}.shape[{self.unit_axis}]" for dense in spec.layers)
        return [f"    dtype = np.result_type({', '.join(spec.param_names())}, {A0})",
                f"    m = {A0}.shape[{spec.layout.sample_axis}]",
                f"    ws = _workspace(dtype, m, ({widths}{',' if spec.L == 1 else ''}))"]

    @staticmethod
    def buffer(quantity: str, l: int) -> str:
        """The workspace array of a quantity (Z, A, E, S: scratch) of layer l."""
        return f'ws["{quantity}", {l}]'

    def forward_lines(self, upto_z: bool = False, fresh_output: bool = False) -> list[str]:
        """Z^l and A^l of every layer, in the workspace (the output layer's A^l left out with ``upto_z``; the
        output layer's Z^L and A^L fresh arrays with ``fresh_output``, for forward to return)."""
        N, lines = self.forms.names, []
        for dense in self.spec.layers:
            l, forms = dense.index, self.forms.layers[dense.index]
            fresh = fresh_output and l == self.output
            lines += self.printer.assign(forms.Z, self.name(N.Z(l)), None if fresh else self.buffer("Z", l))
            if upto_z and l == self.output:
                break
            # the forward mask of an exp-folded form in E^l's array: E^l is first written after the forward pass
            into = self.buffer("A", l)
            if l != self.output and overwrites_input(dense.act):
                into = self.buffer("Z", l)
                lines.append(f"    # A{l} overwrites Z{l}: no later line reads Z{l} (the derivative is computed "
                             f"from A{l})")
            lines += self.printer.assign(forms.A, self.name(N.A(l)), None if fresh else into,
                                         None if fresh else self.buffer("S", l),
                                         None if fresh else self.buffer("E", l))
        return lines

    def cost_piece_needs_a(self) -> bool:
        return a in self.stable.pieces["cost_term"].args

    def cost_lines(self) -> list[str]:
        """The per-unit costs, from the cost piece: its arguments say what it is computed from (a fused cost
        from Z^L, possibly with the log-sum-exp; any other from A^L)."""
        piece, N, L = self.stable.pieces["cost_term"], self.forms.names, self.output
        Z, A = self.name(N.Z(L)), self.name(N.A(L))
        values = {z: Z, a: A, y: "Y", lse: f"log_sum_exp({Z})"}
        args = [values[s] for s in piece.args]
        if piece.expr.has(n_units):
            args.append(f"n_out=Y.shape[{self.unit_axis}]")
        return [f"    cost = {piece.name}({', '.join(args)}, out={self.buffer('S', L)})"]

    def forward(self) -> list[str]:
        return ["def forward(params, x):",
                f'    """a^L for a batch x {self.shape_x}: returns a fresh array {self.shape_y}."""',
                f"    {self.unpack()}",
                self.inputs(),
                *self.setup(),
                *self.forward_lines(fresh_output=True),
                f"    return {self.name(self.forms.names.A(self.output))}"]

    def _prologue(self, name: str, summary: str) -> list[str]:
        """loss and gradients open the same way: unpack and check the arguments, batch size, targets."""
        spec = self.spec
        labels = "; integer class labels of length m also work" if spec.cost_entry.target is TargetKind.CLASSES else ""
        W_L = spec.layers[-1].W
        return [f"def {name}(params, x, y):", f'    """{summary}', "",
                f"    x is {self.shape_x}, y is {self.shape_y}{labels}.", '    """', f"    {self.unpack()}",
                self.inputs(), *self.setup(),
                f"    Y = _targets(y, m, {W_L}.shape[{self.unit_axis}], dtype)"]

    def loss(self) -> list[str]:
        reduce = "np.sum(cost) / m" if self.forms.scale != 1 else "np.sum(cost)"  # the mean: s = 1/m
        return [*self._prologue("loss", f"The {self.spec.reduction} over the batch of the per-sample "
                                        f"{self.spec.cost} costs."),
                *self.forward_lines(upto_z=not self.cost_piece_needs_a()),
                *self.cost_lines(),
                f"    return ({reduce}).item()"]

    def gradients(self) -> list[str]:
        N, L = self.forms.names, self.output
        body = [*self._prologue("gradients", "dC/dW^l and dC/db^l of every layer, as a dict with the keys of params "
                                             "(fresh arrays, of the working dtype)."),
                *self.forward_lines()]
        if self.matrices.cost_gradient_args:
            body.append(f"    n_out = Y.shape[{self.unit_axis}]")
        if self.forms.scale != 1:
            body.append(f"    # errors pre-scaled by 1/m (steps code.E1..code.E{L}): the gradients sum, never average")
        else:
            body.append(f"    # errors (steps batch.Delta1..batch.Delta{L}); the cost is summed, so are the gradients")
        for dense in reversed(self.spec.layers):
            l = dense.index
            body += self.printer.assign(self.forms.layers[l].E, self.name(N.E(l)), self.buffer("E", l),
                                        self.buffer("S", l))
        body.append("    return {")
        for dense in self.spec.layers:
            forms = self.forms.layers[dense.index]
            body.append(f'        "{dense.W}": {self.code(forms.code_W)},')
            if dense.bias:
                body.append(f'        "{dense.b}": {self.code(forms.code_b)},')
        body.append("    }")
        return body
