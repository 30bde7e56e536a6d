"""TikZ pictures of layers with shared weights, drawn from the spec's own sizes: what the equations index.

* :func:`conv_window_tikz`: the input padded by p zeros, the k x k kernel as a window over it at one output
  position (the next position, one stride on, dashed), and the output grid with the one entry that window makes;
  the gradient arrows of the backward pass go the other way.
* :func:`pool_window_tikz`: the input tiled by the pooling windows, one window's values with a tie at the top, and
  where its gradient goes under the tie convention (the first maximum in row-major order).
* :func:`rnn_unrolled_tikz`: the RNN unrolled over T steps, h_0 -> h_1 -> ... -> h_T with x_t below and p_t above,
  the same W_xh, W_hh, W_hy at every step, and the dh_next arrows of backpropagation through time.

Plain TikZ (no libraries, no shell escape), so the pictures compile in the figures document of
:mod:`derive.report.plots` and inline. Labels are maths TeX given by the caller (printed from SymPy there) or
built here from the sizes; nothing here derives anything.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ConvPicture", "conv_window_tikz", "pool_window_tikz", "rnn_unrolled_tikz", "shown_steps"]

#: the widest a grid is drawn (cm); larger inputs get smaller cells
GRID_CM = 4.2
#: the most time steps drawn; longer unrolls show 1, 2, ..., T with an ellipsis
MAX_DRAWN_STEPS = 5


def _f(x: float) -> str:
    """A coordinate, short and exact enough."""
    return f"{x:.3f}".rstrip("0").rstrip(".") or "0"


def _cell(x0: float, u: float, r: int, c: int, rows: int = 1, cols: int = 1) -> str:
    """The rectangle of rows x cols cells from row r, column c (rows go down from y = 0)."""
    return f"({_f(x0 + c * u)},{_f(-r * u)}) rectangle ({_f(x0 + (c + cols) * u)},{_f(-(r + rows) * u)})"


def _grid(x0: float, u: float, rows: int, cols: int, style: str = "bpvgrey!70, very thin") -> str:
    lines = [f"\\draw[{style}] ({_f(x0 + c * u)},0) -- ({_f(x0 + c * u)},{_f(-rows * u)});" for c in range(cols + 1)]
    lines += [f"\\draw[{style}] ({_f(x0)},{_f(-r * u)}) -- ({_f(x0 + cols * u)},{_f(-r * u)});"
              for r in range(rows + 1)]
    return "\n".join(lines)


def _sheets(x0: float, u: float, rows: int, cols: int, n: int) -> str:
    """Up to three sheets behind a grid: the other channels."""
    out = []
    for d in range(min(n, 4) - 1, 0, -1):
        off = 0.12 * d
        out.append(f"\\draw[bpvgrey, fill=white] ({_f(x0 + off)},{_f(off)}) rectangle "
                   f"({_f(x0 + cols * u + off)},{_f(-rows * u + off)});")
    return "\n".join(out)


@dataclass(frozen=True)
class ConvPicture:
    """One convolution's sizes (one sample, as the spec has them) and the TeX of its output entry."""

    c_in: int
    h: int
    w: int
    c_out: int
    k: int
    stride: int
    pad: int
    out_tex: str = "Y_{noij}"  # the entry the window makes (the definition's left side)

    @property
    def out_h(self) -> int:
        return (self.h + 2 * self.pad - self.k) // self.stride + 1

    @property
    def out_w(self) -> int:
        return (self.w + 2 * self.pad - self.k) // self.stride + 1

    @property
    def at(self) -> tuple[int, int]:
        """The output entry drawn: on the top row when there is padding (the window then covers zeros)."""
        return (0 if self.pad else min(1, self.out_h - 1), min(1, self.out_w - 1))


def _conv_input(c: ConvPicture, u: float) -> list[str]:
    hp, wp, p = c.h + 2 * c.pad, c.w + 2 * c.pad, c.pad
    out = [_sheets(0, u, hp, wp, c.c_in), f"\\fill[bpvgrey!25] {_cell(0, u, 0, 0, hp, wp)};",
           f"\\fill[white] {_cell(0, u, p, p, c.h, c.w)};", _grid(0, u, hp, wp),
           f"\\draw[thick] {_cell(0, u, p, p, c.h, c.w)};"]
    i, j = c.at
    r0, c0 = i * c.stride, j * c.stride
    out.append(f"\\fill[bpvblue, fill opacity=0.28] {_cell(0, u, r0, c0, c.k, c.k)};")
    out.append(f"\\draw[very thick, bpvblue] {_cell(0, u, r0, c0, c.k, c.k)};")
    if (j + 1) < c.out_w:  # the next window, one stride to the right
        out.append(f"\\draw[thick, dashed, bpvblue] {_cell(0, u, r0, c0 + c.stride, c.k, c.k)};")
    pad_words = f", zero padding $p = {p}$ shaded" if p else ", no padding"
    out.append(f"\\node[below, align=center, font=\\footnotesize] at ({_f(wp * u / 2)},{_f(-hp * u - 0.1)}) "
               f"{{input $X$, ${c.c_in} \\times {c.h} \\times {c.w}${pad_words}\\\\window $k \\times k = "
               f"{c.k} \\times {c.k}$, stride $s = {c.stride}$ (next position dashed)}};")
    return out


def conv_window_tikz(c: ConvPicture) -> str:
    """The kernel as a sliding window over the padded input, producing one output entry (module doc)."""
    hp, wp = c.h + 2 * c.pad, c.w + 2 * c.pad
    u = min(0.4, GRID_CM / max(hp, wp))
    uk = min(0.45, 2.0 / c.k)
    v = min(0.4, GRID_CM / max(c.out_h, c.out_w))
    xk = wp * u + 1.3
    xo = xk + c.k * uk + 1.6
    i, j = c.at
    r0, c0 = i * c.stride, j * c.stride
    # the kernel sits level with the window; the output grid starts at the top
    ky = -r0 * u
    out = ["\\begin{tikzpicture}[>=stealth, font=\\small]", *_conv_input(c, u)]
    out.append(f"\\begin{{scope}}[yshift={_f(ky)}cm]")
    out += [_sheets(xk, uk, c.k, c.k, c.c_in), f"\\fill[bpvblue!28] {_cell(xk, uk, 0, 0, c.k, c.k)};",
            _grid(xk, uk, c.k, c.k, "bpvblue, thin"), f"\\draw[very thick, bpvblue] {_cell(xk, uk, 0, 0, c.k, c.k)};",
            f"\\node[below, align=center, font=\\footnotesize] at ({_f(xk + c.k * uk / 2)},{_f(-c.k * uk - 0.1)}) "
            f"{{kernel $K_{{o}}$\\\\${c.c_in} \\times {c.k} \\times {c.k}$\\\\one of ${c.c_out}$}};",
            "\\end{scope}"]
    out += [_sheets(xo, v, c.out_h, c.out_w, c.c_out), f"\\fill[white] {_cell(xo, v, 0, 0, c.out_h, c.out_w)};",
            f"\\fill[bpvorange!55] {_cell(xo, v, i, j, 1, 1)};", _grid(xo, v, c.out_h, c.out_w),
            f"\\draw[thick] {_cell(xo, v, 0, 0, c.out_h, c.out_w)};",
            f"\\node[below, align=center, font=\\footnotesize] at ({_f(xo + c.out_w * v / 2)},"
            f"{_f(-c.out_h * v - 0.1)}) {{output $Y$, ${c.c_out} \\times {c.out_h} \\times {c.out_w}$\\\\"
            f"one channel per kernel}};"]
    win = (_f((c0 + c.k / 2) * u), _f(-r0 * u))
    kern = (_f(xk + c.k * uk / 2), _f(ky))
    cell = (_f(xo + (j + 0.5) * v), _f(-i * v))
    out.append(f"\\draw[->, thick, bpvblue] ({win[0]},{win[1]}) to[out=70, in=110] ({kern[0]},{kern[1]});")
    out.append(f"\\draw[->, thick, bpvorange] ({kern[0]},{kern[1]}) to[out=70, in=110] "
               f"node[above, font=\\footnotesize, text=black] {{${c.out_tex}$}} ({cell[0]},{cell[1]});")
    out.append("\\end{tikzpicture}")
    return "\n".join(x for x in out if x)


#: the values drawn in the highlighted pooling window: the top two tie, so the convention decides
_TIED_WINDOW = (3, 7, 7, 2)


def _pool_zoom(xz: float, z: float, k: int) -> tuple[list[str], tuple[int, int]]:
    """One window enlarged with its values (a tie at the top for k = 2) and its first maximum framed in red."""
    values = list(_TIED_WINDOW) if k == 2 else list(range(k * k))
    first = values.index(max(values))  # row-major: the first maximum of the window
    out = [f"\\fill[bpvblue!20] {_cell(xz, z, 0, 0, k, k)};", _grid(xz, z, k, k, "bpvblue, thin"),
           f"\\draw[very thick, bpvblue] {_cell(xz, z, 0, 0, k, k)};"]
    for t, val in enumerate(values):
        r, c = divmod(t, k)
        weight = "\\bfseries" if t == first else ""
        out.append(f"\\node[font=\\small{weight}] at ({_f(xz + (c + 0.5) * z)},{_f(-(r + 0.5) * z)}) {{{val}}};")
    fr, fc = divmod(first, k)
    out.append(f"\\draw[bpvred, very thick] {_cell(xz, z, fr, fc, 1, 1)};")
    tie = values.count(values[first]) > 1
    words = "(a tie: the first\\\\maximum is framed)" if tie else "(its maximum\\\\is framed)"
    out.append(f"\\node[below, align=center, font=\\footnotesize] at ({_f(xz + k * z / 2)},{_f(-k * z - 0.1)}) "
               f"{{one window\\\\{words}}};")
    return out, (fr, fc)


def pool_window_tikz(c_in: int, h: int, w: int, k: int, stride: int) -> str:
    """Max-pooling windows over one channel; one window enlarged, with a tie, and where its gradient is routed."""
    u = min(0.4, GRID_CM / max(h, w))
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    z, v = 0.7, min(0.55, GRID_CM / max(oh, ow))
    xz = w * u + 1.2
    xo = xz + k * z + 1.8
    out = ["\\begin{tikzpicture}[>=stealth, font=\\small]", _sheets(0, u, h, w, c_in),
           f"\\fill[white] {_cell(0, u, 0, 0, h, w)};", _grid(0, u, h, w)]
    out += [f"\\draw[bpvblue, thick] {_cell(0, u, r * stride, c * stride, k, k)};"
            for r in range(oh) for c in range(ow)]
    out.append(f"\\fill[bpvblue, fill opacity=0.3] {_cell(0, u, 0, 0, k, k)};")
    out.append(f"\\node[below, align=center, font=\\footnotesize] at ({_f(w * u / 2)},{_f(-h * u - 0.1)}) "
               f"{{input, ${c_in} \\times {h} \\times {w}$\\\\windows ${k} \\times {k}$, stride ${stride}$}};")
    zoom, (fr, fc) = _pool_zoom(xz, z, k)
    out += zoom
    out += [f"\\fill[white] {_cell(xo, v, 0, 0, oh, ow)};", f"\\fill[bpvorange!55] {_cell(xo, v, 0, 0, 1, 1)};",
            _grid(xo, v, oh, ow), f"\\draw[thick] {_cell(xo, v, 0, 0, oh, ow)};",
            f"\\node[below, align=center, font=\\footnotesize] at ({_f(xo + ow * v / 2)},{_f(-oh * v - 0.1)}) "
            f"{{output, ${c_in} \\times {oh} \\times {ow}$}};"]
    out.append(f"\\draw[->, bpvgrey] ({_f(k * u)},{_f(-k * u / 2)}) -- ({_f(xz)},{_f(-k * z / 2)});")
    out.append(f"\\draw[->, thick, bpvblue] ({_f(xz + k * z / 2)},0) to[out=60, in=120] "
               f"node[above, font=\\footnotesize, text=black] {{$\\max$}} ({_f(xo + v / 2)},0);")
    out.append(f"\\draw[->, thick, bpvred, dashed] ({_f(xo)},{_f(-v / 2)}) to[out=180, in=0] "
               f"node[above, font=\\footnotesize, text=bpvred, pos=0.4] {{$G$}} "
               f"({_f(xz + (fc + 1) * z)},{_f(-(fr + 0.5) * z)});")
    out.append("\\end{tikzpicture}")
    return "\n".join(x for x in out if x)


def shown_steps(T: int) -> list[int | None]:
    """The time steps drawn: all of them up to MAX_DRAWN_STEPS, else 1, 2, 3, None (an ellipsis), T."""
    if T <= MAX_DRAWN_STEPS:
        return list(range(1, T + 1))
    return [1, 2, 3, None, T]


def _rnn_column(x: str, t: int, labels: dict[str, str]) -> list[str]:
    """One step's nodes (x_t, h_t, p_t) and its forward arrows; ``x`` its abscissa."""
    return [
        f"\\node[state] (h{t}) at ({x},0) {{$h_{{{t}}}$}};",
        f"\\node[io] (x{t}) at ({x},-2) {{$x_{{{t}}}$}};",
        f"\\node[io] (p{t}) at ({x},2) {{$p_{{{t}}}$}};",
        f"\\node[font=\\footnotesize] (c{t}) at ({x},3.05) {{$C_{{x}}(p_{{{t}}}, y_{{{t}}})$}};",
        f"\\draw[->] (x{t}) -- node[right, font=\\footnotesize] {{${labels['Wxh']}$}} (h{t});",
        f"\\draw[->] ([xshift=1.5mm]h{t}.north) -- node[right, font=\\footnotesize] {{${labels['Why']}$}} "
        f"([xshift=1.5mm]p{t}.south);",
        f"\\draw[->, bpvgrey] (p{t}) -- (c{t});",
        f"\\draw[->, bpvred, dashed, thick] ([xshift=-1.5mm]p{t}.south) -- node[left, font=\\scriptsize, "
        f"text=bpvred] {{$dz_{{{t}}}$}} ([xshift=-1.5mm]h{t}.north);",
    ]


def rnn_unrolled_tikz(T: int, labels: dict[str, str] | None = None) -> str:
    """The RNN unrolled over ``T`` steps with the shared weights and the dh_next arrows of BPTT (module doc).

    ``labels`` maps ``Wxh``, ``Whh``, ``Why`` to the TeX of those matrices (default: W_{xh}, W_{hh}, W_{hy}).
    """
    labels = {"Wxh": "W_{xh}", "Whh": "W_{hh}", "Why": "W_{hy}", **(labels or {})}
    steps = shown_steps(T)
    gap = 2.3
    out = ["\\begin{tikzpicture}[>=stealth, font=\\small, "
           "state/.style={circle, draw, thick, minimum size=9mm, inner sep=1pt}, "
           "io/.style={rectangle, draw, rounded corners=2pt, minimum size=7mm, inner sep=2pt}]",
           "\\node[state, fill=bpvgrey!15] (h0) at (0,0) {$h_{0}$};"]
    prev = "h0"
    for n, t in enumerate(steps, start=1):
        x = _f(n * gap)
        if t is None:
            out.append(f"\\node (dots) at ({x},0) {{$\\cdots$}};")
            out.append(f"\\draw[->] ({prev}) -- node[above, font=\\footnotesize] {{${labels['Whh']}$}} (dots);")
            out.append(f"\\draw[->, bpvred, dashed, thick] (dots.south west) to[out=-150, in=-30] ({prev}.south east);")
            prev = "dots"
            continue
        out += _rnn_column(x, t, labels)
        out.append(f"\\draw[->] ({prev}) -- node[above, font=\\footnotesize] {{${labels['Whh']}$}} (h{t});")
        if n > 1:  # BPTT: dh_next, the gradient h_t gets back from a_{t+1}
            out.append(f"\\draw[->, bpvred, dashed, thick] (h{t}.south west) to[out=-150, in=-30] "
                       f"node[below, font=\\scriptsize, text=bpvred] {{$dh_{{\\mathrm{{next}}}}$}} "
                       f"({prev}.south east);")
        prev = f"h{t}"
    last = _f(len(steps) * gap)
    out.append(f"\\node[align=left, font=\\footnotesize, anchor=west] at ({_f(len(steps) * gap + 0.8)},0) "
               "{forward: solid\\\\\\textcolor{bpvred}{backward: dashed}};")
    out.append(f"\\node[font=\\footnotesize, bpvgrey, anchor=north] at ({_f(float(last) / 2 + gap / 2)},-2.6) "
               f"{{the same ${labels['Wxh']}$, ${labels['Whh']}$, ${labels['Why']}$ at every step, $T = {T}$}};")
    out.append("\\end{tikzpicture}")
    return "\n".join(out)
