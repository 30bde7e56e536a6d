"""The evidence sections: the generated kernel as a listing, and the verification table.

The kernel is :func:`derive.codegen.kernel.generate_kernel_source`'s module (or the shipped one); the table has one
row per witness pair and gradient block of :func:`derive.verification.verify_model`'s result, with the
block-relative error, the bound of the methods and the verdict.
"""

from __future__ import annotations

from derive.core.texbuild import escape_tex
from derive.report import layout
from derive.report.data import KERNEL, VERIFICATION, ReportData
from derive.verification.rows import Verdict

__all__ = ["kernel_tex", "sci", "verification_tex"]

_VERDICTS = {Verdict.HOLDS: "\\textcolor{bpvgreen}{holds}", Verdict.FAILS: "\\textcolor{bpvred}{\\textbf{fails}}",
             Verdict.SKIPPED: "\\textcolor{bpvgrey}{skipped}"}
_RAGGED, _RIGHT = ">{\\raggedright\\arraybackslash}", ">{\\raggedleft\\arraybackslash}"
# fixed widths only: the document is typeset in one pass, so longtable cannot carry widths across pages
_COLUMNS = (f"{_RAGGED}p{{0.22\\linewidth}}{_RAGGED}p{{0.15\\linewidth}}{_RIGHT}p{{0.11\\linewidth}}"
            f"{_RIGHT}p{{0.11\\linewidth}}{_RAGGED}p{{0.07\\linewidth}}{_RAGGED}p{{0.2\\linewidth}}")


def kernel_tex(data: ReportData, level: str) -> str:
    if data.kernel_source is None:
        return layout.missing_tex("The kernel listing", data.missing.get(KERNEL, "not available"))
    intro = (f"The NumPy module below is {escape_tex(data.kernel_origin)}: each assignment is one named "
             "quantity of the derivation above ($z^l$, $a^l$, $\\delta^l$, the gradients), printed from the "
             "proven closed or stable forms, and the layers are matrix products over the batch.")
    return "\n\n".join([intro, layout.kernel_tex(data.kernel_source)])


def sci(value: float | None) -> str:
    """A number for a table cell: ``$1.2 \\cdot 10^{-5}$``, ``--`` for none."""
    if value is None:
        return "--"
    if value != value or value in (float("inf"), float("-inf")):
        return "$\\infty$" if value == float("inf") else "NaN"
    if value == 0:
        return "$0$"
    mant, exp = f"{value:.1e}".split("e")
    return f"${mant} \\cdot 10^{{{int(exp)}}}$"


def _breakable(tex: str) -> str:
    """Allow line breaks after / and _ in long names (numeric/kernels/binary_classifier.py) in narrow cells."""
    return tex.replace("/", "/\\allowbreak{}").replace("\\_", "\\_\\allowbreak{}")


def _table_rows(rows) -> list[list[str]]:
    """One row per comparison; a rule between witness pairs, the pair named once."""
    out, last = [], None
    for r in rows:
        pair = (r.check, r.witness, r.reference)
        if last is not None and pair != last:
            out.append(["\\midrule %"])
        first = pair != last
        last = pair
        why = "; ".join(t for t in (r.method, r.detail) if t)
        pair_tex = _breakable(f"{layout.prose(r.witness)} vs {layout.prose(r.reference)}") if first else ""
        out.append([pair_tex, f"{{\\scriptsize {_breakable(layout.prose(r.block))}}}", sci(r.error), sci(r.bound),
                    _VERDICTS.get(r.verdict, layout.prose(r.verdict)),
                    f"{{\\scriptsize {_breakable(layout.prose(why))}}}"])
    return out


def verification_tex(data: ReportData, level: str) -> str:
    v = data.verification
    if v is None:
        return layout.missing_tex("The verification table", data.missing.get(VERIFICATION, "not available"))
    out = ["Each row compares two independent witnesses of the same gradient block on one random instance "
           f"(seed {int(v.seed)}). The error is block-relative, $\\max_i |g_i - r_i| / \\max_i |r_i|$; the bound "
           "depends on the methods: $10^{-12}$ between exact methods and for the complex step, $10^{-7}$ for "
           "central differences with Richardson extrapolation."]
    out.append("{\\setlength{\\tabcolsep}{4pt}" + layout.table_tex(
        ["witness vs reference", "block", "error", "bound", "verdict", "method, detail"], _table_rows(v.rows),
        _COLUMNS, long=True) + "}")
    c = v.counts()
    state = "\\textcolor{bpvgreen}{verified}" if v.ok else "\\textcolor{bpvred}{\\textbf{not verified}}"
    holds, fails, skipped = (c.get(verdict.value, 0) for verdict in (Verdict.HOLDS, Verdict.FAILS, Verdict.SKIPPED))
    out.append(f"Summary: {state}; {len(v.rows)} comparisons, {holds} hold, {fails} fail, {skipped} skipped. "
               f"Reproduce with {layout.tt(v.reproduce())}.")
    out.extend(f"{{\\small {layout.prose(note)}.}}" for note in getattr(v, "notes", []) or [])
    return "\n\n".join(out)
