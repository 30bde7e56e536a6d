"""The argument checks of a kernel (``KEYS``, ``_array``, ``_parameters``, ``_inputs``, ``_targets``).

They are not printed from a derivation: they are plain Python kept in ``templates/validation.py`` (linted like the
rest of the package), filled in with the shapes of the model's layout and the sections the model has. The template
explains its placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources

from numeric.functions import TargetKind
from numeric.spec import Layout, ModelSpec

__all__ = ["fill_template", "template_text", "validation_source"]

#: the line after which the template is copied
_START = "# ----- template: copied from the next line on -----\n"
_PLACEHOLDER = re.compile(r"\bTPL_[A-Z_]+\b")
_MACRO = re.compile(r"\bTPL_(MATRIX|VECTOR|BATCH|AXES)\(")
_SECTION = re.compile(r" *# <(/?)(\w+)>")
_OPEN, _CLOSE = "([{", ")]}"


def _pair(shape: tuple) -> str:
    return f"({shape[0]}, {shape[1]})"


#: the shape macros, as the layout writes them (docs/conventions.md § Parameters)
_SHAPES: Mapping[str, Callable[..., str]] = {
    "MATRIX": lambda layout, n_out, n_in: _pair(layout.matrix(n_out, n_in)),
    "VECTOR": lambda layout, n: _pair(layout.vector(n)),
    "BATCH": lambda layout, n, m: _pair(layout.batch(n, m)),
    "AXES": lambda layout, unit, sample: ", ".join(layout.batch(unit, sample)),
}


@cache
def template_text(name: str = "validation") -> str:
    """What is copied of ``templates/<name>.py``: everything after its template line."""
    text = resources.files("derive.codegen").joinpath(f"templates/{name}.py").read_text(encoding="ascii")
    return text.split(_START, 1)[1]


def _arguments(text: str, start: int) -> tuple[list[str], int]:
    """The comma-separated arguments of a call whose "(" ends at ``start``, and the index after its ")"."""
    args, depth, begin = [], 0, start
    for i in range(start, len(text)):
        ch = text[i]
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE and depth:
            depth -= 1
        elif ch == ")" or (ch == "," and depth == 0):
            args.append(text[begin:i].strip())
            begin = i + 1
            if ch == ")":
                return args, i + 1
    raise ValueError(f"unbalanced macro call in the template at {text[start - 20:start + 20]!r}")


def _expand_shapes(text: str, layout: Layout) -> str:
    out, i = [], 0
    while (found := _MACRO.search(text, i)) is not None:
        args, end = _arguments(text, found.end())
        out += [text[i:found.start()], _SHAPES[found.group(1)](layout, *args)]
        i = end
    return "".join(out) + text[i:]


def _keep_sections(text: str, sections: Mapping[str, bool]) -> str:
    """Drop the section markers, and the lines of every section the model does not have."""
    kept, open_sections = [], []
    for line in text.splitlines(keepends=True):
        marker = _SECTION.fullmatch(line.rstrip("\n"))
        if marker is None:
            if all(sections[s] for s in open_sections):
                kept.append(line)
        elif marker.group(1):
            open_sections.remove(marker.group(2))
        else:
            open_sections.append(marker.group(2))
    return "".join(kept)


def fill_template(text: str, layout: Layout, values: Mapping[str, str], sections: Mapping[str, bool]) -> str:
    """``text`` with its sections chosen, its shape macros expanded for ``layout`` and every placeholder filled
    (an unknown placeholder is an error, not a silent leftover)."""
    text = _expand_shapes(_keep_sections(text, sections), layout)

    def value(found: re.Match) -> str:
        name = found.group(0)[len("TPL_"):]
        if name not in values:
            raise KeyError(f"template placeholder {found.group(0)} has no value")
        return values[name]

    return _PLACEHOLDER.sub(value, text)


def validation_source(spec: ModelSpec) -> str:
    """The argument checks of the kernel for ``spec``'s family."""
    layout = spec.layout
    labels = spec.cost_entry.target is TargetKind.CLASSES
    w_axes, x_axes = layout.matrix("out", "in"), layout.batch("unit", "sample")
    keys = spec.param_names()
    masks = tuple(d.mask for d in spec.dropout_layers())
    values = {
        "KEYS": repr(tuple(keys)),
        "W_AT": repr(tuple(keys.index(layer.W) for layer in spec.layers)),
        "NORM_AT": "2" if spec.bias else "1",
        "MASKS": repr(masks),
        "W_IN": str(w_axes.index("in")),
        "W_OUT": str(w_axes.index("out")),
        "UNIT_AXIS": str(x_axes.index("unit")),
        "LAYOUT": str(layout),
        "SAMPLE_NOUN": "column" if layout.columns else "row",
        "LABELS_DOC": "; integer class labels of length m are one-hot encoded" if labels else "",
    }
    sections = {"bias": spec.bias, "labels": labels, "reals": not labels, "norm": spec.norm is not None,
                "dropout": bool(masks)}
    return fill_template(template_text(), layout, values, sections)
