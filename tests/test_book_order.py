"""The book printer prints terms and factors in the order textbooks use (issue 18, item 1)."""

from __future__ import annotations

import sympy as sp

from derive.core.book import book_latex, book_text
from derive.core.symbols import a, b, delta, w

j, k, l, m, x, n = sp.symbols("j k l m x n")
y = sp.IndexedBase("y")
C = sp.IndexedBase("C")


def test_sums_before_biases_and_weights_before_activations():
    z = b[l, j] + sp.Sum(a[l - 1, k] * w[l, j, k], (k, 0, n - 1))
    assert book_latex(z) == r"\sum_{k=0}^{n - 1} w^{l}_{jk} a^{l - 1}_{k} + b^{l}_{j}"
    assert book_text(z).endswith("+ b^l_j") and book_text(z).index("w^l_jk") < book_text(z).index("a^(l - 1)_k")


def test_constants_outside_sums():
    assert book_latex(sp.Sum(C[x], (x, 1, m)) / m) == r"\frac{1}{m} \sum_{x=1}^{m} C_{x}"
    quadratic = sp.Sum((a[2, k] - y[k]) ** 2, (k, 0, n - 1)) / n
    assert book_latex(quadratic).startswith(r"\frac{1}{n} \sum")


def test_cross_entropy_reads_y_ln_a_first_and_positive_terms_lead():
    bce = -sp.Sum(y[k] * sp.log(a[2, k]) + (1 - y[k]) * sp.log(1 - a[2, k]), (k, 0, n - 1))
    tex = book_latex(bce)
    assert tex.index(r"y_{k} \ln") < tex.index(r"\left(1 - y_{k}\right) \ln")
    mu, z = sp.symbols("mu z")
    assert book_latex(z - mu) == r"z - \mu"


def test_sigma_prime_and_bp4_factor_order():
    s = sp.Function("sigma")
    zz = sp.Symbol("z")
    assert book_latex(s(zz) * (1 - s(zz))).startswith(r"\sigma{\left(z \right)} \left(1 -")
    assert book_latex(a[1, 3] * delta[2, 1]) == r"a^{1}_{3} \delta^{2}_{1}"
