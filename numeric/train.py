"""Minibatch SGD with a generated kernel: ``bpv train`` as a library.

Every update is the kernel's own ``sgd_step(params, x, y, eta, *, masks=None, l2_n=None)``, printed from the derived
update rules (this module computes no gradient). Each epoch shuffles the training set with the seeded generator,
walks it in minibatches of ``batch_size`` (the last one may be smaller) and then measures, on the whole training set
and without dropout, the loss (``kernel.loss``) and the accuracy (``kernel.forward``):

* dropout: fresh 0/1 masks for every step, drawn from the same generator (:func:`numeric.dropout.random_mask`);
  the loss and accuracy are measured with dropout off (inverted dropout needs no rescaling at test time);
* batch normalisation: the kernels normalise with the statistics of the batch they are given (training mode, no
  running averages), so the epoch's loss and accuracy use the statistics of the whole training set;
* an L2 term: its n is the training-set size (Nielsen's (lambda / 2n) sum w^2), passed as ``l2_n`` to every step and
  to the loss. The spec's own n (``--l2-n``, which ``bpv verify`` needs without a training set) is not used: the
  term's n is the size of the set trained on, whatever set that is.

>>> from numeric.data import spiral
>>> from numeric.kernels import softmax_classifier
>>> spec = ModelSpec.build("2-20-3", "relu,softmax", "cce")
>>> result = train(spec, softmax_classifier, spiral(0), epochs=5, batch_size=32, eta=0.5, seed=0)
>>> [entry["epoch"] for entry in result.history]
[0, 1, 2, 3, 4, 5]
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from numeric.data import Dataset, TrainingSet, prepare
from numeric.dropout import random_mask
from numeric.errors import BadInput
from numeric.progress import Progress
from numeric.spec import ModelSpec

__all__ = ["Diverged", "TrainResult", "accuracy", "check_settings", "shipped_kernel", "train", "training_params"]

Array = np.ndarray


@dataclass
class TrainResult:
    """The trained parameters and one history entry per epoch, epoch 0 being the initial parameters.

    Each entry is ``{"epoch", "loss", "accuracy", "seconds"}``: the loss and accuracy on the whole training set
    after that epoch (accuracy None for real targets) and the seconds of training up to then.
    """

    params: dict[str, Array]
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def final(self) -> dict[str, Any]:
        return self.history[-1]


class Diverged(ArithmeticError):
    """The loss became NaN or infinite; ``result`` holds the history up to that epoch."""

    def __init__(self, message: str, result: TrainResult):
        super().__init__(message)
        self.result = result


def training_params(spec: ModelSpec, rng: np.random.Generator) -> dict[str, Array]:
    """Initial parameters for training: W^l Gaussian with variance 2 / n_{l-1} (He et al., so ReLU layers keep the
    scale of their inputs), zero biases, gamma = 1 and beta = 0 (a normalisation starts as the identity)."""
    params: dict[str, Array] = {}
    for layer in spec.layers:
        gamma = layer.norm.gamma if layer.norm is not None else None
        for name, shape in layer.param_shapes(spec.layout).items():
            if name == layer.W:
                params[name] = rng.standard_normal(shape) * math.sqrt(2.0 / layer.n_in)
            elif name == gamma:
                params[name] = np.ones(shape)
            else:
                params[name] = np.zeros(shape)
    return params


def shipped_kernel(spec: ModelSpec) -> ModuleType | None:
    """A shipped kernel (:mod:`numeric.kernels`) for ``spec``'s family that has ``sgd_step``, or None.

    A kernel serves every width of its family, so ``--net 2-100-3 --act relu,softmax --cost cce`` trains with
    ``softmax_classifier``'s kernel. A catalog model's own module is preferred; a module whose ``FAMILY`` differs
    from the spec's (printed for another family) is never used.
    """
    from numeric.kernels import KERNELS

    family = spec.family_key()
    ordered = ([KERNELS[spec.name]] if spec.name in KERNELS else []) + list(KERNELS.values())
    for module in ordered:
        if getattr(module, "FAMILY", None) == family and callable(getattr(module, "sgd_step", None)):
            return module
    return None


def accuracy(spec: ModelSpec, output: Array, labels: Array, rule: str) -> float:
    """The fraction of samples whose output names their class: ``argmax`` over the units, or ``threshold`` (a single
    unit, class 1 when above 0.5). ``output`` is in the spec's layout."""
    a = spec.layout.to_columns(np.asarray(output))
    predicted = np.argmax(a, axis=0) if rule == "argmax" else (a[0] > 0.5).astype(np.int64)
    return float(np.mean(predicted == labels))


def check_settings(epochs: int, batch_size: int, eta: float, seed: int) -> None:
    """:class:`BadInput` naming the flag when a training setting is out of range."""
    for flag, value in (("--epochs", epochs), ("--batch-size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise BadInput(f"{flag} must be a positive integer, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise BadInput(f"--seed must be a non-negative integer, got {seed!r}")
    if not isinstance(eta, (int, float, np.floating)) or not math.isfinite(eta) or eta <= 0:
        raise BadInput(f"--eta must be a positive finite learning rate, e.g. 0.1; got {eta!r}")


def _check_kernel(spec: ModelSpec, kernel: Any) -> None:
    family = getattr(kernel, "FAMILY", None)
    if family != spec.family_key():
        raise BadInput(f"the kernel serves the family {family!r}, not {spec.family_key()!r} ({spec.title}); "
                       "generate one for this model with bpv kernels")
    missing = [name for name in ("sgd_step", "loss", "forward") if not callable(getattr(kernel, name, None))]
    if missing:
        raise BadInput(f"the kernel for {spec.title} has no {', '.join(missing)} (printed by an older bpv); "
                       "regenerate it with bpv kernels")


def train(spec: ModelSpec, kernel: Any, data: Dataset | TrainingSet, *, epochs: int, batch_size: int, eta: float,
          seed: int, progress: Progress | None = None) -> TrainResult:
    """Train ``spec`` on ``data`` by minibatch SGD through ``kernel.sgd_step`` (see the module doc).

    ``kernel`` is a generated kernel module of ``spec``'s family (``FAMILY == spec.family_key()``). The seed decides
    the initial parameters, the order of every epoch and the dropout masks. ``progress`` (a :class:`Progress` over
    ``epochs`` units) gets a bar with an ETA. Raises :class:`BadInput` for settings or data that do not fit, and
    :class:`Diverged` when the loss is no longer finite (the learning rate is too large, as a rule).
    """
    check_settings(epochs, batch_size, eta, seed)
    _check_kernel(spec, kernel)
    ts = data if isinstance(data, TrainingSet) else prepare(spec, data)
    rng = np.random.default_rng(seed)
    params = training_params(spec, rng)
    m = ts.m
    step = min(batch_size, m)
    drop = spec.dropout_layers()
    # the L2 term's n is the training-set size (Nielsen's n); a kernel without an L2 term takes no l2_n
    extra: dict[str, Any] = {} if spec.penalty is None else {"l2_n": m}
    x_all, y_all = ts.batch(spec, slice(None))
    result = TrainResult(params)

    def measure(epoch: int, seconds: float) -> dict[str, Any]:
        loss = float(kernel.loss(result.params, x_all, y_all, **extra))
        acc = None
        if ts.labels is not None and ts.rule is not None and math.isfinite(loss):
            acc = accuracy(spec, kernel.forward(result.params, x_all), ts.labels, ts.rule)
        entry = {"epoch": epoch, "loss": loss, "accuracy": acc, "seconds": seconds}
        result.history.append(entry)
        if not math.isfinite(loss):
            raise Diverged(f"training diverged at epoch {epoch}: the loss is {loss} with --eta {eta:g}; try a "
                           f"smaller learning rate, e.g. --eta {eta / 10:g}", result)
        return entry

    t0 = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run ends with a clear message, not warnings
        measure(0, 0.0)
        for epoch in range(1, epochs + 1):
            order = rng.permutation(m)
            for start in range(0, m, step):
                x, y = ts.batch(spec, order[start:start + step])
                kw = dict(extra)
                if drop:
                    # fresh masks every step: each minibatch trains a different thinned network
                    b = x.shape[spec.layout.sample_axis]
                    kw["masks"] = {d.mask: random_mask(rng, d.mask_shape(spec.layout, b), d.keep) for d in drop}
                result.params = kernel.sgd_step(result.params, x, y, eta, **kw)
            entry = measure(epoch, time.perf_counter() - t0)
            if progress is not None:
                progress.bar(epoch, f"training, loss {entry['loss']:.4g}")
    return result
