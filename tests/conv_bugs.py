"""Planted bugs in a convolution and a max-pool written as CS231n's pairs (not a test module).

Layers in CS231n's NCHW shapes, each a correct backward with planted mistakes as ``bug=`` branches, so that each bug
is a small, readable variant of the correct code. Written independently of :mod:`numeric.conv` (shift-and-add over
the kernel offsets rather than im2col, and dx by the textbook formula rather than col2im):

* ``conv_forward(x, w, b, conv_param) -> (out, cache)``: x (N, C, H, W), w (F, C, k, k), b (F,),
  ``conv_param = {"stride": s, "pad": p}``; cross-correlation, out[n, f, i, j] = b[f] + sum_{c, u, v}
  w[f, c, u, v] x_pad[n, c, s i + u, s j + v];
* ``conv_backward(dout, cache, bug) -> (dx, dw, db)``, dx as the full convolution of dout (dilated by the stride,
  padded by k - 1) with the kernel flipped in space; bugs ``unflipped`` (dx with the kernel as it is, the classic
  confusion of convolution and correlation) and ``stride_ignored`` (the backward uses stride 1: dout not dilated,
  and dw's windows taken at stride 1; invisible when the forward's stride is 1);
* ``max_pool_forward(x, pool_param) -> (out, cache)``, ``pool_param = {"pool_height", "pool_width", "stride"}``,
  and ``max_pool_backward(dout, cache, bug)``, the gradient to the first maximum of each window (row-major); bug
  ``route_to_all``: every element of the window gets the window's dout; and a control, ``average_routing``: every
  element gets dout / (kh kw), an average-pool's backward (wrong for a max-pool, but not the bug named
  "routes to every element").

Forwards stay analytic (maxima compared on ``.real``) so that the complex step works on them. Tests import it by
name (``import conv_bugs``: pytest puts tests/ on the path).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["BUGS", "conv_backward", "conv_forward", "max_pool_backward", "max_pool_forward"]

Array = np.ndarray

#: bug -> the function it is planted in and what it gets wrong
BUGS = {
    "unflipped": "conv_backward: dx as the full convolution of dout with the kernel NOT flipped",
    "stride_ignored": "conv_backward: stride 1 in the backward (dout not dilated, dw's windows at stride 1)",
    "route_to_all": "max_pool_backward: every element of a window gets its dout, not only the maximum",
    "average_routing": "max_pool_backward (a control): every element of a window gets dout / (kh kw)",
}


def _pad(x: Array, p: int) -> Array:
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x


def _out_size(n: int, k: int, s: int, p: int = 0) -> int:
    return (n + 2 * p - k) // s + 1


def conv_forward(x: Array, w: Array, b: Array, conv_param: Mapping) -> tuple[Array, tuple]:
    """Shift and add: for each kernel offset (u, v), the strided slice of the padded input times w[:, :, u, v]."""
    s, p = conv_param.get("stride", 1), conv_param.get("pad", 0)
    N, _, H, W = x.shape
    F, _, k, _ = w.shape
    Ho, Wo = _out_size(H, k, s, p), _out_size(W, k, s, p)
    xp = _pad(x, p)
    out = np.zeros((N, F, Ho, Wo), dtype=np.result_type(x, w, b)) + b.reshape(1, F, 1, 1)
    for u in range(k):
        for v in range(k):
            out = out + np.einsum("nchw,fc->nfhw", xp[:, :, u:u + s * Ho:s, v:v + s * Wo:s], w[:, :, u, v])
    return out, (x, w, s, p)


def conv_backward(dout: Array, cache: tuple, bug: str | None = None) -> tuple[Array, Array, Array]:
    """db: dout summed; dw[:, :, u, v]: dout correlated with the input slice at offset (u, v); dx: the full
    convolution of the dilated dout with the flipped kernel, placed in the padded input and cropped."""
    x, w, s, p = cache
    N, C, H, W = x.shape
    F, _, k, _ = w.shape
    Ho, Wo = dout.shape[2:]
    s_back = 1 if bug == "stride_ignored" else s
    xp = _pad(x, p)
    db = dout.sum(axis=(0, 2, 3))
    dw = np.zeros(w.shape, dtype=np.result_type(dout, x))
    for u in range(k):
        for v in range(k):
            dw[:, :, u, v] = np.einsum("nfhw,nchw->fc", dout, xp[:, :, u:u + s_back * Ho:s_back,
                                                               v:v + s_back * Wo:s_back])
    # dilate: dout[i, j] belongs at (s i, s j) of a stride-1 output grid (zeros in between), then pad by k - 1
    dilated = np.zeros((N, F, (Ho - 1) * s_back + 1, (Wo - 1) * s_back + 1), dtype=dout.dtype)
    dilated[:, :, ::s_back, ::s_back] = dout
    dpad = _pad(dilated, k - 1)
    kernel = w if bug == "unflipped" else w[:, :, ::-1, ::-1]
    Hf, Wf = dpad.shape[2] - k + 1, dpad.shape[3] - k + 1  # (Ho - 1) s + k: the rows the windows reach
    full = np.zeros((N, C, Hf, Wf), dtype=np.result_type(dout, w))
    for u in range(k):
        for v in range(k):
            full = full + np.einsum("nfhw,fc->nchw", dpad[:, :, u:u + Hf, v:v + Wf], kernel[:, :, u, v])
    dxp = np.zeros((N, C, H + 2 * p, W + 2 * p), dtype=full.dtype)  # rows past the last window get 0
    dxp[:, :, :Hf, :Wf] = full
    return dxp[:, :, p:p + H, p:p + W], dw, db


def max_pool_forward(x: Array, pool_param: Mapping) -> tuple[Array, tuple]:
    """The window's entries stacked offset by offset, (kh kw, N, C, Ho, Wo); max by the first argmax of .real."""
    kh, kw, s = pool_param.get("pool_height", 2), pool_param.get("pool_width", 2), pool_param.get("stride", 2)
    H, W = x.shape[2:]
    Ho, Wo = _out_size(H, kh, s), _out_size(W, kw, s)
    stack = np.stack([x[:, :, u:u + s * Ho:s, v:v + s * Wo:s] for u in range(kh) for v in range(kw)])
    first = np.argmax(stack.real, axis=0)
    return np.take_along_axis(stack, first[None], axis=0)[0], (x.shape, first, kh, kw, s)


def max_pool_backward(dout: Array, cache: tuple, bug: str | None = None) -> Array:
    shape, first, kh, kw, s = cache
    Ho, Wo = dout.shape[2:]
    dx = np.zeros(shape, dtype=dout.dtype)
    for u in range(kh):
        for v in range(kw):
            if bug in ("route_to_all", "average_routing"):
                share = dout if bug == "route_to_all" else dout / (kh * kw)
            else:
                share = dout * (first == u * kw + v)
            dx[:, :, u:u + s * Ho:s, v:v + s * Wo:s] += share
    return dx
