"""The argument checks of every generated kernel: a template, filled in by :mod:`derive.codegen.validation`.

It is Python so that ruff lints it like the rest of the package. Everything above the ``# ----- template`` line is
a stand-in that makes this file valid on its own and is not copied. In what is copied, ``TPL_`` names are
placeholders: ``TPL_MATRIX(n_out, n_in)``, ``TPL_VECTOR(n)`` and ``TPL_BATCH(n, m)`` become the shapes the model's
layout gives (:class:`numeric.spec.Layout`), ``TPL_AXES(unit, sample)`` the same pair without parentheses (an
index), and every other ``TPL_`` name a value. The lines between ``# <section>`` and ``# </section>`` are kept only
when the model has that section (``bias``: biases; ``labels``: class targets; ``reals``: any other targets).
"""

import numpy as np

TPL_KEYS = ("W1", "b1")
TPL_W_AT = (0,)
TPL_MASKS = ("M1",)
TPL_NORM_AT = 2
TPL_W_IN = 1
TPL_W_OUT = TPL_UNIT_AXIS = 0
LAYERS = 1


def TPL_MATRIX(n_out, n_in):
    return (n_out, n_in)


def TPL_VECTOR(n):
    return (n, 1)


def TPL_BATCH(n, m):
    return (n, m)


def TPL_AXES(unit, sample):
    return (unit, sample)


# ----- template: copied from the next line on -----

KEYS = TPL_KEYS
#: params[KEYS[i]] for i in _W_AT are the weight matrices (a bias follows each, if any; then gamma, beta if normalised)
_W_AT = TPL_W_AT


def _array(value, what, labels=False):
    """A float (or complex) array; integers become float64 unless they are class labels."""
    array = np.asarray(value)
    if array.dtype.kind not in "biufc":
        raise ValueError(f"{what} must be a numeric array, got dtype {array.dtype}")
    if array.dtype.kind in "biu" and not labels:
        array = array.astype(np.float64)
    return array


def _parameters(params):
    """The parameter arrays in the order of KEYS, their shapes checked against each other.

    A float or complex ndarray is taken as it is: every call pays these checks, so the common case runs no
    conversion and formats no message (the messages are built only on the way to an error)."""
    if not hasattr(params, "keys"):
        raise ValueError(f"params must be a dict with keys {', '.join(KEYS)}, got {type(params).__name__}")
    try:
        arrays = [params[key] for key in KEYS]
    except KeyError:
        missing = [key for key in KEYS if key not in params]
        raise ValueError(f"params is missing {missing[0]!r}: expected keys {', '.join(KEYS)}") from None
    for i, array in enumerate(arrays):
        if type(array) is not np.ndarray or array.dtype.kind not in "fc":
            arrays[i] = _array(array, f"params[{KEYS[i]!r}]")
    n_prev = None
    for l, i in enumerate(_W_AT, start=1):
        W = arrays[i]
        if W.ndim != 2 or (n_prev is not None and W.shape[TPL_W_IN] != n_prev):
            expected = f"TPL_MATRIX(n_{l}, n_{l - 1})" + ("" if n_prev is None else f" with n_{l - 1} = {n_prev}")
            raise ValueError(f"params['W{l}'] has shape {W.shape}; expected {expected} (TPL_LAYOUT layout)")
        n_prev = W.shape[TPL_W_OUT]
        # <bias>
        if arrays[i + 1].shape != TPL_VECTOR(n_prev):
            expected = f"TPL_VECTOR(n_{l}) = {TPL_VECTOR(n_prev)}"
            raise ValueError(f"params['b{l}'] has shape {arrays[i + 1].shape}; expected {expected} (TPL_LAYOUT layout)")
        # </bias>
        # <norm>
        for k in range(i + TPL_NORM_AT, i + TPL_NORM_AT + 2) if l < LAYERS else ():
            key, array = KEYS[k], arrays[k]
            if array.shape != TPL_VECTOR(n_prev):
                raise ValueError(f"params[{key!r}] has shape {array.shape}; expected TPL_VECTOR(n_{l}) = "
                                 f"{TPL_VECTOR(n_prev)}, the shape of b{l} (TPL_LAYOUT layout)")
        # </norm>
    return arrays


# <dropout>
MASKS = TPL_MASKS


def _masks(masks, m, widths, dtype):
    """The dropout masks in the order of MASKS (0/1 arrays shaped like a^l) in the working ``dtype`` (a float64
    mask would turn a float32 call into float64), or None: no dropout."""
    if masks is None:
        return None
    if not hasattr(masks, "keys") or sorted(masks.keys()) != sorted(MASKS):
        raise ValueError(f"masks must be None or a dict with keys {', '.join(MASKS)} (one 0/1 array per hidden layer)")
    arrays = []
    for key, n in zip(MASKS, widths, strict=True):
        mask = _array(masks[key], f"masks[{key!r}]")
        if mask.shape != TPL_BATCH(n, m):
            raise ValueError(f"masks[{key!r}] has shape {mask.shape}; expected TPL_BATCH(n, m) = {TPL_BATCH(n, m)}, "
                             "the shape of its layer's activations (TPL_LAYOUT layout)")
        if not np.all((mask == 0) | (mask == 1)):
            raise ValueError(f"masks[{key!r}] must hold only 0 and 1 (the 1/p scaling is the kernel's)")
        arrays.append(mask.astype(dtype, copy=False))
    return arrays


# </dropout>
def _inputs(x, W1):
    """x as an array TPL_BATCH(n_0, m), its feature count checked against W1."""
    if type(x) is not np.ndarray or x.dtype.kind not in "fc":
        x = _array(x, "x")
    n_0 = W1.shape[TPL_W_IN]
    if x.ndim != 2 or x.shape[TPL_UNIT_AXIS] != n_0:
        raise ValueError(f"x has shape {x.shape}; expected TPL_BATCH(n_0, m) with n_0 = {n_0} (TPL_LAYOUT layout: "
                         "one TPL_SAMPLE_NOUN per sample)")
    if x.shape[1 - TPL_UNIT_AXIS] == 0:
        raise ValueError(f"x has shape {x.shape}: no samples (m = 0); a batch needs at least one")
    return x


def _targets(y, m, n_L, dtype):
    """y as an array TPL_BATCH(n_L, m)TPL_LABELS_DOC;
    real targets in the real type of the working ``dtype`` (float32 stays float32, complex step keeps real targets)."""
    if type(y) is np.ndarray and y.dtype == dtype and y.shape == TPL_BATCH(n_L, m):
        return y  # the common case, already right: no conversion
    real = np.finfo(dtype).dtype
    # <labels>
    y = _array(y, "y", labels=np.ndim(y) == 1)
    if y.ndim == 1:
        if y.dtype.kind not in "iu" or y.shape[0] != m:
            raise ValueError(f"y has shape {y.shape} and dtype {y.dtype}; expected {m} integer class labels "
                             f"or one-hot targets of shape TPL_BATCH(n_L, m) = TPL_BATCH({n_L}, {m})")
        if m and (y.min() < 0 or y.max() >= n_L):
            raise ValueError(f"y holds class labels outside 0..{n_L - 1}")
        one_hot = np.zeros(TPL_BATCH(n_L, m), dtype=real)
        one_hot[TPL_AXES(y, np.arange(m))] = 1.0
        return one_hot
    # </labels>
    # <reals>
    y = _array(y, "y")
    # </reals>
    if y.shape != TPL_BATCH(n_L, m):
        raise ValueError(f"y has shape {y.shape}; expected TPL_BATCH(n_L, m) = {TPL_BATCH(n_L, m)} (TPL_LAYOUT layout)")
    return y if y.dtype.kind == "c" else y.astype(real, copy=False)
