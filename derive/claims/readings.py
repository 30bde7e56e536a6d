"""The conventions a claim is read under, where the notes differ: dZ/dA, the Jacobian layout, the product ``×``.

:class:`Reading` is one choice of each; :mod:`derive.claims.evaluator` evaluates a claim under it and raises
:class:`CrossAmbiguous` where ``×`` could be either product, and :mod:`derive.claims.verdicts` tries the readings a
claim depends on (holding under one and not another is *ambiguous*).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CrossAmbiguous", "Reading"]


@dataclass(frozen=True)
class Reading:
    """The conventions a claim is read under: what dZ/dA mean (``per_sample`` or ``batch``), the layout of a
    Jacobian (``numerator``: J_iq = ∂u_i/∂v_q, or ``denominator``) and ``×`` where both products fit
    (``None``: by shape, ``matrix`` or ``elementwise``)."""

    dz: str = "per_sample"
    jacobian: str = "numerator"
    cross: str | None = None

    def describe(self, fields: tuple[str, ...] = ("dz", "jacobian", "cross")) -> str:
        """The reading in words, for the named fields (those that matter to the claim)."""
        out = []
        if "dz" in fields:
            out.append("dZ/dA = dC/dZ of the batch" if self.dz == "batch" else
                       "dZ/dA the per-sample dC_x/dZ (course notes)")
        if "jacobian" in fields:
            out.append(f"the Jacobian in the {self.jacobian} layout "
                       f"({'∂u_j/∂v_i' if self.jacobian == 'denominator' else '∂u_i/∂v_j'})")
        if "cross" in fields and self.cross:
            out.append(f"× as the {'matrix' if self.cross == 'matrix' else 'element-wise'} product")
        return ", ".join(out)


class CrossAmbiguous(Exception):
    """``×`` of two matrices where the matrix and the element-wise product both fit and differ."""
