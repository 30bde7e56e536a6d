"""Weight sharing, NumPy side: 2-D convolution, max-pooling and flatten, the hand-written reference layers.

Unlike :class:`~numeric.layers.Dense` (columns layout), these layers work in torch's **NCHW rows** layout: an input
``x`` is (m, C, H, W), samples first, and every layer follows the same protocol, ``forward(p, x) -> (out, cache)``
and ``backward(p, dout, cache) -> (dx, grads)`` with ``dout = dC/d(out)``.

* :class:`Conv2d` computes what ``torch.nn.functional.conv2d`` computes, a cross-correlation (the kernel is not
  flipped): z[n, o, i, j] = b[o] + sum_{c, u, v} W[o, c, u, v] x_pad[n, c, s i + u, s j + v], with output size
  floor((H + 2p - k) / s) + 1. The forward is im2col: one strided view of every k x k window
  (``sliding_window_view``, no copy) contracted with W in one ``tensordot``; no Python loop at all.
  The backward: nabla_W = the correlation of the input with the upstream gradient delta (the same windows
  contracted with delta), nabla_b = the sum of delta over samples and positions, and dx = the full convolution of
  delta with the flipped kernel, written the direct way, as col2im: each window's share W^T delta is scatter-added
  back to the pixels the window read. The scatter loops over the k*k kernel offsets (each a strided slice-add over
  all samples, channels and positions at once): within one offset no two windows share a pixel, so a plain
  slice-add is exact and ``np.add.at`` is not needed.
* :class:`MaxPool2d` (kernel 2, stride 2 by default) takes the maximum of each window; its backward routes the
  gradient to the **first** maximum of the window in row-major order. At a tie max is not differentiable (a kink);
  sending the whole gradient to one of the tied elements is a valid subgradient, the extension of ReLU'(0) = 0
  (the others get 0), and the first one is what ``np.argmax`` picks. Sending it to every tied element is wrong
  (moving them together changes the output by dout, not by k dout: :mod:`numeric.ties`).
* :class:`Flatten` reshapes (m, C, H, W) to (m, C H W) in C order (torch's ``flatten(1)``).

Everything is analytic for the complex step: convolution is linear, max-pooling compares ``.real`` and then only
selects (locally constant in the input), flatten reshapes. No ``np.abs`` or ``np.maximum`` touches the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from numeric.errors import BadInput

__all__ = ["Conv2d", "Flatten", "MaxPool2d", "output_size", "windows"]

Array = np.ndarray


def output_size(n: int, k: int, stride: int, pad: int = 0) -> int:
    """floor((n + 2p - k) / s) + 1 windows of size k fit along an axis of length n padded by p on each side."""
    return (n + 2 * pad - k) // stride + 1


def windows(x: Array, k: int, stride: int) -> Array:
    """Every k x k window of an (m, C, H, W) array at the given stride: a view (m, C, H_out, W_out, k, k).

    ``windows(x)[n, c, i, j, u, v] = x[n, c, s i + u, s j + v]``: im2col without the copy.
    """
    h_out, w_out = output_size(x.shape[2], k, stride), output_size(x.shape[3], k, stride)
    view = sliding_window_view(x, (k, k), axis=(2, 3))
    return view[:, :, ::stride, ::stride][:, :, :h_out, :w_out]


def _require_nchw(x: Array, what: str) -> None:
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        shape = getattr(x, "shape", type(x).__name__)
        raise BadInput(f"{what}: the input must be a 4-D array (m, C, H, W) (samples, channels, height, width), "
                       f"got shape {shape}; reshape a single image to (1, C, H, W)")


def _require_positive(what: str, **values: int) -> None:
    for name, v in values.items():
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise BadInput(f"{what}: {name} must be a positive integer, got {v!r}")


@dataclass(frozen=True)
class Conv2d:
    """Layer ``index``: a 2-D convolution from ``c_in`` to ``c_out`` channels with a k x k kernel.

    Parameters ``W{l}`` of shape (c_out, c_in, k, k) (torch's ``weight``) and ``b{l}`` of shape (1, c_out), one bias
    per output channel, shared by every position. The shapes do not depend on the layout: convolution always works
    on (m, C, H, W).
    """

    kind: ClassVar[str] = "conv2d"
    index: int
    c_in: int
    c_out: int
    k: int
    stride: int = 1
    pad: int = 0

    def __post_init__(self) -> None:
        what = f"conv2d layer {self.index}"
        _require_positive(what, c_in=self.c_in, c_out=self.c_out, k=self.k, stride=self.stride)
        if not isinstance(self.pad, (int, np.integer)) or isinstance(self.pad, bool) or self.pad < 0:
            raise BadInput(f"{what}: pad must be a non-negative integer, got {self.pad!r}")

    @property
    def W(self) -> str:
        return f"W{self.index}"

    @property
    def b(self) -> str:
        return f"b{self.index}"

    def param_names(self) -> list[str]:
        return [self.W, self.b]

    def param_shapes(self, layout: Any = None) -> dict[str, tuple[int, ...]]:
        """{W{l}: (c_out, c_in, k, k), b{l}: (1, c_out)}; ``layout`` is accepted for the protocol and not used."""
        return {self.W: (self.c_out, self.c_in, self.k, self.k), self.b: (1, self.c_out)}

    @property
    def n_params(self) -> int:
        return self.c_out * self.c_in * self.k * self.k + self.c_out

    def to_dict(self) -> dict:
        return {"kind": self.kind, "c_in": self.c_in, "c_out": self.c_out, "k": self.k, "stride": self.stride,
                "pad": self.pad}

    def out_shape(self, h: int, w: int) -> tuple[int, int, int]:
        """(c_out, H_out, W_out) for an input of height h and width w; BadInput when the kernel does not fit."""
        if h + 2 * self.pad < self.k or w + 2 * self.pad < self.k:
            raise BadInput(f"conv2d layer {self.index}: the {self.k}x{self.k} kernel does not fit the {h}x{w} "
                           f"input padded by {self.pad}; use a smaller k, more padding, or a larger input")
        return (self.c_out, output_size(h, self.k, self.stride, self.pad),
                output_size(w, self.k, self.stride, self.pad))

    def _check(self, p: Mapping[str, Array], x: Array) -> None:
        what = f"conv2d layer {self.index}"
        _require_nchw(x, what)
        if x.shape[1] != self.c_in:
            raise BadInput(f"{what}: the input has {x.shape[1]} channels (axis 1 of (m, C, H, W), shape "
                           f"{x.shape}), the layer takes c_in = {self.c_in}")
        for name, shape in self.param_shapes().items():
            got = np.shape(p[name]) if name in p else None
            if got != shape:
                raise BadInput(f"{what}: parameter {name} has shape {got}, expected {shape}")
        self.out_shape(x.shape[2], x.shape[3])

    def _padded(self, x: Array) -> Array:
        if not self.pad:
            return x
        q = self.pad
        return np.pad(x, ((0, 0), (0, 0), (q, q), (q, q)))

    # ----- the NumPy reference (NCHW) ----------------------------------------------------------------------------
    def forward(self, p: Mapping[str, Array], x: Array) -> tuple[Array, tuple]:
        """z = W (*) x + b, cross-correlation as torch computes it; the cache keeps (x, the padded input's windows).

        ``tensordot`` sums over (channel, u, v) of each window against W's (c_in, u, v): (m, H_out, W_out, c_out)
        after the contraction, moved back to (m, c_out, H_out, W_out).
        """
        self._check(p, x)
        cols = windows(self._padded(x), self.k, self.stride)
        z = np.tensordot(cols, p[self.W], axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
        z = z + p[self.b].reshape(1, self.c_out, 1, 1)
        return z, (x, cols)

    def backward(self, p: Mapping[str, Array], dout: Array, cache: tuple, *,
                 input_gradient: bool = True) -> tuple[Array | None, dict[str, Array]]:
        """nabla_W, nabla_b (summed over the batch) and, unless ``input_gradient=False``, dC/dx.

        delta = ``dout`` is (m, c_out, H_out, W_out). nabla_W[o, c, u, v] = sum_{n, i, j} delta[n, o, i, j]
        x_pad[n, c, s i + u, s j + v]: the input's windows correlated with delta. dC/dx: the share
        sum_o W[o, c, u, v] delta[n, o, i, j] of window (i, j) goes back to pixel (s i + u, s j + v) of the padded
        input (col2im), and the padding is cut off; summed over the windows that read a pixel this is the full
        convolution of the stride-dilated delta with the flipped kernel.
        """
        x, cols = cache
        m, _, h_out, w_out = cols.shape[:4]
        expected = (m, self.c_out, h_out, w_out)
        if np.shape(dout) != expected:
            raise BadInput(f"conv2d layer {self.index}: dout has shape {np.shape(dout)}, the output's shape "
                           f"{expected}")
        delta = dout
        grads = {self.W: np.tensordot(delta, cols, axes=([0, 2, 3], [0, 2, 3])),
                 self.b: np.sum(delta, axis=(0, 2, 3)).reshape(1, self.c_out)}
        if not input_gradient:
            return None, grads
        # the gradient at each window's entries: (m, H_out, W_out, c_in, k, k)
        d_cols = np.tensordot(delta, p[self.W], axes=([1], [0]))
        q, s, k = self.pad, self.stride, self.k
        dx_pad = np.zeros((m, self.c_in, x.shape[2] + 2 * q, x.shape[3] + 2 * q),
                          dtype=np.result_type(d_cols.dtype, x.dtype))
        # col2im over the k*k offsets: offset (u, v) of every window lands on pixels u + s i, v + s j (distinct for
        # distinct windows), so each offset is one slice-add; windows overlapping across offsets add up in turn
        for u in range(k):
            for v in range(k):
                dx_pad[:, :, u:u + s * h_out:s, v:v + s * w_out:s] += d_cols[:, :, :, :, u, v].transpose(0, 3, 1, 2)
        dx = dx_pad[:, :, q:q + x.shape[2], q:q + x.shape[3]] if q else dx_pad
        return dx, grads


class _Parameterless:
    """What a layer without parameters answers (max-pooling, flatten): no names, no shapes, no count."""

    def param_names(self) -> list[str]:
        return []

    def param_shapes(self, layout: Any = None) -> dict[str, tuple[int, ...]]:
        return {}

    @property
    def n_params(self) -> int:
        return 0


@dataclass(frozen=True)
class MaxPool2d(_Parameterless):
    """Layer ``index``: the maximum of each k x k window at the given stride (kernel 2, stride 2 by default).

    No parameters. Windows that do not fit at the bottom or right edge are dropped (floor, as torch does).
    """

    kind: ClassVar[str] = "maxpool"
    index: int
    k: int = 2
    stride: int = 2

    def __post_init__(self) -> None:
        _require_positive(f"maxpool layer {self.index}", k=self.k, stride=self.stride)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "k": self.k, "stride": self.stride}

    def out_shape(self, c: int, h: int, w: int) -> tuple[int, int, int]:
        if h < self.k or w < self.k:
            raise BadInput(f"maxpool layer {self.index}: the {self.k}x{self.k} window does not fit the {h}x{w} "
                           "input; use a smaller pool or a larger input")
        return c, output_size(h, self.k, self.stride), output_size(w, self.k, self.stride)

    def forward(self, p: Mapping[str, Array], x: Array) -> tuple[Array, tuple]:
        """out = max of each window (compared on ``.real``); the cache keeps x's shape and each window's argmax.

        ``np.argmax`` returns the first maximum of the flattened window, row-major: the tie convention.
        """
        _require_nchw(x, f"maxpool layer {self.index}")
        self.out_shape(*x.shape[1:])
        cols = windows(x, self.k, self.stride)
        flat = cols.reshape(*cols.shape[:4], self.k * self.k)
        first = np.argmax(flat.real, axis=-1)
        out = np.take_along_axis(flat, first[..., None], axis=-1)[..., 0]
        return out, (x.shape, first)

    def backward(self, p: Mapping[str, Array], dout: Array, cache: tuple, *,
                 input_gradient: bool = True) -> tuple[Array | None, dict[str, Array]]:
        """dC/dx: each window's dout goes to its first maximum, 0 elsewhere (summed where windows overlap)."""
        shape, first = cache
        if np.shape(dout) != first.shape:
            raise BadInput(f"maxpool layer {self.index}: dout has shape {np.shape(dout)}, the output's shape "
                           f"{first.shape}")
        if not input_gradient:
            return None, {}
        n_i, c_i, i_i, j_i = np.indices(first.shape, sparse=True)
        rows = i_i * self.stride + first // self.k
        cols = j_i * self.stride + first % self.k
        dx = np.zeros(shape, dtype=np.asarray(dout).dtype)
        # np.add.at: with stride < k two windows may pick the same pixel, and both shares must add up
        np.add.at(dx, (n_i, c_i, rows, cols), dout)
        return dx, {}


@dataclass(frozen=True)
class Flatten(_Parameterless):
    """Layer ``index``: (m, C, H, W) -> (m, C H W) in C order (samples stay the rows), as torch's ``flatten(1)``."""

    kind: ClassVar[str] = "flatten"
    index: int

    def to_dict(self) -> dict:
        return {"kind": self.kind}

    def forward(self, p: Mapping[str, Array], x: Array) -> tuple[Array, tuple]:
        if not isinstance(x, np.ndarray) or x.ndim < 2:
            raise BadInput(f"flatten layer {self.index}: the input must be an array (m, ...) with samples first, "
                           f"got shape {getattr(x, 'shape', type(x).__name__)}")
        return x.reshape(x.shape[0], -1), x.shape

    def backward(self, p: Mapping[str, Array], dout: Array, cache: tuple, *,
                 input_gradient: bool = True) -> tuple[Array | None, dict[str, Array]]:
        shape = cache
        n = int(np.prod(shape[1:]))
        if np.shape(dout) != (shape[0], n):
            raise BadInput(f"flatten layer {self.index}: dout has shape {np.shape(dout)}, the output's shape "
                           f"{(shape[0], n)}")
        return (dout.reshape(shape) if input_gradient else None), {}
