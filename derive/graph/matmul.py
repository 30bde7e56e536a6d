"""The matrix gate D = W X: dW and dX derived element by element, checked against the dimension rule.

:func:`derive_matmul_gate` derives dW and dX from the scalar L = sum_ij dD_ij D_ij with ``sympy.diff`` and checks
them against the dimension rule dW = dD X^T, dX = W^T dD on non-square shapes, symbolically element by element, by
exact central differences of L, and numerically in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from derive.core.proof import Check
from derive.core.steps import Derivation, Step
from derive.graph.staged import FD_TOLERANCE
from numeric.errors import BadInput
from numeric.metrics import block_relative_error

__all__ = ["MatmulGate", "derive_matmul_gate", "difference_check", "elementwise_check", "rational_point",
           "symbol_matrix"]


@dataclass
class MatmulGate:
    """D = W X derived element-wise for one (n, k, m) shape, with its symbolic and numeric checks."""

    shape: tuple[int, int, int]  # W is (n, k), X is (k, m), D and dD are (n, m)
    derivation: Derivation
    numeric_error: float  # block-relative error of dD X^T, W^T dD against central finite differences

    @property
    def holds(self) -> bool:
        return self.derivation.holds and self.numeric_error <= FD_TOLERANCE

    def to_dict(self) -> dict:
        return {"shape": {"W": self.shape[:2], "X": self.shape[1:], "D": (self.shape[0], self.shape[2])},
                "numeric_error": self.numeric_error, "holds": self.holds,
                "derivation": self.derivation.to_dict()}


def symbol_matrix(name: str, rows: int, cols: int) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}", real=True))


def elementwise_check(derived: sp.ImmutableMatrix, claimed: sp.ImmutableMatrix) -> Check:
    if derived.shape != claimed.shape:
        return Check(False, "shapes differ", f"{derived.shape} vs {claimed.shape}")
    bad = [(i, j) for i in range(derived.rows) for j in range(derived.cols)
           if sp.expand(derived[i, j] - claimed[i, j]) != 0]
    if bad:
        i, j = bad[0]
        return Check(False, "symbolic: element differs", f"element ({i + 1},{j + 1}): {derived[i, j]} vs "
                     f"{claimed[i, j]}")
    return Check(True, "symbolic: every element's difference reduces to 0 by expand",
                 f"{derived.rows * derived.cols} elements")


def rational_point(symbols: list[sp.Symbol], seed: int) -> dict[sp.Symbol, sp.Rational]:
    rng = np.random.default_rng(seed)
    return {sym: sp.Rational(int(rng.integers(-997, 998)), 97) for sym in symbols}


def difference_check(L: sp.Expr, A: sp.ImmutableMatrix, dA: sp.ImmutableMatrix, point: dict) -> Check:
    """Every element of dA against the central difference (L(a + 1) - L(a - 1)) / 2 in exact rationals.

    L is linear in each element, so the difference is exact: an independent check of sympy.diff, not a repeat.
    """
    base = L.xreplace(point)
    for idx in np.ndindex(A.shape):
        a = A[idx]
        up = L.xreplace({**point, a: point[a] + 1})
        down = L.xreplace({**point, a: point[a] - 1})
        if (up - down) / 2 != dA[idx].xreplace(point):
            return Check(False, "exact central difference", f"element {idx}: {dA[idx]} vs {(up - down) / 2}")
        if up - base != base - down:  # not linear in this element: the difference would not be exact
            return Check(None, "exact central difference", f"L is not linear in {a}")
    return Check(True, "exact: agrees with the central difference of L in rationals (L is linear in each element)",
                 f"{len(list(np.ndindex(A.shape)))} elements at one random rational point")


def derive_matmul_gate(n: int = 2, k: int = 3, m: int = 4, seed: int = 0) -> MatmulGate:
    """Derive the backward pass of D = W X element by element for W (n, k), X (k, m); check the dimension rule.

    With the upstream gradient dD (n, m), backprop through the gate is the gradient of the scalar
    L = sum_ij dD_ij D_ij (dL/dD = dD). ``sympy.diff`` of L by every W_pq and X_pq gives dW and dX element-wise;
    the claims dW = dD X^T and dX = W^T dD are checked element by element and numerically (random values,
    central differences of L).

    >>> derive_matmul_gate(2, 3, 4).holds
    True
    """
    for dim in (n, k, m):
        if not (isinstance(dim, int) and 1 <= dim <= 8):
            raise BadInput("matrix gate sizes must be whole numbers from 1 to 8")
    W, X, G = symbol_matrix("W", n, k), symbol_matrix("X", k, m), symbol_matrix("dD", n, m)
    D = W * X
    L = sum(G[i, j] * D[i, j] for i in range(n) for j in range(m))
    d = Derivation(f"matrix gate D = W X with W {n}x{k}, X {k}x{m}")
    Dsym, Lsym = sp.MatrixSymbol("D", n, m), sp.Symbol("L")
    d.define("D", Dsym, D, "D_ij = sum_r W_ir X_rj, written out element by element")
    d.define("L", Lsym, L, "the gate's share of the loss: dL/dD_ij = dD_ij (the upstream gradient)")
    dW = sp.ImmutableMatrix(n, k, lambda p, q: sp.diff(L, W[p, q]))
    dX = sp.ImmutableMatrix(k, m, lambda p, q: sp.diff(L, X[p, q]))
    point = rational_point([*W, *X, *G], seed)
    d.add(Step("dW", sp.MatrixSymbol("dW", n, k), dW, "derived", "sympy.diff of L by each W_pq",
               difference_check(L, W, dW, point), ("L",)))
    d.add(Step("dX", sp.MatrixSymbol("dX", k, m), dX, "derived", "sympy.diff of L by each X_pq",
               difference_check(L, X, dX, point), ("L",)))
    d.add(Step("dW = dD X^T", sp.MatrixSymbol("dW", n, k), G * X.T, "claim",
               f"dimension rule: ({n}x{m}) times ({m}x{k}) is the only product of dD and X with W's shape",
               elementwise_check(dW, G * X.T), ("dW",)))
    d.add(Step("dX = W^T dD", sp.MatrixSymbol("dX", k, m), W.T * G, "claim",
               f"dimension rule: ({k}x{n}) times ({n}x{m}) is the only product of W and dD with X's shape",
               elementwise_check(dX, W.T * G), ("dX",)))
    d.summary = f"dW = dD X^T and dX = W^T dD for W {n}x{k}, X {k}x{m}"
    return MatmulGate((n, k, m), d, _matmul_numeric_error(n, k, m, seed))


def _matmul_numeric_error(n: int, k: int, m: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    W, X, G = rng.standard_normal((n, k)), rng.standard_normal((k, m)), rng.standard_normal((n, m))

    def loss(Wt: np.ndarray, Xt: np.ndarray) -> float:
        return float(np.sum(G * (Wt @ Xt)))

    def numeric(A: np.ndarray, f: Callable[[np.ndarray], float]) -> np.ndarray:
        out = np.zeros_like(A)
        for idx in np.ndindex(A.shape):
            h = np.finfo(float).eps ** (1 / 3) * max(1.0, abs(A[idx]))
            Ap, Am = A.copy(), A.copy()
            Ap[idx] += h
            Am[idx] -= h
            out[idx] = (f(Ap) - f(Am)) / (2 * h)
        return out

    dW_num = numeric(W, lambda A: loss(A, X))
    dX_num = numeric(X, lambda A: loss(W, A))
    return max(block_relative_error(list((G @ X.T).ravel()), list(dW_num.ravel())),
               block_relative_error(list((W.T @ G).ravel()), list(dX_num.ravel())))

