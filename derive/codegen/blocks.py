"""Kernels past the dense layer: normalisation, dropout and L2 lines printed from their proven array forms.

A model with ``--norm``, ``--keep-prob`` or ``--l2`` is the dense net of its family with blocks inserted in every
hidden layer (affine -> norm -> activation -> dropout) and a term added to the cost. Its kernel is printed from two
kinds of proven forms:

* the **dense skeleton** — Z^l = W^l A^{l-1} + b^l, the activation, the output error E^L, the back-propagated
  (W^{l+1})^T E^{l+1}, the activation derivative factor, the gradients E^l (A^{l-1})^T and E^l 1 — from the batch
  forms of the plain family (:mod:`derive.backprop.batch`; each is local to its layer, so it holds whatever
  comes between two layers), printed by :class:`~derive.codegen.printer.KernelPrinter`. Where a block sits between
  Z^l and the activation, the activation's operand is the block's output U^l; where dropout follows, the
  activation's output F^l is what f' reads and A^l = F^l M^l / p what the next layer reads;
* the **blocks** — the normalisation forward and its compact backward (:mod:`derive.layers.normalisation`),
  dropout (:mod:`derive.layers.dropout`), the L2 gradient and the update rules (:mod:`derive.layers.penalty`) —
  printed from their array forms by :class:`ArrayPrinter`, the same SymPy expressions their derivations prove
  entry by entry (:func:`derive.layers.arrays.evaluate`).

The kernel's errors are pre-scaled by 1/m like the dense kernels' (E^L = (1/m)(A^L - Y) for a mean); every block
backward is linear in its incoming error, so the pre-scaling passes through it and its gradients are summed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import sympy as sp

from derive.codegen.inplace import inplace_lines, is_leaf
from derive.codegen.model_lines import ModelLines
from derive.codegen.printer import KernelPrinter, MatrixNames, is_atom
from derive.layers import arrays
from numeric.spec import ModelSpec

__all__ = ["ArrayPrinter", "BlockLines", "update_lines"]


class ArrayPrinter(KernelPrinter):
    """Prints array forms: array symbols by their kernel names, :class:`~derive.layers.arrays.StatSum` and
    :class:`~derive.layers.arrays.BatchSum` as ``np.sum(..., axis=..., keepdims=True)``."""

    def __init__(self, names: Mapping[sp.Symbol, str], *, stat_axis: int, sample_axis: int):
        super().__init__({"fully_qualified_modules": True})
        self.names, self.stat_axis, self.sample_axis = dict(names), stat_axis, sample_axis
        #: printed sum -> the variable that already holds it (a form whose value is one sum)
        self.sums: dict[str, str] = {}

    def _print_Symbol(self, expr):
        if expr in self.names:
            code = self.names[expr]
            return code if is_atom(code) else f"({code})"
        raise ValueError(f"array form symbol {expr} has no kernel name")

    _print_ArraySymbol = _print_Symbol

    def _reduce(self, expr, axis: int) -> str:
        return f"np.sum({self._print(expr.args[0])}, axis={axis}, keepdims=True)"

    def _print_StatSum(self, expr):
        return self._reduce(expr, self.stat_axis)

    def _print_BatchSum(self, expr):
        return self._reduce(expr, self.sample_axis)


#: a printed assignment longer than this is split into named common subexpressions
LINE = 110


def _lines(forms: list[tuple[sp.Symbol, sp.Expr]], printer: ArrayPrinter, indent: str = "    ",
           buffers: Mapping[sp.Symbol, str] | None = None) -> list[str]:
    """One assignment per form, the target named as the printer names it.

    A target with a workspace buffer (``buffers``) is evaluated into it with one ufunc call per operation
    (:func:`derive.codegen.inplace.inplace_lines`), its sums along an axis named first; a fresh temporary per
    operation costs more than the arithmetic on these arrays. Otherwise, a form too long for one line is printed as
    its common subexpressions (``sympy.cse``: the same expression, factored), each named after its target.
    """
    out = []
    for target, expr in forms:
        name = printer.names[target]
        if buffers and target in buffers:
            lines = _into_buffer(name, expr, printer, buffers[target])
            if lines is not None:
                out += lines
                continue
        line = f"{indent}{name} = {printer.doprint(expr)}"
        if isinstance(expr, arrays.StatSum | arrays.BatchSum):
            printer.sums[printer.doprint(expr)] = name
        if len(line) > LINE:
            parts, (reduced,) = sp.cse(expr, symbols=sp.numbered_symbols(f"{name}_"))
            printer.names.update({symbol: symbol.name for symbol, _ in parts})
            # still too long: each sum along an axis is named too (a reduction is a natural intermediate)
            sums = sorted(reduced.atoms(arrays.StatSum, arrays.BatchSum), key=sp.default_sort_key)
            named = {sub: sp.Symbol(f"{name}_sum{i}") for i, sub in enumerate(sums)}
            if len(f"{indent}{name} = {printer.doprint(reduced)}") > LINE:
                parts += [(v, k) for k, v in named.items()]
                printer.names.update({v: v.name for v in named.values()})
                reduced = reduced.xreplace(named)
            for symbol, sub in parts:
                out.append(f"{indent}{symbol.name} = {printer.doprint(sub)}")
            line = f"{indent}{name} = {printer.doprint(reduced)}"
        out.append(line)
    return out


def _into_buffer(name: str, expr: sp.Expr, printer: ArrayPrinter, buffer: str) -> list[str] | None:
    """``name`` = ``expr`` computed in ``buffer`` (None when some node has no in-place form). The target may be
    one of the operands only when the form is a product of names (each ufunc reads an element before it writes it:
    dropout's backward applied to the error in place)."""
    sums = sorted(expr.atoms(arrays.StatSum, arrays.BatchSum), key=sp.default_sort_key)
    named, lines = {}, []
    for i, sub in enumerate(sums):
        code = printer.doprint(sub)
        known = printer.sums.get(code)  # the same sum is an earlier form's value (dgamma, dbeta): reuse it
        named[sub] = sp.Symbol(known or f"{name}_sum{i}")
        if known is None:
            lines.append(f"    {named[sub].name} = {code}")
    reduced = expr.xreplace(named)
    plain = {s: sp.Symbol(printer.names[s]) for s in reduced.free_symbols if s in printer.names}
    reduced = reduced.xreplace(plain)
    reads_target = sp.Symbol(name) in reduced.free_symbols
    if reads_target and not (isinstance(reduced, sp.Mul) and all(is_leaf(f) or (
            isinstance(f, sp.Pow) and is_leaf(f.base)) for f in reduced.args)):
        return None
    body = inplace_lines(reduced, out=name)
    if body is None:
        return None
    return [*lines, *([] if reads_target else [f"    {name} = {buffer}"]), *body]


def update_lines(spec: ModelSpec, grads: str, indent: str = "        ") -> list[str]:
    """The dict entries of ``sgd_step``: each parameter moved by its update rule (steps update.*), printed from
    :func:`derive.layers.penalty.update_forms`; ``grads`` names the dict of (data) gradients."""
    from derive.layers import penalty as P

    l2 = spec.penalty is not None
    rules = dict(P.update_forms(l2))
    out = []
    for layer in spec.layers:
        for key in layer.param_names():
            weight = key == layer.W
            target = P.W if weight else P.b
            gradient = (P.nabla0_W if l2 else P.nabla_W) if weight else P.nabla_b
            names = {target: f'params["{key}"]', gradient: f'{grads}["{key}"]', P.eta: "eta", P.lam: "l2",
                     P.n_train: "n_l2"}
            printer = ArrayPrinter(names, stat_axis=0, sample_axis=0)
            out.append(f'{indent}"{key}": {printer.doprint(rules[target])},')
    return out


@dataclass
class _Hidden:
    """What one hidden layer inserts: its normalisation kind (or None) and whether dropout follows."""

    l: int
    norm: str | None
    dropout: bool


class BlockLines(ModelLines):
    """Prints ``forward``, ``loss``, ``gradients`` and ``sgd_step`` of a kernel with blocks past the dense layer.

    ``self.spec`` is the plain family (the forms' spec, for the dense lines); ``blocks`` is the model itself.
    """

    def __init__(self, blocks: ModelSpec, forms, stable):
        super().__init__(blocks.plain_family(), forms, stable)
        self.blocks = blocks
        self.hidden = {layer.index: _Hidden(layer.index, layer.norm.kind if layer.norm is not None else None,
                                            layer.dropout is not None)
                       for layer in blocks.layers if not layer.plain}
        self.act_printer = KernelPrinter({"fully_qualified_modules": True}, self._activation_names())

    def _activation_names(self) -> MatrixNames:
        """The dense names with the activation's operand U^l (after a normalisation) and its output F^l (before
        dropout): what the activation and its derivative read inside a hidden layer."""
        N = self.forms.names
        names = dict(self.matrices.names)
        for l, h in self.hidden.items():
            if h.norm is not None:
                names[N.Z(l)] = f"U{l}"
            if h.dropout:
                names[N.A(l)] = f"F{l}"
        return replace(self.matrices, names=names)

    # ----- block printers ---------------------------------------------------------------------------------------
    def _norm_printer(self, l: int, kind: str, *, incoming: str = "") -> ArrayPrinter:
        from derive.layers import norm_forms as NS

        layout = self.blocks.layout
        # the statistics' axis in the working layout: the samples (batch norm) or the units (layer norm)
        stat_axis = layout.sample_axis if NS.STAT_AXIS[kind] == 1 else 1 - layout.sample_axis
        count = "m" if NS.STAT_AXIS[kind] == 1 else f"N{l}"  # N^l = n_l, set by the forward lines
        names = {NS.z: f"Z{l}", NS.mu: f"mu{l}", NS.centred: f"centred{l}", NS.var: f"var{l}",
                 NS.inv_std: f"inv_std{l}", NS.x_hat: f"x_hat{l}", NS.y: f"U{l}", NS.gamma: f"gamma{l}",
                 NS.beta: f"beta{l}", NS.eps: "EPS", arrays.count: count, NS.dy: incoming or f"E{l}",
                 NS.dz: f"dZ{l}", NS.dgamma: f"d_gamma{l}", NS.dbeta: f"d_beta{l}"}
        return ArrayPrinter(names, stat_axis=stat_axis, sample_axis=layout.sample_axis)

    def _dropout_printer(self, l: int) -> ArrayPrinter:
        from derive.layers import dropout as D

        names = {D.a: f"F{l}", D.mask: f"M{l}", D.out: f"A{l}", D.dout: f"E{l}", D.da: f"E{l}", D.keep: "KEEP_PROB"}
        return ArrayPrinter(names, stat_axis=0, sample_axis=self.blocks.layout.sample_axis)

    def _norm_forward(self, l: int, kind: str) -> list[str]:
        from derive.layers import norm_forms as NS

        head = [f"    # {kind} of layer {l} (steps {kind}.*): the statistics of this batch"]
        if NS.STAT_AXIS[kind] == 0:  # the statistics add up the units of the layer
            head.append(f"    N{l} = Z{l}.shape[{1 - self.blocks.layout.sample_axis}]")
        buffers = {NS.centred: self.buffer("centred", l), NS.x_hat: self.buffer("x_hat", l), NS.y: self.buffer("U", l)}
        return [*head, *_lines(NS.forward_forms(kind), self._norm_printer(l, kind), buffers=buffers)]

    def _norm_backward(self, l: int, kind: str) -> list[str]:
        from derive.layers import norm_forms as NS

        return [f"    # back through the {kind} of layer {l} (the compact forms, steps {kind}.*)",
                *_lines(NS.backward_forms(kind), self._norm_printer(l, kind), buffers={NS.dz: self.buffer("dZ", l)}),
                f"    E{l} = dZ{l}"]

    def _dropout_forward(self, l: int) -> list[str]:
        from derive.layers import dropout as D

        forms = D.forward_forms()
        printer = self._dropout_printer(l)
        (target, _), = forms
        body = _lines(forms, printer, buffers={target: self.buffer("D", l)})
        return [f"    {printer.names[target]} = {printer.names[D.a]}", f"    if M{l} is not None:",
                *[f"    {line}" for line in body]]

    def _dropout_backward(self, l: int) -> list[str]:
        from derive.layers import dropout as D

        forms = D.backward_forms()
        printer = self._dropout_printer(l)
        (target, _), = forms
        body = _lines(forms, printer, buffers={target: printer.names[target]})  # in place, on the error itself
        return [f"    if M{l} is not None:", *[f"    {line}" for line in body]]

    # ----- the dense skeleton with the blocks inserted ------------------------------------------------------------
    def signature_extras(self) -> str:
        extras = []
        if self.blocks.dropout_layers():
            extras.append("masks=None")
        if self.blocks.penalty is not None:
            extras += ["l2=L2", "l2_n=L2_N"]
        return (", *, " + ", ".join(extras)) if extras else ""

    def unpack(self) -> str:
        return ", ".join(self.blocks.param_names()) + " = _parameters(params)"

    def setup(self) -> list[str]:
        lines = super().setup()
        keys = ", ".join(self.blocks.param_names())
        lines[0] = f"    dtype = np.result_type({keys}, {self.name(self.forms.names.A(0))})"
        layers = self.blocks.dropout_layers()
        if layers:
            widths = ", ".join(f"{self.blocks.layers[d.index - 1].W}.shape[{self.unit_axis}]" for d in layers)
            names = ", ".join(d.mask for d in layers)
            nones = ", ".join("None" for _ in layers)
            trailing = "," if len(layers) == 1 else ""
            lines.append(f"    {names}{trailing} = ({nones}{trailing}) if masks is None else "
                         f"_masks(masks, m, ({widths}{trailing}), dtype)")
        return lines

    def forward_lines(self, upto_z: bool = False, fresh_output: bool = False) -> list[str]:
        N, lines = self.forms.names, []
        for dense in self.spec.layers:
            l, forms = dense.index, self.forms.layers[dense.index]
            h = self.hidden.get(l)
            fresh = fresh_output and l == self.output
            lines += self.printer.assign(forms.Z, self.name(N.Z(l)), None if fresh else self.buffer("Z", l))
            if upto_z and l == self.output:
                break
            if h is not None and h.norm is not None:
                lines += self._norm_forward(l, h.norm)
            target = f"F{l}" if h is not None and h.dropout else self.name(N.A(l))
            lines += self.act_printer.assign(forms.A, target, None if fresh else self.buffer("A", l),
                                             None if fresh else self.buffer("S", l),
                                             None if fresh else self.buffer("E", l))
            if h is not None and h.dropout:
                lines += self._dropout_forward(l)
        return lines

    def _penalty(self) -> list[str]:
        """The L2 term (lambda / 2n) sum_l sum W^l * W^l: its definition (steps l2.*), n = m unless given."""
        if self.blocks.penalty is None:
            return []
        weights = " + ".join(f"np.sum({layer.W} * {layer.W})" for layer in self.spec.layers)
        return ["    n_l2 = m if l2_n is None else l2_n", f"    penalty = l2 / (2 * n_l2) * ({weights})"]

    def loss(self) -> list[str]:
        lines = super().loss()
        head, ret = lines[:-1], lines[-1]
        head[0] = head[0].replace("(params, x, y)", f"(params, x, y{self.signature_extras()})")
        if self.blocks.penalty is None:
            return [*head, ret]
        reduce = "np.sum(cost) / m" if self.forms.scale != 1 else "np.sum(cost)"
        return [*head, *self._penalty(), f"    return ({reduce} + penalty).item()"]

    def forward(self) -> list[str]:
        lines = super().forward()
        extras = ", *, masks=None" if self.blocks.dropout_layers() else ""
        lines[0] = lines[0].replace("(params, x)", f"(params, x{extras})")
        return lines

    def _backward(self) -> list[str]:
        """The errors from the output layer down, through dropout, f' and the normalisation of each hidden layer."""
        N = self.forms.names
        body = []
        for dense in reversed(self.spec.layers):
            l, E = dense.index, self.forms.layers[dense.index].E
            h = self.hidden.get(l)
            if h is None:
                body += self.act_printer.assign(E, self.name(N.E(l)), self.buffer("E", l), self.buffer("S", l))
                continue
            # E^l = ((W^{l+1})^T E^{l+1}) * f'(U^l), the product read from the dense form, the factor applied after
            # the dropout backward; then the normalisation's backward
            product = next(a for a in E.args if isinstance(a, sp.MatMul))
            factors = [a for a in E.args if a is not product]
            body += self.printer.assign(product, self.name(N.E(l)), self.buffer("E", l))
            if h.dropout:
                body += self._dropout_backward(l)
            for factor in factors:
                if not self.act_printer._inlined(factor):
                    body.append(f"    {self.name(N.E(l))} *= {self.act_printer.call(factor, self.buffer('S', l))}")
            if h.norm is not None:
                body += self._norm_backward(l, h.norm)
        return body

    def _gradient_entries(self, with_penalty: bool) -> list[str]:
        from derive.layers import penalty as P

        entries = []
        rule = dict(P.gradient_forms())[P.nabla_W] if with_penalty else None
        for dense in self.spec.layers:
            forms, l = self.forms.layers[dense.index], dense.index
            code_W = self.code(forms.code_W)
            if rule is not None:
                printer = ArrayPrinter({P.nabla0_W: code_W, P.W: dense.W, P.lam: "l2", P.n_train: "n_l2"},
                                       stat_axis=0, sample_axis=0)
                code_W = printer.doprint(rule)
            entries.append(f'        "{dense.W}": {code_W},')
            if dense.bias:
                entries.append(f'        "{dense.b}": {self.code(forms.code_b)},')
            h = self.hidden.get(l)
            if h is not None and h.norm is not None:
                entries += [f'        "gamma{l}": d_gamma{l},', f'        "beta{l}": d_beta{l},']
        return entries

    def gradients(self) -> list[str]:
        return self._gradient_function("gradients", with_penalty=self.blocks.penalty is not None)

    def _gradient_function(self, name: str, *, with_penalty: bool) -> list[str]:
        summary = ("dC/dtheta of every parameter, as a dict with the keys of params (fresh arrays, of the working "
                   "dtype)." if name == "gradients" else
                   "dC_0/dtheta, the data term's gradients only (no L2 term): what the update rule subtracts.")
        extras = self.signature_extras() if name == "gradients" else ", *, masks=None" if \
            self.blocks.dropout_layers() else ""
        body = [*self._prologue(name, summary), *self.forward_lines()]
        body[0] = body[0].replace("(params, x, y)", f"(params, x, y{extras})")
        if self.matrices.cost_gradient_args:
            body.append(f"    n_out = Y.shape[{self.unit_axis}]")
        body.append("    # errors pre-scaled by 1/m: the gradients sum, never average" if self.forms.scale != 1
                    else "    # the cost is summed, so are the gradients")
        body += self._backward()
        if with_penalty:
            body.append("    n_l2 = m if l2_n is None else l2_n")
        return [*body, "    return {", *self._gradient_entries(with_penalty), "    }"]

    def data_gradients(self) -> list[str]:
        return self._gradient_function("_data_gradients", with_penalty=False)

    def sgd_step(self) -> list[str]:
        masks = ", masks=masks" if self.blocks.dropout_layers() else ""
        l2 = self.blocks.penalty is not None
        call = f"_data_gradients(params, x, y{masks})" if l2 else f"gradients(params, x, y{masks})"
        lines = [f"def sgd_step(params, x, y, eta{self.signature_extras()}):",
                 '    """One step of gradient descent on the batch (x, y): the parameters after it, as fresh arrays.',
                 "",
                 "    Printed from the derived update rules (steps update.*)"
                 + (": the weights decay by (1 - eta l2 / n),\n    n the training-set size (l2_n; the batch size"
                    " if None)." if l2 else "."),
                 '    """',
                 f"    grads = {call}"]
        if l2:
            lines += [f"    m = np.shape(x)[{self.blocks.layout.sample_axis}]",
                      "    n_l2 = m if l2_n is None else l2_n"]
        return [*lines, "    return {", *update_lines(self.blocks, "grads"), "    }"]
