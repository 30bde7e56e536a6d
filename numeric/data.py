"""Training data for ``bpv train``: toy sets drawn from a seed, files read with clear errors, and the conversion to a
spec's layout and targets.

A :class:`Dataset` holds the samples as **rows** (x is (n, d), one sample per row, as files and scikit-learn store
them) and its targets: integer class labels (n,) or real values (n, k). :func:`prepare` turns it into what a
kernel takes for a given :class:`~numeric.spec.ModelSpec` (its layout; one-hot targets for cce, a 0/1 column for bce,
real values for the regression costs) after :func:`check_fits` has said, in one line, what does not fit and which
flag fixes it.

The built-in sets:

* ``spiral``: CS231n's K interleaved spiral arms in the plane (default 3 classes of 100 points, noise 0.2): point i of
  arm j lies at radius r_i (evenly spaced in [0, 1]) and angle t_i, evenly spaced in [4j, 4(j+1)] plus Gaussian noise
  of standard deviation ``noise``; x = (r sin t, r cos t). Not linearly separable: a hidden layer is needed.
* ``moons``: two interleaved half circles (an upper one centred at (0, 0), a lower one at (1, 0.5)) with Gaussian
  noise on both coordinates.
* ``digits``: scikit-learn's bundled 8x8 handwritten digits (1797 samples, 64 pixels scaled to [0, 1], 10 classes),
  when scikit-learn is installed.

NumPy only (scikit-learn is imported on use, for ``digits`` alone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from numeric.errors import BadInput
from numeric.functions import TargetKind
from numeric.instances import to_one_hot
from numeric.spec import Layout, ModelSpec

__all__ = [
    "BUILTIN",
    "Dataset",
    "TrainingSet",
    "check_fits",
    "digits",
    "load_csv",
    "load_dataset",
    "load_npz",
    "moons",
    "prepare",
    "spiral",
]

Array = np.ndarray

#: the data sets known by name (anything else is a path to a .csv or .npz file)
BUILTIN = ("spiral", "moons", "digits")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Samples as rows: ``x`` (n, d) float64; ``y`` integer class labels (n,) or real values (n, k).

    ``n_classes`` is the number of classes (max label + 1) when ``y`` holds labels, None when it holds values.
    """

    x: Array
    y: Array
    n_classes: int | None
    name: str

    @property
    def n(self) -> int:
        return self.x.shape[0]

    @property
    def n_features(self) -> int:
        return self.x.shape[1]

    def describe(self) -> str:
        what = f"{self.n_classes} classes" if self.n_classes is not None else f"{self.y.shape[1]} real target(s)"
        return f"{self.name}: {self.n} samples, {self.n_features} features, {what}"


def _labelled(x: Array, y: Array, name: str) -> Dataset:
    """A dataset of targets ``y``: labels when every target is a non-negative integer, real values otherwise."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.asarray(y)
    if y.ndim == 1 and y.size and np.all(np.isfinite(y)) and np.all(y == np.round(y)) and y.min() >= 0:
        labels = y.astype(np.int64)
        return Dataset(x, labels, int(labels.max()) + 1, name)
    values = y.astype(np.float64).reshape(len(y), -1)
    return Dataset(x, values, None, name)


# ----- built-in sets ---------------------------------------------------------------------------------------------


def spiral(seed: int = 0, *, per_class: int = 100, classes: int = 3, noise: float = 0.2) -> Dataset:
    """``classes`` spiral arms of ``per_class`` points each (see the module doc), drawn from ``seed``."""
    if per_class < 1 or classes < 2:
        raise BadInput(f"spiral needs at least 1 point per class and 2 classes, got {per_class} and {classes}")
    rng = np.random.default_rng(seed)
    x = np.empty((per_class * classes, 2))
    y = np.repeat(np.arange(classes), per_class)
    r = np.linspace(0.0, 1.0, per_class)
    for j in range(classes):
        # arm j sweeps 4 radians starting at 4j; the noise blurs the angle, so neighbouring arms overlap a little
        t = np.linspace(4.0 * j, 4.0 * (j + 1), per_class) + noise * rng.standard_normal(per_class)
        rows = slice(j * per_class, (j + 1) * per_class)
        x[rows, 0] = r * np.sin(t)
        x[rows, 1] = r * np.cos(t)
    return Dataset(x, y, classes, "spiral")


def moons(seed: int = 0, *, n: int = 200, noise: float = 0.1) -> Dataset:
    """Two interleaved half circles of ``n`` points in all (class 0 the upper, class 1 the lower), from ``seed``."""
    if n < 2:
        raise BadInput(f"moons needs at least 2 points, got {n}")
    rng = np.random.default_rng(seed)
    n_upper = n // 2
    n_lower = n - n_upper
    theta_u = np.linspace(0.0, math.pi, n_upper)
    theta_l = np.linspace(0.0, math.pi, n_lower)
    upper = np.column_stack([np.cos(theta_u), np.sin(theta_u)])
    # the lower moon is the upper one turned upside down and moved right by 1, down by 0.5: the tips interlock
    lower = np.column_stack([1.0 - np.cos(theta_l), 0.5 - np.sin(theta_l)])
    x = np.vstack([upper, lower]) + noise * rng.standard_normal((n, 2))
    y = np.concatenate([np.zeros(n_upper, dtype=np.int64), np.ones(n_lower, dtype=np.int64)])
    return Dataset(x, y, 2, "moons")


def digits() -> Dataset:
    """scikit-learn's bundled 8x8 digits, pixels scaled from 0..16 to [0, 1] (so pre-activations start small)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise BadInput("--data digits needs scikit-learn (its bundled digits set): pip install scikit-learn, "
                       "or give a .csv/.npz file") from None
    bunch = load_digits()
    return Dataset(np.ascontiguousarray(bunch.data / 16.0), bunch.target.astype(np.int64), 10, "digits")


# ----- files -----------------------------------------------------------------------------------------------------


def _numbers(fields: list[str]) -> list[float] | None:
    """The fields as floats, or None if any is not a number."""
    try:
        return [float(f) for f in fields]
    except ValueError:
        return None


def load_csv(path: str | Path) -> Dataset:
    """Samples as rows, comma-separated, the target in the last column; one header line is allowed.

    Blank lines and lines starting with ``#`` are skipped. Raises :class:`BadInput` naming the line of a ragged row,
    a field that is not a number, or a value that is not finite.
    """
    path = Path(path)
    text = _read_text(path)
    rows: list[list[float]] = []
    width = None
    seen_data = False
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = [f.strip() for f in stripped.split(",")]
        values = _numbers(fields)
        if values is None:
            if not seen_data and width is None:  # the first line that is not all numbers: the header
                width = len(fields)
                seen_data = True
                continue
            bad = next(f for f in fields if _numbers([f]) is None)
            raise BadInput(f"{path}:{lineno}: {bad!r} is not a number (a CSV of numbers, samples as rows, the "
                           "target in the last column; only the first line may be a header)")
        seen_data = True
        if width is None:
            width = len(values)
        if len(values) != width:
            raise BadInput(f"{path}:{lineno}: {len(values)} fields, but the first row has {width}: every row needs "
                           "the same number of columns (features, then the target)")
        if not all(math.isfinite(v) for v in values):
            raise BadInput(f"{path}:{lineno}: a value is not finite (nan or inf); remove or fill it")
        rows.append(values)
    if not rows:
        raise BadInput(f"{path}: no data rows (expected comma-separated numbers, the target in the last column)")
    if width is not None and width < 2:
        raise BadInput(f"{path}: one column only; the target is the last column, so at least one feature "
                       "column must come before it")
    table = np.array(rows)
    return _labelled(table[:, :-1], table[:, -1], path.name)


def load_npz(path: str | Path) -> Dataset:
    """An ``np.savez`` file with keys ``x`` (n, d), samples as rows, and ``y`` (n,) labels or (n, k) values."""
    path = Path(path)
    _check_file(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            missing = [k for k in ("x", "y") if k not in keys]
            if missing:
                raise BadInput(f"{path}: missing key {missing[0]!r} (found {', '.join(sorted(keys)) or 'none'}); "
                               "save it with np.savez(path, x=X, y=Y), samples as rows")
            x, y = archive["x"], archive["y"]
    except BadInput:
        raise
    except (OSError, ValueError) as err:
        raise BadInput(f"{path}: not a readable .npz file ({err}); write it with np.savez(path, x=X, y=Y)") from None
    if x.ndim != 2:
        raise BadInput(f"{path}: x has shape {x.shape}; expected (n, d), one sample per row")
    if y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
        raise BadInput(f"{path}: y has shape {y.shape} for {x.shape[0]} samples; expected ({x.shape[0]},) labels "
                       f"or ({x.shape[0]}, k) values, one row per sample")
    if x.shape[0] == 0:
        raise BadInput(f"{path}: no samples")
    for key, arr in (("x", x), ("y", y)):
        if arr.dtype.kind not in "biuf":
            raise BadInput(f"{path}: {key} has dtype {arr.dtype}; expected real numbers")
        if not np.all(np.isfinite(arr)):
            raise BadInput(f"{path}: {key} holds nan or inf; remove or fill those samples")
    return _labelled(x, y, path.name)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise BadInput(f"--data {path}: no such file (built-in sets: {', '.join(BUILTIN)})")
    if not path.is_file():
        raise BadInput(f"--data {path}: not a file")


def _read_text(path: Path) -> str:
    _check_file(path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not a UTF-8 text file (a CSV of numbers was expected)") from None
    except OSError as err:
        raise BadInput(f"{path}: cannot be read ({err.strerror})") from None


def load_dataset(name_or_path: str, seed: int = 0) -> Dataset:
    """A built-in set by name (``spiral``, ``moons`` drawn from ``seed``; ``digits``) or a ``.csv`` / ``.npz`` file."""
    if name_or_path == "spiral":
        return spiral(seed)
    if name_or_path == "moons":
        return moons(seed)
    if name_or_path == "digits":
        return digits()
    path = Path(name_or_path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return load_csv(path)
    if suffix == ".npz":
        return load_npz(path)
    raise BadInput(f"--data {name_or_path!r}: not a built-in set ({', '.join(BUILTIN)}) nor a .csv or .npz file")


# ----- fitting a dataset to a spec -------------------------------------------------------------------------------


def _net_hint(spec: ModelSpec, n_0: int | None = None, n_L: int | None = None) -> str:
    """``--net 2-...-3``: the net the message suggests, with the input and/or output width that would fit."""
    first = spec.sizes[0] if n_0 is None else n_0
    last = spec.sizes[-1] if n_L is None else n_L
    return f"--net {first}-...-{last}"


def check_fits(spec: ModelSpec, data: Dataset) -> None:
    """:class:`BadInput` in one line when ``data`` does not fit ``spec``: the input width, or targets the cost and
    output layer cannot take, with the flag that fixes it."""
    n_0, n_L = spec.sizes[0], spec.sizes[-1]
    if data.n_features != n_0:
        raise BadInput(f"{data.name} has {data.n_features} input features but the net's input layer has n_0 = "
                       f"{n_0}; use {_net_hint(spec, n_0=data.n_features)}")
    target = spec.cost_entry.target
    classes = data.n_classes
    if target is TargetKind.CLASSES:
        if classes is None:
            raise BadInput(f"cost {spec.cost} needs class labels 0, 1, ... but {data.name} has real targets; use a "
                           "regression cost (--cost mse) with an identity output")
        if classes > n_L:
            raise BadInput(f"{data.name} has {classes} classes (labels 0..{classes - 1}) but the output layer has "
                           f"n_L = {n_L} units; use {_net_hint(spec, n_L=classes)} for {data.name}'s {classes} "
                           "classes")
    elif target is TargetKind.BINARY:
        if classes is None:
            raise BadInput(f"cost {spec.cost} needs 0/1 (or class) labels but {data.name} has real targets; use a "
                           "regression cost (--cost mse) with an identity output")
        if n_L == 1 and classes > 2:
            raise BadInput(f"cost {spec.cost} with one output unit needs 0/1 labels but {data.name} has {classes} "
                           f"classes; use {_net_hint(spec, n_L=classes)} (one sigmoid unit per class, one-hot "
                           "targets) or --act ...,softmax --cost cce")
        if n_L > 1 and classes > n_L:
            raise BadInput(f"{data.name} has {classes} classes, trained as one-hot 0/1 targets with cost "
                           f"{spec.cost}, but n_L = {n_L}; use {_net_hint(spec, n_L=classes)}")
    else:
        if classes is None:
            k = data.y.shape[1]
            if k != n_L:
                raise BadInput(f"{data.name} has {k} real target(s) per sample but the output layer has n_L = "
                               f"{n_L}; use {_net_hint(spec, n_L=k)}")
        elif n_L > 1 and classes > n_L:
            raise BadInput(f"{data.name} has {classes} classes, trained as one-hot targets with cost {spec.cost}, "
                           f"but n_L = {n_L}; use {_net_hint(spec, n_L=classes)} (or n_L = 1 to fit the label as "
                           "a number)")


@dataclass(frozen=True, eq=False)
class TrainingSet:
    """A dataset as the kernels take it, samples as rows: ``x`` (m, n_0), ``y`` (m, n_L) targets.

    ``labels`` are the class labels accuracy is measured against (None: real targets, no accuracy); ``rule`` says
    how an output becomes a class: ``argmax`` over the units, or ``threshold`` a single unit at 0.5.
    """

    x: Array
    y: Array
    labels: Array | None
    rule: str | None
    name: str

    @property
    def m(self) -> int:
        return self.x.shape[0]

    def batch(self, spec: ModelSpec, rows: Array | slice) -> tuple[Array, Array]:
        """Samples ``rows`` in the spec's layout; the columns layout gets a transposed view (no copy)."""
        x, y = self.x[rows], self.y[rows]
        return (x.T, y.T) if spec.layout.columns else (x, y)


def prepare(spec: ModelSpec, data: Dataset) -> TrainingSet:
    """``data`` checked against ``spec`` (:func:`check_fits`) and its targets as the cost takes them: one-hot rows for
    cce, and for bce or a regression cost on classes with n_L > 1 (Nielsen's MNIST nets); a 0/1 column for bce with
    one output unit; real values for a regression cost otherwise."""
    check_fits(spec, data)
    n_L = spec.sizes[-1]
    target = spec.cost_entry.target
    labels = data.y if data.n_classes is not None else None
    if labels is not None and (target is TargetKind.CLASSES or n_L > 1):
        y = to_one_hot(labels, n_L, Layout.ROWS)
        rule: str | None = "argmax"
    elif labels is not None and target is TargetKind.BINARY:
        y = labels.astype(np.float64).reshape(-1, 1)
        rule = "threshold"
    else:
        # a regression cost: the label (or the values) as numbers; accuracy means nothing here
        y = (data.y.astype(np.float64).reshape(-1, 1) if data.y.ndim == 1 else data.y.astype(np.float64))
        labels, rule = None, None
    return TrainingSet(np.ascontiguousarray(data.x), np.ascontiguousarray(y), labels, rule, data.name)
