"""The built-in catalog of textbook claims, verified by ``bpv check --catalog``.

Each entry is an equation as textbooks and course notes print it (typed in here as a *claim*, never used as a
result), with the context it is stated in. Checking the catalog runs each one through the same pipeline as a
user's document: notation layer, ``latex2sympy2``, semantics, verdict against the composed cost.

* BP1-BP4 of Nielsen's *Neural Networks and Deep Learning*, element-wise and vector forms (sigmoid net,
  quadratic cost; BP2 again on a net with two hidden layers, tanh and cross-entropy);
* σ' = σ(1 − σ); the binary cross-entropy derivative ∂C/∂a = (a − y)/(a(1 − a)); δ^L = a − y for a sigmoid
  output with binary cross-entropy;
* the course-notes batch forms dW = (1/m) dZ Aᵀ, db = (1/m) Σ_i dZ^{(i)}, dA^{l−1} = Wᵀ dZ, in the course
  notes' convention (dZ stacks the per-sample ∂C_x/∂z);
* past the dense layer (:data:`BLOCK_CATALOG`): Nielsen's L2 gradient (eq. 87) and weight-decay update (eq. 93),
  the inverted-dropout backward dA = dOut * M / p, batch normalisation's dgamma, dbeta and CS231n's compact dx.

:func:`round_trip` checks that what was understood, printed with the book printer and read again, is the same
expression (for every catalog entry: tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.claims.notation import echo, split_relation, understand_equation

__all__ = ["BLOCK_CATALOG", "CATALOG", "CatalogClaim", "catalog_document", "round_trip"]


@dataclass(frozen=True)
class CatalogClaim:
    """A textbook equation: ``name``, ``latex``, the ``context`` directive it is stated in, where it comes from."""

    name: str
    latex: str
    context: str
    source: str


_NIELSEN = "act=sigmoid cost=quadratic net=2-3-2"
_DEEP = "net=2-2-2-1 act=tanh,sigmoid,sigmoid cost=bce"
_COURSE = "net=2-3-1 act=sigmoid cost=bce reduction=mean convention=course"

CATALOG: tuple[CatalogClaim, ...] = (
    CatalogClaim("BP1", r"\delta^L_j = \frac{\partial C}{\partial a^L_j} \sigma'(z^L_j)", _NIELSEN, "Nielsen (BP1)"),
    CatalogClaim("BP1a", r"\delta^L = \nabla_a C \odot \sigma'(z^L)", _NIELSEN, "Nielsen (BP1a)"),
    CatalogClaim("BP2", r"\delta^l_j = \sum_k w^{l+1}_{kj} \delta^{l+1}_k \sigma'(z^l_j)", _NIELSEN,
                 "Nielsen (BP2, element-wise)"),
    CatalogClaim("BP2v", r"\delta^l = ((w^{l+1})^T \delta^{l+1}) \odot \sigma'(z^l)", _NIELSEN, "Nielsen (BP2)"),
    CatalogClaim("BP3", r"\frac{\partial C}{\partial b^l_j} = \delta^l_j", _NIELSEN, "Nielsen (BP3)"),
    CatalogClaim("BP3v", r"\frac{\partial C}{\partial b^l} = \delta^l", _NIELSEN, "Nielsen (BP3, vector)"),
    CatalogClaim("BP4", r"\frac{\partial C}{\partial w^l_{jk}} = a^{l-1}_k \delta^l_j", _NIELSEN, "Nielsen (BP4)"),
    CatalogClaim("BP4v", r"\frac{\partial C}{\partial w^l} = \delta^l (a^{l-1})^T", _NIELSEN,
                 "Nielsen (BP4, vector)"),
    CatalogClaim("BP2-deep", r"\delta^l_j = \sum_k w^{l+1}_{kj} \delta^{l+1}_k \sigma'(z^l_j)", _DEEP,
                 "BP2 on a 2-2-2-1 tanh/sigmoid net (two hidden layers)"),
    CatalogClaim("sigmoid'", r"\sigma'(z) = \sigma(z)(1 - \sigma(z))", _NIELSEN, "the logistic sigmoid"),
    CatalogClaim("bce'", r"\frac{\partial C}{\partial a} = \frac{a - y}{a(1 - a)}",
                 "net=2-3-1 act=sigmoid cost=bce", "binary cross-entropy derivative"),
    CatalogClaim("delta^L", r"\delta^L = a^L - y", "net=2-3-1 act=sigmoid cost=bce",
                 "sigmoid output with binary cross-entropy"),
    CatalogClaim("dW", r"dW^{[l]} = \frac{1}{m} dZ^{[l]} A^{[l-1]T}", _COURSE, "course notes (batch, columns)"),
    CatalogClaim("db", r"db^{[l]} = \frac{1}{m} \sum_{i=1}^{m} dZ^{[l](i)}", _COURSE,
                 "course notes (batch, columns)"),
    CatalogClaim("dA", r"dA^{[l-1]} = W^{[l]T} dZ^{[l]}", _COURSE, "course notes (batch, columns)"),
    CatalogClaim("dZ^L", r"dZ^{[L]} = A^{[L]} - Y", _COURSE, "course notes: sigmoid output, cross-entropy"),
)


_L2 = "net=2-3-2 act=sigmoid cost=quadratic l2=5 l2_n=50"
_DROPOUT = "net=2-3-1 act=relu,sigmoid cost=bce keep_prob=0.8"
_BATCHNORM = "net=2-3-1 act=relu,sigmoid cost=bce norm=batch"

#: claims about the blocks past the dense layer, in the blocks' own names (read by :mod:`derive.claims.block_reader`,
#: not by the dense reader: they are not in the round trip of :data:`CATALOG`)
BLOCK_CATALOG: tuple[CatalogClaim, ...] = (
    CatalogClaim("L2-dw", r"\frac{\partial C}{\partial w} = \frac{\partial C_0}{\partial w} + \frac{\lambda}{n} w", _L2,
                 "Nielsen eq. 87, L2 regularisation: the gradient of a weight"),
    CatalogClaim("L2-db", r"\frac{\partial C}{\partial b} = \frac{\partial C_0}{\partial b}", _L2,
                 "Nielsen eq. 87: biases are not regularised"),
    CatalogClaim("L2-update", r"w \rightarrow \left(1 - \frac{\eta \lambda}{n}\right) w - \eta \frac{\partial C_0}"
                 r"{\partial w}", _L2, "Nielsen eq. 93, weight decay (the SGD update)"),
    CatalogClaim("dropout-dA", r"dA = dOut * M / p", _DROPOUT, "inverted dropout, backward (the 1/p both ways)"),
    CatalogClaim("BN-dgamma", r"d\gamma = \sum_i dy_i \hat{x}_i", _BATCHNORM, "batch normalisation: dgamma"),
    CatalogClaim("BN-dbeta", r"d\beta = \sum_i dy_i", _BATCHNORM, "batch normalisation: dbeta"),
    CatalogClaim("BN-dx", r"dx = \frac{1}{m} \gamma (\sigma^2 + \epsilon)^{-1/2} \left(m\, dy - \sum_i dy_i - \hat{x} "
                 r"\sum_i dy_i \hat{x}_i\right)", _BATCHNORM, "CS231n, batch normalisation: the compact backward"),
)


def catalog_document() -> str:
    """The catalog as a Markdown document with one directive per claim (what ``bpv check --catalog`` checks)."""
    parts = ["# bpv catalog of textbook claims", ""]
    for c in (*CATALOG, *BLOCK_CATALOG):
        parts += [f"<!-- bpv: {c.context} -->", f"{c.source}:", "", f"$$ {c.latex} \\tag{{{c.name}}} $$", ""]
    return "\n".join(parts)


def round_trip(latex: str) -> tuple[bool, list[sp.Basic], list[sp.Basic]]:
    """Parse -> print with the book printer -> parse: (same?, first reading, second reading)."""
    first = understand_equation(split_relation(latex))
    printed = " = ".join(echo(s) for s in first)
    second = understand_equation(split_relation(printed))
    return first == second, first, second
