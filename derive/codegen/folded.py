"""Exp-folded forward forms: an activation that is a rational function of e^z, evaluated with one exponential
that cannot overflow.

NumPy evaluates float64 ``tanh`` element by element with the C library where the CPU has no AVX-512 (about three
times the cost of ``exp``), and sigmoid's stable form (1 + tanh(z/2))/2 spends most of a kernel's element-wise time
there. When the definition f(z) is a rational function of e^z (sigmoid), the kernel evaluates it instead through

    t = z - 2 mask z    (mask = [z > 0], so t = -|z|: the polynomial blend of -z and z, analytic)
    u = e^t             (0 < u <= 1: no overflow for any z)
    f = N(u, mask) / D(u)

where N/D is f rewritten on each half line as a function of u (e^{-z} = u where z > 0, e^{z} = u elsewhere),
cancelled, and blended as neg + mask (pos - neg) over one common denominator. The form is refused (the stable
form is printed instead) if anything but u is left, if D vanishes anywhere on 0 <= u <= 1 (an overflow in
disguise), or if a half line's numerator or the denominator has a root in 0 < u <= 1 (a cancellation near z = 0:
tanh folds to (1 - u^2)/(1 + u^2) and is refused). The folded form, with mask and u written out, is proven equal to the
definition on both half lines and at 0 (:func:`derive.functions.stable.prove_on_real_line`), recorded as step
``<name>.folded``; the kernel prints exactly that N, D and t.

Where NumPy does vectorise tanh (an AVX-512 build of its loop is the one running: NumPy >= 2 says which, through
``numpy.lib.introspect.opt_func_info``), the stable tanh form is the cheaper one (sigmoid on a 128 x 256 float64
array: 40 us against 77 us for the fold's ten passes), so a folded function whose stable form uses tanh is printed
with both: the kernel computes ``VECTOR_TANH``, the dtypes whose tanh runs vectorised on this machine, once at
import, and each call takes the stable form (step ``<name>.kernel``) for those and the fold for the others. Both
forms are proven equal to the definition; which one runs depends on the CPU, never on a measurement.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import sympy as sp

from derive.codegen.elementwise import piece_source
from derive.codegen.inplace import inplace_lines
from derive.core.steps import Derivation, Role, Step
from derive.functions.activations import derive_activation
from derive.functions.stable import Piece, piece_name, prove_on_real_line, z
from numeric.spec import ActSpec, ModelSpec

__all__ = ["EXPONENT", "MASK", "VECTOR_TANH_SOURCE", "Folded", "U", "dispatches", "fold_activation", "fold_expression",
           "folded_forms", "folded_source"]

U = sp.Symbol("u", positive=True)
MASK = sp.Symbol("mask")
#: the folded exponent t = -|z| as the blend of its two branches (-z where z > 0, z elsewhere)
EXPONENT = z - 2 * MASK * z


@dataclass(frozen=True)
class Folded:
    """f(z) = numerator(u, mask) / denominator(u) with u = exp(EXPONENT), proven by ``step``."""

    name: str
    numerator: sp.Expr
    denominator: sp.Expr
    step: Step


def _in_u(f: sp.Expr, u_is: sp.Expr) -> sp.Expr | None:
    """``f`` with every e^{c z} written as a power of u, where e^z = ``u_is``; None if some exponent is not c z."""
    def power(arg: sp.Expr) -> sp.Expr:
        c = sp.cancel(arg / z)
        if c.free_symbols or not c.is_Rational:
            raise ValueError
        return u_is ** c
    try:
        return sp.cancel(f.replace(sp.exp, power))
    except ValueError:
        return None


def _well_conditioned(poly_expr: sp.Expr, numerator: bool) -> bool:
    """No root in 0 <= u <= 1, but for a numerator's factor u^k (exact multiplication: the value tends to 0 with
    u). A denominator vanishing at u = 0 is an overflow in disguise; a root in 0 < u <= 1 is a cancellation."""
    poly = sp.Poly(poly_expr, U)
    if numerator:
        poly = sp.Poly(sp.cancel(poly_expr / U ** min(m[0] for m in poly.monoms())), U)
    return poly.degree() == 0 or (poly.count_roots(0, 1) == 0 and poly.eval(0) != 0)


def fold_expression(f: sp.Expr, label: str) -> Folded | None:
    """The exp-folded form of f(z) as kernel function ``label``, proven; None where it does not apply."""
    if not f.has(sp.exp) or f.has(sp.Piecewise):
        return None
    pos, neg = _in_u(f, 1 / U), _in_u(f, U)  # z > 0: e^{-z} = u; z <= 0: e^{z} = u
    if pos is None or neg is None or (pos.free_symbols | neg.free_symbols) - {U}:
        return None
    numerator, denominator = sp.fraction(sp.cancel(sp.together(neg + MASK * (pos - neg))))
    numerator = sp.collect(sp.expand(numerator), MASK)
    branches = [sp.expand(numerator.xreplace({MASK: k})) for k in (0, 1)]  # each half line's numerator
    if not all(e.is_polynomial(U) for e in (denominator, *branches)):
        return None
    if not (_well_conditioned(denominator, False) and all(_well_conditioned(e, True) for e in branches if e != 0)):
        return None
    mask_is = sp.Piecewise((1, z > 0), (0, True))
    written_out = (numerator / denominator).xreplace({U: sp.exp(EXPONENT.xreplace({MASK: mask_is}))}).xreplace(
        {MASK: mask_is})
    step = Step(f"{label}.folded", sp.Function(label)(z), numerator / denominator, "derived",
                "the definition through u = exp(-|z|) (t = z - 2 mask z, mask = [z > 0]): one exponential, no "
                "overflow", prove_on_real_line(f, written_out), (f"{label}.def",))
    return Folded(label, numerator, denominator, step)


@cache
def fold_activation(act: ActSpec) -> Folded | None:
    """The exp-folded form of an element-wise activation's definition, proven; None where it does not apply."""
    if not act.entry.elementwise:
        return None
    return fold_expression(derive_activation(act).f_numeric(), piece_name(act))


def folded_forms(spec: ModelSpec) -> tuple[dict[str, Folded], Derivation]:
    """The folded forward forms of ``spec``'s activations (by kernel function name) and their derivation."""
    d = Derivation(f"exp-folded forward forms for the kernel ({spec.act_text})", role=Role.STABLE_FORMS)
    folded = {}
    for act in dict.fromkeys(spec.activations):
        form = fold_activation(act)
        if form is not None:
            folded[form.name] = form
            d.add(form.step)
    return folded, d


#: printed once in a kernel whose folded functions can take their stable tanh form (module doc)
VECTOR_TANH_SOURCE = '''
def _vectorised(ufunc):
    """The type characters of the loops of NumPy's ``ufunc`` that run an AVX-512 build on this CPU (NumPy >= 2
    reports which build runs; an older NumPy: none)."""
    try:
        from numpy.lib.introspect import opt_func_info
    except ImportError:
        return frozenset()
    loops = opt_func_info(func_name=f"^{ufunc}$").get(ufunc, {})
    return frozenset(types[0] for types, build in loops.items()
                     if "AVX512" in build.get("current", "") or "X86_V4" in build.get("current", ""))


#: the dtypes (type characters) whose tanh NumPy vectorises here: for those, a folded function takes its stable
#: tanh form, about twice as fast as the fold's passes (derive.codegen.folded)
VECTOR_TANH = _vectorised("tanh")
'''


def dispatches(stable: Piece | None) -> bool:
    """Whether the folded function is printed with its stable form as the vectorised-tanh branch."""
    return stable is not None and stable.expr.has(sp.tanh)


def folded_source(form: Folded, stable: Piece | None = None) -> str:
    """The kernel function: u in ``scratch`` (or a fresh array), the numerator in ``out``, D(u) in u's buffer
    (u's last use: D is evaluated in place when u occurs in it once), then out /= D. The mask is written as a
    number of out's type into ``mask`` (or a fresh array): a bool mask costs a cast in every product that reads
    it (about three times a plain product in float32), and 0 and 1 multiply exactly, complex step included.

    ``out`` may be ``z`` itself: every read of z comes before the first write to ``out`` (the numerator and the
    denominator are functions of u and the mask alone, checked by :func:`fold_expression`).

    With ``stable`` (the activation's stable form, when it uses tanh): that form is printed too, as
    ``_<name>_tanh``, and the folded function calls it for the dtypes in ``VECTOR_TANH`` (module doc)."""
    in_place = list(sp.preorder_traversal(form.denominator)).count(U) == 1  # no read of u after the first write
    denominator = inplace_lines(form.denominator, "u") if in_place else None
    branch, before = [], ""
    if dispatches(stable):
        tanh_form = replace(stable, name=f"_{form.name}_tanh",
                            doc=f"{stable.doc} (step {form.name}.kernel): the form for a vectorised tanh")
        before = piece_source(tanh_form) + "\n\n"
        branch = ["    if z.dtype.char in VECTOR_TANH:  # tanh vectorised here: the stable form is cheaper",
                  f"        return {tanh_form.name}(z, out)"]
    lines = [
        f"def {form.name}(z, out=None, scratch=None, {MASK}=None):",
        f'    """{form.name}(z) through u = exp(-|z|), one exponential that never overflows (step '
        f'{form.step.label})' + (";\n    where NumPy vectorises tanh, the stable form instead" if branch else "")
        + '."""',
        *branch,
        "    if out is None:",
        "        out = np.empty(z.shape, dtype=z.dtype)",
        "    u = np.empty_like(out) if scratch is None else scratch",
        "    # the mask as a number of out's type: a bool mask costs a cast in every product that reads it",
        f"    {MASK} = np.empty_like(out) if {MASK} is None else {MASK}",
        *inplace_lines(sp.Heaviside(z, 0), str(MASK)),  # [z > 0]: the step function ReLU' prints, one rule
        *inplace_lines(EXPONENT, "u"),
        "    np.exp(u, out=u)",
        *inplace_lines(form.numerator, "out"),
    ]
    if denominator is None:  # u is read again while D is formed: D in a buffer of its own
        lines += ["    d = np.empty_like(out)", *inplace_lines(form.denominator, "d"), "    out /= d"]
    else:
        lines += [*denominator, "    out /= u"]
    return before + "\n".join([*lines, "    return out"]) + "\n"
