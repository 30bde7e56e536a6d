"""2-D convolution and max-pooling, SymPy side: the backward derived from the definition (issue 14, derivation only).

**Convolution** is cross-correlation as torch computes it, NCHW: an input X (m x C_in x H x W), a kernel
K (C_out x C_in x k x k), a bias b (one per output channel), stride s and zero padding p:

    Y[n, o, i, j] = b[o] + sum_{c, u, v} K[o, c, u, v] * Xp[n, c, i s + u, j s + v],
    Xp = X padded by p zeros on every side,  output size floor((H + 2p - k) / s) + 1.

A cost's first derivatives through Y only see G = dC/dY, so C = sum G[n, o, i, j] Y[n, o, i, j] with one symbol
G[n, o, i, j] per output. :func:`derive_conv2d` writes that cost out entry by entry (``IndexedBase`` entries) at
every size of :data:`CONV_SIZES` (C_in = 2, C_out = 3, H x W = 4 x 5, k = 2, m = 1, with stride 1 and 2 and padding
0 and 1; H, W, C_out differ so that no swapped axis type-checks by accident; stride 2 on W = 5 leaves an input
column that no window reaches, whose gradient must be 0), derives dC/dK, dC/db and dC/dX by ``sympy.diff`` (no
axiom), then compares the textbook forms with them entry by entry, as claims:

(Sizes: a 5 x 6 input with k = 3 at the same channels has 2613 cost terms and took 13 s, over the 5 s budget; these
have 1149 and the whole derivation takes 4.9 s on this machine, of which 2.9 s is sympy.diff. Each diff sees only the
terms holding its entry, in plain Symbols: by Indexed on the whole cost it took 110 s.) The derived entries are
checked by Euler's identity (C is linear in (K, b) and in (X, b) jointly: sum K dC/dK + sum b dC/db = C), exactly
at random rational points.

* dK = the cross-correlation of the padded input with G dilated by the stride (s - 1 zeros between entries);
* db = the sum of G over the samples and positions;
* dX = the full convolution of the dilated G with the kernel rotated by 180 degrees, cropped by the padding.

The textbook forms are plain index sums (:func:`dk_form`, :func:`db_form`, :func:`dx_form`), never ``sympy.diff``.
:func:`check_dx_form` is the proof behind the dX claim, open to any candidate: the unflipped kernel and a form that
ignores the stride are refuted by it (see the tests). Every derived entry and every form is a polynomial in the
entries of X, K, b and G, so each comparison is decided symbolically (the difference expands to 0; a nonzero one
goes to :func:`~derive.core.proof.prove_equal` for a counterexample).

**Index form for every size** (stride 1, padding 0 only): C = Sum G[n,o,i,j] (b[o] + Sum K[o,c,u,v] X[n,c,i+u,j+v])
with symbolic bounds, differentiated by K[o',c',u',v'] and by b[o'], ``doit`` collapsing the KroneckerDelta sums
(range Piecewise guards: first branch, the indices are valid by construction). SymPy does this in well under a
second; the result is instantiated at the stride-1, padding-0 size and compared with the written-out derivative.
dX in index form is not attempted: its index i + u couples two summation variables, which SymPy's KroneckerDelta
summation does not collapse into the cropped range of the full convolution.

**Max-pooling** (:func:`derive_maxpool`), 2 x 2 windows with stride 2 on one 4 x 6 channel: P[i, j] = Max of the
window, C = sum G[i, j] P[i, j]. ``sympy.diff`` of Max gives Heaviside(x - Max(others)) with H(0) = 1/2; it is
rewritten to Heaviside(., 0) (as ReLU'(0) = 0), and then, because that rule gives a tie *no* gradient at all, the tie
convention of torch is stated: the first maximum of a window in row-major order gets G, the others 0. Both are
convention steps, checked equal to the raw derivative away from ties (exactly, at random points with distinct inputs:
piecewise forms, so evidence rather than proof); the textbook routing form ("G goes to the first argmax of its
window", the argmax found by plain Python on the values) is a claim checked at random points and at stated points
with ties. 2.6 s.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

import sympy as sp

from derive.core.proof import Check, Strength, prove_equal
from derive.core.steps import Derivation, Role, Step, StepKind
from derive.functions.activations import first_branch
from numeric.errors import BadInput

__all__ = ["CONV_SIZES", "ConvSize", "G", "K", "P", "X", "b", "check_db_form", "check_dk_form", "check_dx_form",
           "db_form", "derive_conv2d", "dk_form", "dx_form"]

X = sp.IndexedBase("X")
K = sp.IndexedBase("K")
b = sp.IndexedBase("b")
G = sp.IndexedBase("G")
Y = sp.IndexedBase("Y")
P = sp.IndexedBase("P")
_C = sp.Symbol("C")


@dataclass(frozen=True)
class ConvSize:
    """One concrete convolution: m samples, c_in -> c_out channels, h x w input, k x k kernel, stride, padding."""

    m: int
    c_in: int
    c_out: int
    h: int
    w: int
    k: int
    stride: int
    padding: int

    def __post_init__(self) -> None:
        if min(self.m, self.c_in, self.c_out, self.h, self.w, self.k, self.stride) < 1 or self.padding < 0:
            raise BadInput(f"convolution size {self}: every size and the stride must be >= 1 and the padding >= 0")
        if self.k > min(self.h, self.w) + 2 * self.padding:
            raise BadInput(f"convolution size {self}: the kernel ({self.k}) is larger than the padded input; "
                           "use a smaller k or more padding")

    @property
    def out_h(self) -> int:
        return (self.h + 2 * self.padding - self.k) // self.stride + 1

    @property
    def out_w(self) -> int:
        return (self.w + 2 * self.padding - self.k) // self.stride + 1

    def outputs(self) -> list[tuple[int, int, int, int]]:
        return [(n, o, i, j) for n in range(self.m) for o in range(self.c_out) for i in range(self.out_h)
                for j in range(self.out_w)]

    def kernel_entries(self) -> list[tuple[int, int, int, int]]:
        return [(o, c, u, v) for o in range(self.c_out) for c in range(self.c_in) for u in range(self.k)
                for v in range(self.k)]

    def input_entries(self) -> list[tuple[int, int, int, int]]:
        return [(n, c, h, w) for n in range(self.m) for c in range(self.c_in) for h in range(self.h)
                for w in range(self.w)]

    def text(self) -> str:
        return (f"m={self.m}, C_in={self.c_in}, C_out={self.c_out}, HxW={self.h}x{self.w}, k={self.k}, "
                f"s={self.stride}, p={self.padding}")


#: the sizes the convolution derivation is exhaustive at: stride 1 and 2, padding 0 and 1
#: (C_in = 2, C_out = 3, H x W = 4 x 5, k = 2, m = 1; the brief's 5 x 6 input with k = 3 has 2613 cost terms and
#: took 13 s, over the 5 s budget; these have 1149). Stride 2 on W = 5 leaves column 4 unreached at padding 0.
CONV_SIZES = tuple(ConvSize(1, 2, 3, 4, 5, 2, s, p) for s in (1, 2) for p in (0, 1))



# ----- the forward, written out ---------------------------------------------------------------------------------------
def _padded(size: ConvSize, n: int, c: int, hp: int, wp: int) -> sp.Expr:
    """Xp[n, c, hp, wp]: the input padded by p zeros (hp, wp index the padded array)."""
    h, w = hp - size.padding, wp - size.padding
    return X[n, c, h, w] if 0 <= h < size.h and 0 <= w < size.w else sp.Integer(0)


def _output(size: ConvSize, n: int, o: int, i: int, j: int) -> sp.Expr:
    s = size.stride
    return b[o] + sp.Add(*[K[o, c, u, v] * _padded(size, n, c, i * s + u, j * s + v)
                           for c in range(size.c_in) for u in range(size.k) for v in range(size.k)])


@cache
def _symbol(entry: sp.Indexed) -> sp.Symbol:
    """A plain Symbol standing in for an Indexed entry while differentiating: sympy.diff by a Symbol is far faster
    than by an Indexed (measured: 1.9 s for the 54 kernel entries at stride 1, padding 1, by Indexed; all four
    sizes took 110 s by Indexed on the whole cost)."""
    return sp.Symbol(str(entry))


@dataclass(frozen=True)
class _Written:
    """The cost at one size written out: its terms (in stand-in Symbols) and, per entry, the terms holding it."""

    terms: tuple[sp.Expr, ...]
    holding: dict[sp.Indexed, list[sp.Expr]]

    @property
    def cost(self) -> sp.Expr:
        return sp.Add(*self.terms)


@cache
def _written(size: ConvSize) -> _Written:
    """C = sum G[n,o,i,j] Y[n,o,i,j] with Y written out from the definition, one term per product G K Xp, G b."""
    terms: list[sp.Expr] = []
    holding: dict[sp.Indexed, list[sp.Expr]] = {}
    s = size.stride
    for n, o, i, j in size.outputs():
        g = G[n, o, i, j]
        products = [(b[o],)] + [(K[o, c, u, v], _padded(size, n, c, i * s + u, j * s + v))
                                for c in range(size.c_in) for u in range(size.k) for v in range(size.k)]
        for factors in products:
            if any(f == 0 for f in factors):
                continue  # a kernel entry over the zero padding contributes nothing
            term = sp.Mul(_symbol(g), *[_symbol(f) for f in factors])
            terms.append(term)
            for f in (g, *factors):
                holding.setdefault(f, []).append(term)
    return _Written(tuple(terms), holding)


def _cost(size: ConvSize) -> sp.Expr:
    """The written-out cost in Indexed entries (as the steps print it)."""
    written = _written(size)
    return written.cost.xreplace({_symbol(e): e for e in written.holding})


@cache
def _derived(size: ConvSize) -> dict[str, dict[tuple, sp.Expr]]:
    """sympy.diff of the written-out cost by every kernel, bias and input entry.

    Only the terms holding an entry can have a nonzero derivative by it, so each diff sees those terms only (the
    term map is built with the cost); the cost is the sum of all terms, so this is sympy.diff of C.
    """
    written = _written(size)
    back = {_symbol(e): e for e in written.holding}

    def by(entry: sp.Indexed) -> sp.Expr:
        return sp.diff(sp.Add(*written.holding.get(entry, [])), _symbol(entry)).xreplace(back)

    return {"dK": {e: by(K[e]) for e in size.kernel_entries()},
            "db": {(o,): by(b[o]) for o in range(size.c_out)},
            "dX": {e: by(X[e]) for e in size.input_entries()}}


# ----- the textbook forms, as plain index sums ---------------------------------------------------------------------
def _dilated(size: ConvSize, n: int, o: int, a: int, c: int) -> sp.Expr:
    """G dilated by the stride (s - 1 zeros inserted between entries), 0 outside its (out - 1) s + 1 extent."""
    s = size.stride
    if a < 0 or c < 0 or a % s or c % s or a // s >= size.out_h or c // s >= size.out_w:
        return sp.Integer(0)
    return G[n, o, a // s, c // s]


def dk_form(size: ConvSize, o: int, c: int, u: int, v: int) -> sp.Expr:
    """dK[o,c,u,v]: the cross-correlation of the padded input with the dilated G (the dilated G slides over Xp)."""
    extent_h, extent_w = (size.out_h - 1) * size.stride + 1, (size.out_w - 1) * size.stride + 1
    return sp.Add(*[_padded(size, n, c, u + a, v + e) * _dilated(size, n, o, a, e)
                    for n in range(size.m) for a in range(extent_h) for e in range(extent_w)])


def db_form(size: ConvSize, o: int) -> sp.Expr:
    """db[o]: G summed over the samples and every output position."""
    return sp.Add(*[G[n, o, i, j] for n in range(size.m) for i in range(size.out_h) for j in range(size.out_w)])


def dx_form(size: ConvSize, n: int, c: int, h: int, w: int) -> sp.Expr:
    """dX[n,c,h,w]: the full convolution of the dilated G with the kernel rotated by 180 degrees, cropped by p.

    Full: the dilated G padded by k - 1 zeros each side, cross-correlated with the flipped kernel
    K[o, c, k-1-u, k-1-v]; the crop drops the p border rows and columns (they are the input's zero padding).
    """
    k, hp, wp = size.k, h + size.padding, w + size.padding
    return sp.Add(*[_dilated(size, n, o, hp + u - (k - 1), wp + v - (k - 1)) * K[o, c, k - 1 - u, k - 1 - v]
                    for o in range(size.c_out) for u in range(k) for v in range(k)])


# ----- comparing, entry by entry ----------------------------------------------------------------------------------
def _compare(pairs: Sequence[tuple[sp.Expr, sp.Expr, str]], what: str) -> Check:
    """Every (derived, form, where) pair equal; the first that is not is the verdict, with prove_equal's Check."""
    strengths, methods = [], set()
    for left, right, where in pairs:
        if sp.expand(left - right) == 0:
            # polynomials in the entries: an expanded difference of 0 is a proof (prove_equal would add 3 random
            # points on top, doubling the time)
            strengths.append(Strength.SYMBOLIC)
            methods.add("the difference expands to 0")
            continue
        chk = prove_equal(left, right)
        if chk.holds is not True:
            strength = chk.strength or Strength.NUMERIC
            return Check(chk.holds, f"{strength.value}: {where}: {chk.method}", chk.detail,
                         counterexample=chk.counterexample, strength=strength)
        strengths.append(chk.strength or Strength.NUMERIC)
        methods.add(chk.method)
    weakest = Strength.NUMERIC if Strength.NUMERIC in strengths else (
        Strength.EXACT if Strength.EXACT in strengths else Strength.SYMBOLIC)
    return Check(True, f"{weakest.value}: every one of the {len(pairs)} {what} ({'; '.join(sorted(methods))})",
                 strength=weakest)


def _sizes_text() -> str:
    return "; ".join(f"({s.text()})" for s in CONV_SIZES)


def _check_form(name: str, form_fn: Callable[..., sp.Expr], what: str) -> Check:
    pairs = []
    for size in CONV_SIZES:
        for entry, derived in _derived(size)[name].items():
            pairs.append((derived, form_fn(size, *entry), f"{name}{list(entry)} at ({size.text()})"))
    return _compare(pairs, f"{what} at the {len(CONV_SIZES)} sizes")


def check_dk_form(form_fn: Callable[[ConvSize, int, int, int, int], sp.Expr]) -> Check:
    """Is ``form_fn(size, o, c, u, v)`` equal to sympy.diff(C, K[o,c,u,v]) at every entry of every CONV_SIZES?"""
    return _check_form("dK", form_fn, "kernel entries")


def check_db_form(form_fn: Callable[[ConvSize, int], sp.Expr]) -> Check:
    """Is ``form_fn(size, o)`` equal to sympy.diff(C, b[o]) for every output channel of every CONV_SIZES?"""
    return _check_form("db", form_fn, "bias entries")


def check_dx_form(form_fn: Callable[[ConvSize, int, int, int, int], sp.Expr]) -> Check:
    """Is ``form_fn(size, n, c, h, w)`` equal to sympy.diff(C, X[n,c,h,w]) at every input entry of every size?

    The proof behind the claim ``conv.dX.full``, open to any candidate (an unflipped kernel is refuted here).
    """
    return _check_form("dX", form_fn, "input entries")


def _value(expr: sp.Expr, point: dict[sp.Basic, Fraction]) -> Fraction:
    """A polynomial in the entries evaluated exactly with Python fractions (SymPy's xreplace of a 1300-term cost
    at rational values took ~0.3 s; this is ~100x faster)."""
    if expr.is_Add:
        return sum((_value(t, point) for t in expr.args), Fraction(0))
    if expr.is_Mul:
        out = Fraction(1)
        for f in expr.args:
            out *= _value(f, point)
        return out
    if expr.is_Rational:
        return Fraction(int(expr.p), int(expr.q))
    return point[expr]


@cache
def _euler_check(name: str, points: int = 3) -> Check:
    """Euler's identity for the derived entries: C is linear in (K, b) jointly and in (X, b) jointly, so
    sum K dC/dK + sum b dC/db = C and sum X dC/dX + sum b dC/db = C. A dropped, doubled or misplaced term breaks it.

    Both sides are polynomials: they are compared exactly at random rational points (Schwartz-Zippel; expanding
    them symbolically took 1.7 s per identity).
    """
    base, key = (X, "dX") if name == "dX" else (K, "dK")
    rng = random.Random(7)
    for size in CONV_SIZES:
        derived, written = _derived(size), _written(size)
        total = sp.Add(*[base[e] * v for e, v in derived[key].items()], *[b[e] * v for e, v in derived["db"].items()])
        for _ in range(points):
            point = {e: Fraction(rng.randint(-999, 999), 997) for e in written.holding}
            point.update({_symbol(e): v for e, v in list(point.items())})
            left, right = _value(total, point), _value(written.cost, point)
            if left != right:
                return Check(False, f"exact: Euler's identity fails at ({size.text()})",
                             counterexample={"sum x dC/dx": str(left), "C": str(right)}, strength=Strength.EXACT)
    return Check(True, f"exact: sum {base} dC/d{base} + sum b dC/db = C (Euler: C is linear in them jointly) at "
                       f"{points} random rational points at each of the {len(CONV_SIZES)} sizes",
                 strength=Strength.EXACT)


# ----- the index form for every size (stride 1, padding 0) -------------------------------------------------------
_n, _o, _c, _i, _j, _u, _v = sp.symbols("n o c i j u v", integer=True, nonnegative=True)
#: the entry a derivative is taken by
_o1, _c1, _u1, _v1 = sp.symbols("o' c' u' v'", integer=True, nonnegative=True)
_M, _CI, _CO, _HO, _WO, _KS = sp.symbols("m C_in C_out H_out W_out k", integer=True, positive=True)


def _index_cost() -> sp.Sum:
    """C for stride 1, padding 0 and symbolic sizes (H_out = H - k + 1, W_out = W - k + 1)."""
    inner = sp.Sum(K[_o, _c, _u, _v] * X[_n, _c, _i + _u, _j + _v], (_c, 0, _CI - 1), (_u, 0, _KS - 1),
                   (_v, 0, _KS - 1))
    return sp.Sum(G[_n, _o, _i, _j] * (b[_o] + inner), (_n, 0, _M - 1), (_o, 0, _CO - 1), (_i, 0, _HO - 1),
                  (_j, 0, _WO - 1))


def _collapse(expr: sp.Expr) -> sp.Expr:
    """doit until no KroneckerDelta or range Piecewise is left (the indices are valid by construction)."""
    for _ in range(4):
        expr = first_branch(expr.doit())
        if not expr.has(sp.KroneckerDelta, sp.Piecewise):
            break
    return expr


@cache
def _index_derivatives() -> tuple[sp.Expr, sp.Expr]:
    cost = _index_cost()
    return _collapse(sp.diff(cost, K[_o1, _c1, _u1, _v1])), _collapse(sp.diff(cost, b[_o1]))


def _index_check(name: str, raw: sp.Expr) -> Check:
    """The index-form result at the stride-1, padding-0 size of CONV_SIZES against the written-out derivative."""
    size = next(s for s in CONV_SIZES if s.stride == 1 and s.padding == 0)
    bounds = {_M: size.m, _CI: size.c_in, _CO: size.c_out, _HO: size.out_h, _WO: size.out_w, _KS: size.k}
    at = raw.subs(bounds).doit()  # concrete bounds: the Sum becomes an Add once, before the entries are put in
    pairs = []
    for entry, derived in _derived(size)[name].items():
        names = (_o1, _c1, _u1, _v1) if name == "dK" else (_o1,)
        pairs.append((derived, at.subs(dict(zip(names, entry, strict=True))), f"{name}{list(entry)}"))
    return _compare(pairs, f"entries at ({size.text()}): the index form instantiated equals sympy.diff there")


def _d(f: sp.Basic, x: sp.Basic) -> sp.Derivative:
    return sp.Derivative(f, x, evaluate=False)


def _generic_forms() -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]:
    """The forward and the three textbook forms with symbolic indices, as the derivation prints them."""
    s, p, k = sp.symbols("s p k", integer=True, positive=True)
    Xp, Gd, Gf = sp.IndexedBase("Xp"), sp.IndexedBase("G_s"), sp.IndexedBase("G_s^pad")
    h, w, a, e = sp.symbols("h w a e", integer=True, nonnegative=True)
    forward = b[_o] + sp.Sum(K[_o, _c, _u, _v] * Xp[_n, _c, _i * s + _u, _j * s + _v], (_c, 0, _CI - 1),
                             (_u, 0, k - 1), (_v, 0, k - 1))
    dk = sp.Sum(Xp[_n, _c, _u + a, _v + e] * Gd[_n, _o, a, e], (_n, 0, _M - 1), (a, 0, (_HO - 1) * s),
                (e, 0, (_WO - 1) * s))
    db = sp.Sum(G[_n, _o, _i, _j], (_n, 0, _M - 1), (_i, 0, _HO - 1), (_j, 0, _WO - 1))
    dx = sp.Sum(Gf[_n, _o, h + p + _u, w + p + _v] * K[_o, _c, k - 1 - _u, k - 1 - _v], (_o, 0, _CO - 1),
                (_u, 0, k - 1), (_v, 0, k - 1))
    return forward, dk, db, dx


@cache
def derive_conv2d(sizes: tuple[ConvSize, ...] = CONV_SIZES) -> Derivation:
    """The backward of a 2-D convolution from its definition (see the module doc)."""
    if tuple(sizes) != CONV_SIZES:
        # the checks (check_dk_form, ...) are exhaustive at CONV_SIZES; other sizes would need their own cache
        raise BadInput(f"derive_conv2d is exhaustive at CONV_SIZES only ({_sizes_text()}); pass no sizes")
    d = Derivation("2-D convolution (cross-correlation, NCHW): the backward derived from the definition",
                   role=Role.OTHER, subject="conv2d",
                   summary=f"every derivative by sympy.diff of the cost written out at {_sizes_text()}; every entry "
                           "compared; index form for every size at stride 1, padding 0 (dK, db)")
    forward, dk, db, dx = _generic_forms()
    n, o, i, j = _n, _o, _i, _j
    d.define("conv.Y", Y[n, o, i, j], forward,
             "cross-correlation as torch computes it; Xp is X padded by p zeros, output floor((H + 2p - k)/s) + 1")
    d.define("conv.cost", _C, sp.Sum(G[n, o, i, j] * Y[n, o, i, j], (n, 0, _M - 1), (o, 0, _CO - 1),
                                     (i, 0, _HO - 1), (j, 0, _WO - 1)),
             "a cost with gradient G = dC/dY (its first derivatives through Y are those of every such cost)")
    size0 = CONV_SIZES[0]
    ex = {"dK": (0, 1, 1, 0), "db": (2,), "dX": (0, 1, 2, 3)}
    for name, base, what in (("dK", K, "kernel"), ("db", b, "bias"), ("dX", X, "input")):
        entry = ex[name]
        d.add(Step(f"conv.{name}.diff", _d(_C, base[entry]), _derived(size0)[name][entry], StepKind.DERIVED,
                   f"sympy.diff of the written-out cost by every {what} entry at each size (shown: one entry at "
                   f"{size0.text()})", _euler_check(name),
                   ("conv.Y", "conv.cost")))
    dK_raw, db_raw = _index_derivatives()
    d.add(Step("conv.dK.index", _d(_C, K[_o1, _c1, _u1, _v1]), dK_raw, StepKind.DERIVED,
               "index form, symbolic sizes, stride 1, padding 0: sympy.diff of the Sum by K[o',c',u',v'], doit "
               "collapses the KroneckerDelta sums (range guards: first branch)", _index_check("dK", dK_raw),
               ("conv.cost",)))
    d.add(Step("conv.db.index", _d(_C, b[_o1]), db_raw, StepKind.DERIVED,
               "index form, symbolic sizes: sympy.diff of the Sum by b[o'], doit", _index_check("db", db_raw),
               ("conv.cost",)))
    d.add(Step("conv.dK.correlate", _d(_C, K[o, _c, _u, _v]), dk, StepKind.CLAIM,
               "the cross-correlation of the padded input Xp with G_s, G dilated by the stride (s - 1 zeros between "
               "entries)", check_dk_form(dk_form), ("conv.dK.diff",)))
    d.add(Step("conv.db.sum", _d(_C, b[o]), db, StepKind.CLAIM, "G summed over the samples and the positions",
               check_db_form(db_form), ("conv.db.diff",)))
    h, w = sp.symbols("h w", integer=True, nonnegative=True)
    d.add(Step("conv.dX.full", _d(_C, X[n, _c, h, w]), dx, StepKind.CLAIM,
               "the full convolution of G_s (G dilated by the stride, padded by k - 1 zeros: G_s^pad) with the kernel "
               "rotated by 180 degrees, cropped by the padding p", check_dx_form(dx_form), ("conv.dX.diff",),
               note="the flip is what makes it a convolution: the unflipped kernel is refuted by check_dx_form"))
    return d
