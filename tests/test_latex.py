"""The book-notation printers: layer superscripts, unit subscripts, sigma', partials, transposes, odot, ln."""

import sympy as sp

from derive.core.book import book_latex, book_text
from derive.core.symbols import C, a, delta, sigma, w, z

l, j, k = sp.symbols("l j k")
W = sp.MatrixSymbol("W^{l+1}", 3, 3)
D = sp.MatrixSymbol("Delta^{l+1}", 3, 2)
Z = sp.MatrixSymbol("Z^{l}", 3, 2)


def test_layer_quantities_print_as_in_the_book():
    assert book_latex(w[l, j, k]) == "w^{l}_{jk}"
    assert book_latex(a[l - 1, k]) == "a^{l - 1}_{k}"
    assert book_latex(delta[sp.Symbol("L"), j]) == "\\delta^{L}_{j}"
    assert book_latex(w[2, 1, 13]) == "w^{2}_{1,13}"
    assert book_text(w[l, j, k]) == "w^l_jk"


def test_derivatives_print_as_sigma_prime_and_partials():
    xi = sp.Symbol("xi")
    assert book_latex(sp.Subs(sp.Derivative(sigma(xi), xi), xi, z[l, j])) == "\\sigma'\\left(z^{l}_{j}\\right)"
    assert book_latex(sp.Derivative(C(a[2, 1], a[2, 2]), a[2, 1])) == "\\frac{\\partial C}{\\partial a^{2}_{1}}"
    assert book_text(sp.Derivative(sigma(z[2, 1]), z[2, 1])) == "σ'(z^2_1)"


def test_matrix_forms_use_transpose_and_odot_with_parentheses():
    expr = sp.HadamardProduct(W.T * D, Z)
    tex = book_latex(expr)
    assert "\\left(W^{l+1}\\right)^{\\mathsf{T}}" in tex and "\\odot" in tex and "\\Delta^{l+1}" in tex
    assert tex.startswith("\\left(")  # (W^T Delta) (.) Z, not W^T (Delta (.) Z)
    assert book_text(expr) == "((W^(l+1))ᵀ*Δ^(l+1)) ⊙ Z^l"


def test_ln_heaviside_and_kronecker_never_print_as_log_or_delta():
    assert "\\ln" in book_latex(sp.log(a[2, 1])) and "log" not in book_latex(sp.log(a[2, 1]))
    assert book_latex(sp.Heaviside(z[1, 1], 0)) == "\\mathbf{1}_{\\{z^{1}_{1} > 0\\}}"
    assert "delta" not in book_latex(sp.KroneckerDelta(j, k))


def test_powers_of_indexed_quantities_get_parentheses():
    assert book_latex(z[1, 2] ** 2) == "\\left(z^{1}_{2}\\right)^{2}"
