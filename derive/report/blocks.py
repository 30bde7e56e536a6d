"""The blocks past the dense layer in the model section: normalisation, dropout and the L2 term, as defined.

Each display is printed from the array forms the kernel is printed from and the derivation proves
(:mod:`derive.layers.normalisation`, :mod:`derive.layers.dropout`, :mod:`derive.layers.penalty`); layer indices are
added by substitution, so the page reads the book's letters (\\mu^l, \\hat z^l, \\gamma^l).
"""

from __future__ import annotations

import sympy as sp

from derive.report import layout
from numeric.spec import ModelSpec

__all__ = ["blocks_card", "blocks_tex"]


def blocks_card(spec: ModelSpec) -> str | None:
    """The model card's line for the blocks (None for a plain dense net)."""
    parts = []
    if spec.norm is not None:
        parts.append(f"{spec.norm} normalisation on every hidden layer")
    if spec.keep_prob is not None:
        parts.append(f"inverted dropout, keep probability {spec.keep_prob:g}")
    if spec.penalty is not None:
        n = "the batch size $m$" if spec.penalty.n is None else f"$n = {spec.penalty.n}$"
        parts.append(f"L2 term, $\\lambda = {spec.penalty.lam:g}$, {n}")
    return "; ".join(parts) if parts else None


def _indexed(forms: list, l: str) -> list[tuple[sp.Expr, sp.Expr]]:
    """The forms with every array symbol given the layer index l (typeset as a superscript)."""
    def indexed(tex: str) -> str:
        if "^" in tex:  # sigma^{2} -> (sigma^{l})^{2}: the layer index on the letter, the power outside
            base, _, power = tex.partition("^")
            return f"({base}^{{{l}}})^{power}"
        return f"{tex}^{{{l}}}"

    out = []
    for target, expr in forms:
        names = {s: sp.Symbol(indexed(sp.latex(s))) for s in expr.free_symbols | {target}
                 if type(s).__name__ == "ArraySymbol"}
        out.append((target.xreplace(names), expr.xreplace(names)))
    return out


def _norm_tex(spec: ModelSpec) -> list[str]:
    from derive.layers import arrays
    from derive.layers import norm_forms as NS

    layer = next(lay for lay in spec.layers if lay.norm is not None)
    kind = layer.norm.kind
    over = ("the $m$ samples of the batch, unit by unit ($N = m$)" if NS.STAT_AXIS[kind] == 1 else
            "the $n_l$ units of the layer, sample by sample ($N = n_l$)")
    out = [f"Every hidden layer normalises its weighted inputs $z^l$ before the activation, over {over}; "
           "$\\textstyle\\sum_s$ sums over that axis. Then it scales and shifts each unit by its own "
           "$\\gamma^l_j$ and $\\beta^l_j$, and the activation reads the result $u^l$: $a^l = f(u^l)$"
           + (" (training mode: the statistics of the batch given, also in the forward pass)" if NS.STAT_AXIS[kind]
              == 1 else "") + ":"]
    subs = {arrays.count: sp.Symbol("N")}
    for lhs, rhs in _indexed(NS.forward_forms(kind), "l"):
        out.append(layout.display(lhs, rhs.xreplace(subs), numbered=False))
    mantissa, _, exponent = f"{layer.norm.eps:e}".partition("e")
    eps = f"{float(mantissa):g} \\cdot 10^{{{int(exponent)}}}".replace("1 \\cdot ", "")
    out.append(f"with $\\epsilon = {eps}$ (torch's and CS231n's default).")
    return out


def _dropout_tex(spec: ModelSpec) -> list[str]:
    from derive.layers import dropout as D

    out = [f"After each hidden activation, inverted dropout keeps unit $j$ of sample $x$ when the mask entry "
           f"$M^l_{{jx}}$ is 1 (probability $p = {spec.keep_prob:g}$) and scales the kept units by $1/p$, so the "
           "expected activation is unchanged; the next layer reads"]
    for lhs, rhs in _indexed(D.forward_forms(), "l"):
        out.append(layout.display(lhs, rhs, numbered=False))
    out.append("The masks are data, given to the kernel (\\texttt{masks=}): every witness sees the same ones.")
    return out


def _l2_tex(spec: ModelSpec) -> list[str]:
    from derive.layers import penalty as P

    w = sp.IndexedBase("w")
    j, k, l = sp.symbols("j k l", integer=True)
    term = P.lam / (2 * P.n_train) * sp.Sum(w[l, j, k] ** 2, (l, 1, spec.L), (j, 1, sp.Symbol("n_l")),
                                                (k, 1, sp.Symbol("n_{l-1}")))
    n = "the batch size $m$ (no training set here)" if spec.penalty.n is None else f"{spec.penalty.n}"
    never = "the biases, $\\gamma$ or $\\beta$" if spec.norm else "the biases"
    return [f"The cost has an L2 term over the weights (never {never}), with $\\lambda = {spec.penalty.lam:g}$ "
            f"and $n$ = {n}:",
            layout.display(sp.Symbol("C"), sp.Symbol("C_0") + term, numbered=False)]


def blocks_tex(spec: ModelSpec, level: str) -> str:
    """The subsection on the blocks of ``spec`` ("" for a plain dense net)."""
    if spec.plain:
        return ""
    out = [layout.heading(level, "Past the dense layer")]
    if spec.norm is not None:
        out += _norm_tex(spec)
    if spec.keep_prob is not None:
        out += _dropout_tex(spec)
    if spec.penalty is not None:
        out += _l2_tex(spec)
    return "\n\n".join(out)
