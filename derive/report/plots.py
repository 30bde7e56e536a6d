"""The data and the pgfplots pictures of a report's plots.

* **Activation curves**: each activation f and its derivative f' over z in [-6, 6], evaluated from the *derived*
  SymPy expressions of :mod:`derive.functions.activations` (``lambdify`` of ``f`` and ``fprime``; softmax through its
  first
  component s_1(z, 0, 0) and the derived Jacobian entry ds_1/dz_1). Jumps of f' at a kink are drawn as jumps, with
  the convention's value marked (ReLU'(0) = 0).
* **Finite-difference error against h** for one parameter: the central-difference error falls with h (truncation)
  until rounding makes it rise again; Richardson extrapolation; complex step as a line; the h the checker chooses
  marked. The numbers come from :func:`numeric.finite_diff.error_curve` on the hand-written backprop
  (:mod:`numeric.backprop`), whose gradient is the reference.

This module draws; it derives nothing and decides no verdict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

from derive.core.book import book_latex
from derive.functions.activations import derive_activation, derive_softmax, zs
from numeric.spec import ActSpec, ModelSpec

__all__ = [
    "N_POINTS",
    "Z_RANGE",
    "ActivationCurve",
    "activation_curve",
    "activation_plot_tex",
    "coords_tex",
    "fd_curve",
    "fd_error_plot_tex",
    "figures_document",
]

Z_RANGE = (-6.0, 6.0)
N_POINTS = 97  # a grid step of 1/8: z = 0 is a grid point
#: errors are drawn on a log axis; exact zeros are shown at this floor
ERROR_FLOOR = 1e-18


@dataclass
class ActivationCurve:
    """f and f' on a grid; ``f_tex``/``fprime_tex`` name them (printed from SymPy); jumps at ``kinks``."""

    act: ActSpec
    z: np.ndarray
    f: np.ndarray
    fprime: np.ndarray
    f_tex: str
    fprime_tex: str
    kinks: tuple[float, ...]
    kink_values: tuple[tuple[float, float, float], ...]  # (z, f'(z) by convention, right limit)


def _lambdify(expr: sp.Expr, var: sp.Symbol):
    fn = sp.lambdify(var, expr, modules="numpy")

    def call(grid: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            out = np.asarray(fn(grid), dtype=float)
        return np.broadcast_to(out, grid.shape).astype(float)

    return call


def activation_curve(act: ActSpec, n: int = N_POINTS, z_range: tuple[float, float] = Z_RANGE) -> ActivationCurve:
    """Evaluate the derived f and f' of ``act`` on ``n`` points of ``z_range``."""
    grid = np.linspace(z_range[0], z_range[1], n)
    if not act.entry.elementwise:  # softmax: its first component along z_1, the other inputs at 0
        sm = derive_softmax(3)
        z1 = sm.z[0]
        rest = {zk: 0 for zk in sm.z[1:]}
        s1 = sm.s[0].xreplace(rest)
        ds1 = sm.jacobian[0, 0].xreplace(rest)
        s_of = sp.Function("s_1")(z1)  # printed as s_1(z_1)
        return ActivationCurve(
            act, grid, _lambdify(s1, z1)(grid), _lambdify(ds1, z1)(grid),
            book_latex(s_of), book_latex(sp.Derivative(s_of, z1)), (), (),
        )
    res = derive_activation(act)
    f_expr, fp_expr = res.f_numeric(), res.fprime_numeric()
    fname = res.derivation.steps[0].lhs  # f(z) as the definition names it
    f_fn, fp_fn = _lambdify(f_expr, zs), _lambdify(fp_expr, zs)
    kinks = tuple(float(k) for k in res.kinks)
    kink_values = tuple(
        (k, float(fp_fn(np.array([k]))[0]), float(fp_fn(np.array([k + 1e-9]))[0])) for k in kinks
    )
    return ActivationCurve(act, grid, f_fn(grid), fp_fn(grid), book_latex(fname),
                           book_latex(sp.Derivative(fname, zs)), kinks, kink_values)


def coords_tex(xs: Sequence[float], ys: Sequence[float], jumps: Sequence[float] = ()) -> str:
    """pgfplots ``coordinates {...}``, with a NaN break after each jump so the curve is not joined across it."""
    pts = []
    for x, yv in zip(xs, ys, strict=True):
        if any(abs(x - j) < 1e-12 for j in jumps):
            pts.append(f"({x:.6g},{yv:.6g}) ({x:.6g},nan)")
            continue
        pts.append(f"({x:.6g},{yv:.6g})" if math.isfinite(yv) else f"({x:.6g},nan)")
    lines = [" ".join(pts[i : i + 8]) for i in range(0, len(pts), 8)]
    return "coordinates {\n" + "\n".join(lines) + "\n}"


def activation_plot_tex(curve: ActivationCurve, *, width: str = "75mm", height: str = "52mm") -> str:
    """A tikzpicture: f (solid) and f' (dashed) over z, the convention's value marked at each kink."""
    lo = float(min(np.nanmin(curve.f), np.nanmin(curve.fprime), 0.0))
    hi = float(max(np.nanmax(curve.f), np.nanmax(curve.fprime), 1.0))
    pad = 0.08 * (hi - lo)
    marks = []
    for k, at, right in curve.kink_values:
        marks.append(f"\\addplot[only marks, mark=*, mark size=1.6pt, color=bpvorange] coordinates {{({k:g},{at:g})}};")
        if abs(right - at) > 1e-12:
            marks.append(f"\\addplot[only marks, mark=o, mark size=1.6pt, color=bpvorange, fill=white] "
                         f"coordinates {{({k:g},{right:g})}};")
    return "\n".join([
        "\\begin{tikzpicture}",
        f"\\begin{{axis}}[width={width}, height={height}, xmin=-6, xmax=6, ymin={lo - pad:.3g}, "
        f"ymax={hi + pad:.3g}, xlabel={{$z$}}, axis lines=left, tick label style={{font=\\scriptsize}}, "
        "label style={font=\\small}, legend columns=-1, legend style={font=\\scriptsize, at={(0.5,1.03)}, "
        "anchor=south, draw=none, /tikz/every even column/.append style={column sep=6pt}}, "
        "unbounded coords=jump, grid=major, "
        "grid style={gray!20}]",
        f"\\addplot[thick, color=bpvblue, mark=none] {coords_tex(curve.z, curve.f)};",
        f"\\addlegendentry{{${curve.f_tex}$}}",
        f"\\addplot[thick, dashed, color=bpvorange, mark=none] {coords_tex(curve.z, curve.fprime, curve.kinks)};",
        f"\\addlegendentry{{${curve.fprime_tex}$}}",
        *marks,
        "\\end{axis}",
        "\\end{tikzpicture}",
    ])


# ----- finite differences ------------------------------------------------------------------------------------
def fd_curve(spec: ModelSpec, *, seed: int = 0, m: int = 4, name: str | None = None,
             index: tuple[int, ...] = (0, 0)) -> dict:
    """Error of the numerical derivatives against h for one parameter of ``spec`` (default: w^1_{11}).

    Uses the hand-written backprop's loss and its gradient as the reference. Returns the dict of
    :func:`numeric.finite_diff.error_curve` plus ``name`` and ``index``. Raises ImportError while
    ``numeric.finite_diff`` does not exist.
    """
    from numeric import backprop, finite_diff
    from numeric.instances import init_params, random_batch

    rng = np.random.default_rng(seed)
    params = init_params(spec, rng)
    x, y = random_batch(spec, m, rng)
    name = name or "W1"

    def loss(p):
        return backprop.loss(spec, p, x, y)

    grad = backprop.gradients(spec, params, x, y)
    curve = dict(finite_diff.error_curve(loss, params, name, index, grad=grad))
    curve.update(name=name, index=tuple(index))
    return curve


def _positive(values) -> np.ndarray:
    arr = np.abs(np.asarray(values, dtype=float))
    return np.where(np.isfinite(arr) & (arr > ERROR_FLOOR), arr, ERROR_FLOOR)


def fd_error_plot_tex(curve: dict, param_tex: str, *, width: str = "130mm", height: str = "78mm") -> str:
    """A log-log tikzpicture of |error| against h: central, Richardson, complex step (a line), chosen h marked."""
    h = np.asarray(curve["h"], dtype=float)
    central = _positive(curve["central_error"])
    plots = [
        f"\\addplot[thick, color=bpvblue, mark=*, mark size=1.2pt] {coords_tex(h, central)};",
        "\\addlegendentry{central difference}",
    ]
    lows = [central.min()]
    if curve.get("richardson_error") is not None:
        rich = _positive(curve["richardson_error"])
        lows.append(rich.min())
        plots += [f"\\addplot[thick, color=bpvgreen, mark=square*, mark size=1.1pt] {coords_tex(h, rich)};",
                  "\\addlegendentry{Richardson extrapolation}"]
    cs = curve.get("complex_step_error")
    if cs is not None:
        cs_arr = np.atleast_1d(np.asarray(cs, dtype=float))
        cs_val = float(_positive([np.nanmax(np.abs(cs_arr))])[0])
        lows.append(cs_val)
        label = "complex step ($h = 10^{-20}$)" + (
            f", error 0 (drawn at $10^{{{round(math.log10(ERROR_FLOOR))}}}$)" if cs_val <= ERROR_FLOOR else "")
        plots += [f"\\addplot[thick, dashed, color=bpvred, domain={h.min():.3g}:{h.max():.3g}, samples=2] "
                  f"{{{cs_val:.3g}}};", f"\\addlegendentry{{{label}}}"]
    ymin = 10 ** math.floor(math.log10(max(min(lows), ERROR_FLOOR)) - 0.5)
    ymax = 10 ** math.ceil(math.log10(float(max(central.max(), 1e-10))) + 0.5)
    chosen = curve.get("chosen_h")
    if chosen is not None:
        plots += [f"\\draw[thin, dotted, color=black] (axis cs:{float(chosen):.3g},{ymin:.3g}) -- "
                  f"(axis cs:{float(chosen):.3g},{ymax:.3g});",
                  f"\\node[anchor=south west, font=\\scriptsize, rotate=90] "
                  f"at (axis cs:{float(chosen):.3g},{ymin:.3g}) "
                  f"{{chosen $h = {_sci_tex(float(chosen))}$}};"]
    return "\n".join([
        "\\begin{tikzpicture}",
        f"\\begin{{loglogaxis}}[width={width}, height={height}, xlabel={{step $h$}}, "
        f"ylabel={{$|$error$|$ of $\\partial C/\\partial {param_tex}$}}, ymin={ymin:.3g}, ymax={ymax:.3g}, "
        "legend style={font=\\scriptsize, at={(0.5,-0.22)}, anchor=north, draw=none}, legend columns=-1, "
        "tick label style={font=\\scriptsize}, "
        "label style={font=\\small}, grid=major, grid style={gray!20}, unbounded coords=jump]",
        *plots,
        "\\end{loglogaxis}",
        "\\end{tikzpicture}",
    ])


def _sci_tex(x: float) -> str:
    """1.2e-05 as ``1.2 \\cdot 10^{-5}`` (a number, not an equation)."""
    if x == 0:
        return "0"
    e = math.floor(math.log10(abs(x)))
    mant = x / 10**e
    return f"10^{{{e}}}" if abs(mant - 1) < 0.05 else f"{mant:.2g} \\cdot 10^{{{e}}}"


#: The preamble of the figures document: the report's fonts and colours (derive/report/templates/report.tex), one page
#: per tikzpicture, so every figure is typeset once and included in the reports with \includegraphics.
FIGURES_PREAMBLE = r"""\documentclass[tikz,11pt,border=1pt]{standalone}
\usepackage[T1]{fontenc}
\usepackage[sc]{mathpazo}
\usepackage{amsmath,amssymb}
\usepackage{xcolor}
\usepackage{pgfplots}
\pgfplotsset{compat=1.17}
\definecolor{bpvgreen}{rgb}{0.05,0.45,0.15}
\definecolor{bpvred}{rgb}{0.70,0.05,0.05}
\definecolor{bpvgrey}{gray}{0.38}
\definecolor{bpvblue}{rgb}{0.05,0.25,0.60}
\definecolor{bpvorange}{rgb}{0.85,0.40,0.00}
"""


def figures_document(pictures: Sequence[str]) -> str:
    """A standalone document with one page per tikzpicture, in order (page i + 1 is ``pictures[i]``)."""
    return FIGURES_PREAMBLE + "\\begin{document}\n" + "\n\n".join(pictures) + "\n\\end{document}\n"
