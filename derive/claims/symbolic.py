"""Claims proven for every size of the model (strength ``symbolic``), not only on an instance.

Two kinds, tried after a claim held on the instance (so this only ever upgrades a proof):

* an identity of the activation in one variable (``σ'(z) = σ(z)(1 - σ(z))``, ``∂a^l_j/∂z^l_j = a^l_j(1 - a^l_j)``):
  σ and σ' are the registry's definition and its derived derivative
  (:func:`derive.functions.activations.derive_activation`), a = σ(z) is the model's definition, and SymPy
  simplifies the difference to 0 for a symbolic z;
* a local derivative of the dense layer in index form (``∂z^l_j/∂w^l_{jk} = a^{l-1}_k``, ``∂z^l_j/∂b^l_j = 1``,
  ``∂z^{l+1}_k/∂a^l_j = w^{l+1}_{kj}``): the layer's own index form z^l_j = Σ_q w^l_{jq} a^{l-1}_q + b^l_j with a
  symbolic width (:meth:`derive.layers.dense.DenseSym.forward`) differentiated by SymPy, for every index in range.
"""

from __future__ import annotations

import sympy as sp

from derive.claims.ir import Act, Deriv
from derive.claims.semantics import Context
from derive.core.symbols import a as a_base
from derive.core.symbols import b as b_base
from derive.core.symbols import w as w_base
from derive.core.symbols import z as z_base
from derive.functions.activations import alpha, derive_activation, zs
from derive.layers.dense import DenseSym

__all__ = ["symbolic_proof"]

_ATOMS = (sp.Number, sp.Symbol, sp.Indexed, sp.IndexedBase, sp.Add, sp.Mul, sp.Pow, sp.exp, sp.log, sp.tanh, Act, Deriv)


def _activation(context: Context, layer):
    """The activation of ``layer`` when it is one for every value of the index (None otherwise)."""
    acts = context.spec.activations
    if str(layer) == "L":
        return acts[-1]
    if layer.is_number and 1 <= int(layer) <= len(acts):
        return acts[int(layer) - 1]
    return acts[0] if len(set(acts)) == 1 else None


def _dense_derivative(u: sp.Indexed, v: sp.Indexed):
    """∂z^l_j/∂v from the layer's index form with a symbolic width; None where v is not an input of z^l_j."""
    l, j = u.indices
    if v.base not in (w_base, b_base, a_base) or (v.base != a_base and v.indices[0] != l) or \
            (v.base == a_base and v.indices[0] != l - 1):
        return None
    q = sp.Dummy("q", integer=True, positive=True)
    layer = DenseSym(l, sp.Symbol("n_in", integer=True, positive=True), sp.Symbol("n_out", integer=True,
                                                                                     positive=True))
    d = sp.diff(layer.forward(j, lambda k: a_base[l - 1, k], q), v).doit()
    # the Piecewise is over the index being in range: every index of the claim is (it is only checked there)
    return d.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[0][0])


def _in_one_variable(expr, context: Context):
    """The side with a = σ(z), σ and σ' written out in a symbolic z; None if it is not of that kind."""
    if not all(isinstance(n, _ATOMS) or isinstance(n, sp.Tuple) for n in sp.preorder_traversal(expr)):
        return None
    try:
        return _written_out(expr, context)
    except ValueError:
        return None


def _written_out(expr, context: Context):
    def act(e: Act):
        z = _written_out(e.args[0], context)
        node = next((n for n in sp.preorder_traversal(e.args[0]) if isinstance(n, sp.Indexed)), None)
        spec = _activation(context, node.indices[0]) if node is not None else \
            (context.spec.activations[0] if len(set(context.spec.activations)) == 1 else None)
        if spec is None or not spec.entry.elementwise:
            raise ValueError("no single activation")
        res = derive_activation(spec)
        subs = {alpha: sp.nsimplify(spec.param)} if spec.param is not None else {}
        return (res.f if e.order == 0 else res.fprime).xreplace({zs: z, **subs})

    def deriv(e: Deriv):
        u, v = e.args
        if isinstance(u, sp.Indexed) and u.base == z_base and isinstance(v, sp.Indexed):
            d = _dense_derivative(u, v)
            if d is None:
                raise ValueError("not a dense input")
            return d
        return sp.diff(_written_out(u, context), _written_out(v, context))

    def element(e: sp.Indexed):
        if e.base == a_base and e.indices[0] != 0:
            return act(Act(z_base[e.indices], sp.Integer(0)))
        return e

    out = expr.replace(lambda n: isinstance(n, Deriv), deriv)
    out = out.replace(lambda n: isinstance(n, Act), act)
    return out.replace(lambda n: isinstance(n, sp.Indexed) and n.base == a_base, element)


def symbolic_proof(lhs, rhs, context: Context) -> str | None:
    """How ``lhs = rhs`` holds for every size of the model, or None when it is not of a kind proven here."""
    if not (lhs.is_commutative and rhs.is_commutative):
        return None
    left, right = _in_one_variable(lhs, context), _in_one_variable(rhs, context)
    if left is None or right is None:
        return None
    try:
        zero = sp.simplify(left - right) == 0
    except Exception:  # SymPy cannot decide: no symbolic claim
        return None
    if not zero:
        return None
    kinds = "the dense layer's index form with a symbolic width" if (lhs.has(Deriv) or rhs.has(Deriv)) else \
        "the activation's definition and derived derivative in a symbolic variable"
    return f"symbolic: both sides simplify to the same expression from {kinds} (every size, every point)"
