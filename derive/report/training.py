"""The Training section (``bpv report MODEL --history FILE``): the loss and accuracy curves of a ``bpv train`` run.

The history is the JSON ``bpv train --json`` writes: the spec it trained, the data, the seed, eta, the batch size
and ``history: [{epoch, loss, accuracy, seconds}]``. It is read as data only (numbers, checked), and a history of
another model is refused, so a report never shows the curves of a different net.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from derive.core.texbuild import escape_tex
from derive.report import layout
from derive.report.data import ReportData
from derive.report.plots import coords_tex
from numeric.errors import BadInput
from numeric.spec import ModelSpec

__all__ = ["load_history", "training_tex"]

#: at most this many points per curve (a 10 000-epoch run is thinned evenly; the last epoch is kept)
MAX_POINTS = 400


def _number(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(float(value)):
        raise BadInput(f"{where} must be a finite number, got {value!r}")
    return float(value)


def load_history(path: str | Path, spec: ModelSpec) -> dict:
    """The training run in ``path`` (a ``bpv train --json`` file) for ``spec``: {"history": [...], "run": {...}}."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"--history {p}: no such file (write one with bpv train ... --json {p})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"--history {p}: not a bpv train JSON file ({type(exc).__name__}: {exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("history"), list) or not doc["history"]:
        raise BadInput(f"--history {p}: no 'history' list in it (write it with bpv train ... --json {p})")
    try:
        trained = ModelSpec.from_dict(doc["spec"])
    except Exception as exc:
        raise BadInput(f"--history {p}: its 'spec' is not a bpv model ({type(exc).__name__}: {exc})") from None
    if trained.family_key() != spec.family_key() or trained.sizes != spec.sizes:
        raise BadInput(f"--history {p} is a run of {trained.title} ({trained.cli_args()}), not of {spec.title}")
    rows = []
    for i, entry in enumerate(doc["history"]):
        if not isinstance(entry, dict):
            raise BadInput(f"--history {p}: history[{i}] is not an object")
        rows.append({"epoch": _number(entry.get("epoch"), f"history[{i}].epoch"),
                     "loss": _number(entry.get("loss"), f"history[{i}].loss"),
                     "accuracy": _number(entry.get("accuracy"), f"history[{i}].accuracy")})
    run = {k: doc.get(k) for k in ("data", "seed", "eta", "batch_size", "epochs")}
    return {"history": rows, "run": run, "path": str(p)}


def _thinned(rows: list[dict]) -> list[dict]:
    if len(rows) <= MAX_POINTS:
        return rows
    step = len(rows) / MAX_POINTS
    keep = sorted({int(i * step) for i in range(MAX_POINTS)} | {len(rows) - 1})
    return [rows[i] for i in keep]


def _plot(rows: list[dict], key: str, label: str, log: bool) -> str:
    xs = [r["epoch"] for r in rows]
    ys = [r[key] for r in rows]
    axis = "semilogyaxis" if log and all(y > 0 for y in ys) else "axis"
    return "\n".join([
        "\\begin{tikzpicture}",
        f"\\begin{{{axis}}}[width=75mm, height=52mm, xlabel={{epoch}}, ylabel={{{label}}}, axis lines=left, "
        "tick label style={font=\\scriptsize}, label style={font=\\small}, grid=major, grid style={gray!20}]",
        f"\\addplot[thick, color=bpvblue, mark=none] {coords_tex(xs, ys)};",
        f"\\end{{{axis}}}",
        "\\end{tikzpicture}",
    ])


def training_tex(data: ReportData, level: str) -> str:
    """The section, with its own heading; "" when no history was given."""
    if data.history is None:
        return ""
    rows = _thinned(data.history["history"])
    run = data.history["run"]
    last = data.history["history"][-1]
    words = [f"{escape_tex(str(run.get('data')))} data" if run.get("data") else "",
             f"$\\eta = {run['eta']:g}$" if isinstance(run.get("eta"), int | float) else "",
             f"batches of {run['batch_size']}" if isinstance(run.get("batch_size"), int) else "",
             f"seed {run['seed']}" if isinstance(run.get("seed"), int) else ""]
    text = (f"Minibatch gradient descent with this model's generated kernel (its \\texttt{{sgd\\_step}}, printed "
            f"from the derived update rules), {', '.join(w for w in words if w)}; from "
            f"\\texttt{{{escape_tex(data.history['path'])}}}. After epoch {last['epoch']:g} the training loss is "
            f"{last['loss']:.4g}" + (f" and the training accuracy {100 * last['accuracy']:.1f}\\,\\%."
                                     if last["accuracy"] is not None else "."))
    pics = [_plot(rows, "loss", "training loss", log=True)]
    if all(r["accuracy"] is not None for r in rows):
        pics.append(_plot(rows, "accuracy", "training accuracy", log=False))
    figure = "\\begin{center}\n" + "\\hfill".join(data.figure(p) for p in pics) + "\n\\end{center}"
    return "\n\n".join([layout.heading(level, "Training"), text, figure])
