"""The Plots section: the finite-difference error against the step h, and each activation with its derivative.

The pictures are drawn by :mod:`derive.report.plots` and registered with :meth:`ReportData.figure`, so the
document assembly can include them as pages of a figures PDF or inline (:mod:`derive.report.figures`). Every
formula in the prose (the central difference, the complex step, BP2) is printed from SymPy.
"""

from __future__ import annotations

import sympy as sp

from derive.core.book import book_latex
from derive.core.symbols import b, w
from derive.report import layout
from derive.report.data import PLOTS, ReportData
from numeric.spec import ModelSpec

__all__ = ["plots_tex"]

_THETA, _H = sp.symbols("theta h", real=True)


def _central_tex() -> str:
    """The central difference (C(theta + h) - C(theta - h)) / 2h, printed from SymPy."""
    cost = sp.Function("C")
    return book_latex((cost(_THETA + _H) - cost(_THETA - _H)) / (2 * _H))


def _complex_step_tex() -> str:
    """The complex step Im C(theta + ih) / h, printed from SymPy."""
    return book_latex(sp.im(sp.Function("C")(_THETA + sp.I * _H)) / _H)


def _bp2_tex() -> str:
    """BP2 in vector form, delta^l = ((W^{l+1})^T delta^{l+1}) (.) f'(z^l), printed from SymPy."""
    n = sp.Symbol("n")
    err = sp.HadamardProduct(sp.MatrixSymbol("W^{l+1}", n, n).T * sp.MatrixSymbol("delta^{l+1}", n, 1),
                             sp.MatrixSymbol("f'(z^{l})", n, 1))
    return f"{book_latex(sp.MatrixSymbol('delta^{l}', n, 1))} = {book_latex(err)}"


def _fd_parameter(spec: ModelSpec, name: str, index: tuple[int, ...]) -> sp.Expr:
    """The book's symbol (w^l_{jk} or b^l_j) of the array element ``name[index]`` in the model's layout."""
    layer = next(lay for lay in spec.layers if name in lay.param_names())
    j, k = (index[0] + 1, index[1] + 1) if spec.layout.columns else (index[1] + 1, index[0] + 1)
    return w[layer.index, j, k] if name == layer.W else b[layer.index, j]


def _fd_tex(data: ReportData) -> list[str]:
    if data.fd is None:
        return [layout.missing_tex("The finite-difference plot", data.missing.get(PLOTS, "not available"))]
    from derive.report.plots import fd_error_plot_tex

    param = _fd_parameter(data.spec, data.fd["name"], data.fd["index"])
    text = (f"The derivative $\\partial C/\\partial {book_latex(param)}$, computed by central differences "
            f"${_central_tex()}$ at many steps $h$, against the hand-written backprop's value. "
            "For large $h$ the error is truncation, falling as $h^2$; for small $h$ it is rounding, rising as "
            "$\\varepsilon/h$. Richardson extrapolation cancels the $h^2$ term; the complex step "
            f"${_complex_step_tex()}$ has no subtraction and so no rounding error. The dotted line is "
            "the step the checker uses.")
    return [text, "\\begin{center}\n" + data.figure(fd_error_plot_tex(data.fd, book_latex(param))) + "\n\\end{center}"]


def _curves_tex(data: ReportData) -> str:
    from derive.report.plots import activation_plot_tex

    pics = [data.figure(activation_plot_tex(c)) for c in data.curves]
    rows = ["\\hfill".join(pics[i : i + 2]) for i in range(0, len(pics), 2)]
    return "\\begin{center}\n" + "\n\n\\medskip\n".join(rows) + "\n\\end{center}"


def plots_tex(data: ReportData, level: str) -> str:
    sub = layout.sub_level(level)
    out = [layout.heading(sub, "Finite differences: error against the step"), *_fd_tex(data),
           layout.heading(sub, "Activations and their derivatives")]
    kinks = any(c.kinks for c in data.curves)
    vector = any(not c.act.entry.elementwise for c in data.curves)
    out.append("Each activation $f$ (solid) and its derivative $f'$ (dashed), evaluated from the derived "
               "expressions over $z \\in [-6, 6]$. Where $f$ flattens out, $f'$ vanishes: a saturated unit passes "
               f"almost no error back (${_bp2_tex()}$)."
               + (" A filled dot marks the value the convention uses at a kink, an open dot the other one-sided "
                  "limit." if kinks else "")
               + (" For softmax, the first output $s_1$ and $\\partial s_1/\\partial z_1$ are drawn with the other "
                  "inputs at 0." if vector else ""))
    out.append(_curves_tex(data))
    return "\n\n".join(out)
