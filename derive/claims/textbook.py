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
  the inverted-dropout backward dA = dOut * M / p, batch normalisation's dgamma, dbeta and CS231n's compact dx;
* layers with shared weights (:data:`SHARED_CATALOG`, issue 14): the convolution's dK, db and dX in index notation
  (the dilated-G form, the full convolution with the flipped kernel, a stride-1 form of the model's layer), max-pool
  routing to the first maximum, and backpropagation through time of min-char-rnn (dy, dh with dh_next, dh_raw,
  the parameter gradients summed over the steps).

:func:`round_trip` checks that what was understood, printed with the book printer and read again, is the same
expression (for every catalog entry: tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.claims.notation import echo, split_relation, understand_equation

__all__ = ["BLOCK_CATALOG", "CATALOG", "SHARED_CATALOG", "CatalogClaim", "catalog_document", "round_trip"]


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


_CONV = "model=lenet_tiny"
_RNN = "model=char_rnn"

#: claims about layers with shared weights, in the layers' own names (read by :mod:`derive.claims.shared_names`;
#: convolution and max-pool in index notation, 0-based; the recurrent net in matrix notation)
SHARED_CATALOG: tuple[CatalogClaim, ...] = (
    CatalogClaim("conv-dK", r"\frac{\partial C}{\partial K_{o,c,u,v}} = \sum_{n,i,j} \delta_{n,o,i,j} \, "
                 r"X_{n,c,\,i s+u-p,\,j s+v-p}", _CONV,
                 "convolution, kernel gradient: the input correlated with the upstream gradient (stride s, padding p)"),
    CatalogClaim("conv-db", r"\frac{\partial C}{\partial b_o} = \sum_{n,i,j} \delta_{n,o,i,j}", _CONV,
                 "convolution, bias gradient: the upstream gradient summed over samples and positions"),
    CatalogClaim("conv-dX", r"\frac{\partial C}{\partial X_{n,c,h,w}} = \sum_{o,u,v} \delta_{n,o,\,(h+p-u)/s,\,"
                 r"(w+p-v)/s} \, K_{o,c,u,v}", _CONV,
                 "convolution, input gradient: G dilated by the stride (an entry off the grid is 0)"),
    CatalogClaim("conv-dx-full", r"dx_{n,c,h,w} = \sum_{f,u,v} dout_{n,f,\,(h+p-k+1+u)/s,\,(w+p-k+1+v)/s} \, "
                 r"w_{f,c,k-1-u,k-1-v}", _CONV,
                 "convolution, input gradient (CS231n names): the full convolution of dout with the flipped kernel"),
    CatalogClaim("conv-dw-model", r"dw_{f,c,u,v} = \sum_{n,i,j} dout_{n,f,i,j} \, x_{n,c,i+u-1,j+v-1}", _CONV,
                 "convolution, kernel gradient of the model's layer (stride 1, padding 1)"),
    CatalogClaim("pool-route", r"\frac{\partial C}{\partial X_{h,w}} = G_{\lfloor h/2 \rfloor,\lfloor w/2 \rfloor} "
                 r"\, \mathbb{1}\left[(h,w) = \operatorname{argmax} P_{\lfloor h/2 \rfloor,\lfloor w/2 \rfloor}"
                 r"\right]", _CONV, "2 x 2 max-pool: the gradient goes to the (first) maximum of each window"),
    CatalogClaim("rnn-dy", r"dy_t = \frac{1}{m} (p_t - y_t)", _RNN,
                 "RNN: softmax with cross-entropy at each step (y_t the one-hot target)"),
    CatalogClaim("rnn-dh", r"dh_t = W_{hy}^T dy_t + dh_{next}", _RNN,
                 "BPTT: the state gets the gradient of its output and of the next step"),
    CatalogClaim("rnn-dhraw", r"dh_{raw,t} = (1 - h_t \odot h_t) \odot dh_t", _RNN, "BPTT: back through the tanh"),
    CatalogClaim("rnn-dh-next", r"\frac{\partial C}{\partial h^{(t)}} = W_{hy}^T dy^{(t)} + W_{hh}^T dh_{raw}^{(t+1)}",
                 _RNN, "BPTT with superscript steps: what step t + 1 sends back to h_t written out (0 after T)"),
    CatalogClaim("rnn-dWhh", r"dW_{hh} = \sum_{t=1}^{T} dh_{raw,t} \, h_{t-1}^T", _RNN,
                 "BPTT: the recurrent weights, summed over the steps"),
    CatalogClaim("rnn-dWxh", r"dW_{xh} = \sum_t dh_{raw,t} \, x_t^T", _RNN, "BPTT: the input weights"),
    CatalogClaim("rnn-dWhy", r"\frac{\partial C}{\partial W_{hy}} = \sum_t dy_t \, h_t^T", _RNN,
                 "BPTT: the output weights"),
    CatalogClaim("rnn-dbh", r"db_h = \sum_t dh_{raw,t} \mathbb{1}", _RNN,
                 "BPTT: the hidden bias (the ones vector sums over the sequences)"),
    CatalogClaim("rnn-dby", r"db_y = \sum_t dy_t", _RNN, "BPTT: the output bias"),
)


def catalog_document() -> str:
    """The catalog as a Markdown document with one directive per claim (what ``bpv check --catalog`` checks)."""
    parts = ["# bpv catalog of textbook claims", ""]
    for c in (*CATALOG, *BLOCK_CATALOG, *SHARED_CATALOG):
        parts += [f"<!-- bpv: {c.context} -->", f"{c.source}:", "", f"$$ {c.latex} \\tag{{{c.name}}} $$", ""]
    return "\n".join(parts)


def round_trip(latex: str) -> tuple[bool, list[sp.Basic], list[sp.Basic]]:
    """Parse -> print with the book printer -> parse: (same?, first reading, second reading)."""
    first = understand_equation(split_relation(latex))
    printed = " = ".join(echo(s) for s in first)
    second = understand_equation(split_relation(printed))
    return first == second, first, second
