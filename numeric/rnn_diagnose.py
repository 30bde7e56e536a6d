"""Named bugs of backpropagation through time, each a hypothesis tested on the user's own loss and gradient.

For a vanilla recurrent layer with min-char-rnn's parameter names (``Wxh``, ``Whh``, ``bh``, ``Why``, ``by``;
a_t = W_xh x_t + W_hh h_{t-1} + b_h, h_t = f(a_t), z_t = W_hy h_t + b_y), two classic BPTT mistakes leave no
factor, mask or transpose in the numbers, but each has a point of parameter space where it shows its identity.
The user's ``loss`` and ``grad`` are evaluated there (nothing about the data is needed):

* **dh_next missing or wrong** (dh_t = W_hy^T dz_t + dh_next, dh_next = W_hh^T da_{t+1}): at W_hh = 0 that term is
  zero, so such a backward is right there; the finding needs the block wrong at the given point and right at
  W_hh = 0. Every bug in a term multiplied by W_hh shares this (W_hh for W_hh^T in the carry, dh for da): the
  sentence says "missing or wrong";
* **dW_hh from h_t instead of h_{t-1}**: at W_xh = W_hh = 0 every state h_t (t >= 1) is one vector c = f(b_h), for
  every sequence, so the true dW_hy is db_y c^T (c is read from it, and the rank-one fit is checked), and the
  sum_t da_t h_t^T form is db_h c^T with the true db_h; the finding needs the analytic dW_hh to equal that and to
  differ from the true dW_hh (which has da_1 h_0^T in place of da_1 c^T).

When ``make_problem(T)`` builds the problem for T steps of one sequence (min-char-rnn's case), a third experiment
tells "missing" from "wrong": :func:`dh_next_missing` compares the problems with T' = 1 and T' = 2 steps. A backward
without dh_next adds, for the loss of step 2, only step 2's own terms: its increment of dW_hh is exactly
(its increment of db_h) h_1^T, h_1 read from the true dW_hy = db_y h_1^T at T' = 1, while the true increment also
has the path into step 1 (da_1 h_0^T), and so has a carry that is there but wrong.

All compare with finite differences of the user's own loss; a correct backward is never named (its blocks are not
wrong). The time-step view of the same bugs (right at T' = 1, wrong from T' = 2) is :mod:`numeric.time_steps`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from numeric.hypotheses import Finding, agrees, as_float, true_gradient

__all__ = ["ROLES", "dh_next_missing", "dh_next_wrong", "h_t_in_dWhh", "rnn_findings", "rnn_roles"]

Array = np.ndarray
Loss = Callable[[Mapping[str, Any]], Any]
Grad = Callable[[Mapping[str, Any]], Mapping[str, Any]]

#: role -> the names a parameter in that role may have (min-char-rnn's first)
ROLES = {
    "Wxh": ("Wxh", "W_xh"), "Whh": ("Whh", "W_hh"), "bh": ("bh", "b_h"), "Why": ("Why", "W_hy"), "by": ("by", "b_y"),
}


def rnn_roles(params: Mapping[str, Array]) -> dict[str, str] | None:
    """role -> key, when ``params`` has the five vanilla-RNN parameters with consistent shapes; else None."""
    roles = {}
    for role, names in ROLES.items():
        key = next((n for n in names if n in params), None)
        if key is None:
            return None
        roles[role] = key
    shape = {r: np.shape(params[k]) for r, k in roles.items()}
    n_h = shape["Whh"][0] if len(shape["Whh"]) == 2 else -1
    if shape["Whh"] != (n_h, n_h) or len(shape["Why"]) != 2 or shape["Why"][1] != n_h \
            or len(shape["Wxh"]) != 2 or shape["Wxh"][0] != n_h or np.size(params[roles["bh"]]) != n_h \
            or np.size(params[roles["by"]]) != shape["Why"][0]:
        return None
    return roles


#: elements of a block at which the experiments take finite differences (all of them up to this size)
SAMPLE = 128
#: rows and columns of W_hh (and columns of W_hy) the dW_hh experiment reads at most
LINES = 12


def _at(params: Mapping[str, Array], zeros: list[str]) -> dict[str, Array]:
    return {k: (np.zeros_like(v) if k in zeros else np.array(v, copy=True)) for k, v in params.items()}


def _analytic(grad: Grad, point: Mapping[str, Array], name: str) -> Array | None:
    got = grad({k: v.copy() for k, v in point.items()})
    if not isinstance(got, Mapping) or name not in got:
        return None
    arr = as_float(got[name])
    return arr if arr is not None and arr.shape == np.shape(point[name]) else None


def _some(n: int, cap: int, rng: np.random.Generator) -> Array:
    return np.arange(n) if n <= cap else np.sort(rng.choice(n, cap, replace=False))


def dh_next_wrong(loss: Loss, grad: Grad, params: Mapping[str, Array], roles: Mapping[str, str],
                  wrong: set[str], rng: np.random.Generator) -> Finding | None:
    """The blocks behind h_t that are wrong at the given point and right at W_hh = 0, where dh_next vanishes."""
    whh = roles["Whh"]
    point = _at(params, [whh])
    names = []
    for role in ("Wxh", "Whh", "bh"):
        name = roles[role]
        given = _analytic(grad, params, name) if name in wrong else None
        g = _analytic(grad, point, name) if given is not None else None
        if g is None:
            continue
        flat = _some(g.size, SAMPLE, rng)
        true, err = true_gradient(loss, params, name, flat)
        if agrees(given.reshape(-1)[flat], true, err):
            continue  # right at the given point (on this sample): nothing to explain
        true, err = true_gradient(loss, point, name, flat)
        if agrees(g.reshape(-1)[flat], true, err) and np.any(true):
            names.append(name)
    if not names:
        return None
    return Finding(tuple(names), (
        f"BPTT's dh_next is missing or wrong (dh_t = {roles['Why']}^T dz_t + dh_next, with dh_next = "
        f"{whh}^T da_(t+1), the gradient reaching h_t from step t+1): at {whh} = 0, where that term vanishes, "
        f"the analytic {', '.join('d' + n for n in names)} {'is' if len(names) == 1 else 'are'} right, and at the "
        f"given {whh} wrong (both by finite differences of your loss)"))


def _constant_state(loss: Loss, point: Mapping[str, Array], why: str, by: str, cols: Array) -> Array | None:
    """c[cols] from the true dW_hy = db_y c^T (None when that is not rank one): the one state of every step where
    all states are one vector, or h_1 of one sequence at T' = 1."""
    n_out, n_h = np.shape(point[why])
    d_by, e_by = true_gradient(loss, point, by, np.arange(n_out))
    norm = float(d_by @ d_by)
    if norm <= 100.0 * n_out * float(np.max(e_by)) ** 2:
        return None  # db_y is zero to within its error: c cannot be read
    flat = (np.arange(n_out)[:, None] * n_h + cols[None, :]).reshape(-1)
    d_why, e_why = (a.reshape(n_out, cols.size) for a in true_gradient(loss, point, why, flat))
    c = d_why.T @ d_by / norm
    if not agrees(d_why, np.outer(d_by, c), e_why + np.outer(e_by, np.abs(c)), rtol=1e-5):
        return None  # the states are not one vector here: not the vanilla recurrence this test assumes
    return c


def h_t_in_dWhh(loss: Loss, grad: Grad, params: Mapping[str, Array], roles: Mapping[str, str],
                wrong: set[str], rng: np.random.Generator) -> Finding | None:
    """dW_hh = sum_t da_t h_t^T: at W_xh = W_hh = 0 the analytic dW_hh is db_h c^T, c the one state of every step."""
    whh, bh, why, by = roles["Whh"], roles["bh"], roles["Why"], roles["by"]
    if whh not in wrong:
        return None
    point = _at(params, [roles["Wxh"], whh])
    g = _analytic(grad, point, whh)
    if g is None:
        return None
    n_h = g.shape[0]
    rows, cols = _some(n_h, LINES, rng), _some(n_h, LINES, rng)
    c = _constant_state(loss, point, why, by, cols)
    if c is None:
        return None
    d_bh, e_bh = true_gradient(loss, point, bh, rows)
    flat = (rows[:, None] * n_h + cols[None, :]).reshape(-1)
    true, err = true_gradient(loss, point, whh, flat)
    block = g.reshape(-1)[flat]
    if agrees(block, true, err) or not agrees(block, np.outer(d_bh, c), np.outer(e_bh, np.abs(c)), rtol=1e-5):
        return None
    return Finding((whh,), (
        f"d{whh} built from h_t where h_(t-1) is meant (sum_t da_t h_t^T): at {roles['Wxh']} = {whh} = 0 every "
        f"state h_t (t >= 1) is one vector c, read from the true d{why} = d{by} c^T; there the analytic d{whh} "
        f"equals d{bh} c^T, the h_t form, and not the true d{whh} (by finite differences of your loss); the step "
        f"multiplies {whh} by h_(t-1), so d{whh} = sum_t da_t h_(t-1)^T"))


def rnn_findings(loss: Loss, grad: Grad, params: Mapping[str, Any], wrong: set[str]) -> list[Finding]:
    """The BPTT experiments whose hypothesis held, for a problem with the vanilla RNN's parameters (else none)."""
    arrays = {k: np.array(v, copy=True) for k, v in params.items()}  # the user's arrays never move
    roles = rnn_roles(arrays) if wrong else None
    if roles is None:
        return []
    found = []
    for experiment in (h_t_in_dWhh, dh_next_wrong):
        try:
            finding = experiment(loss, grad, arrays, roles, wrong, np.random.default_rng(14))
        except (Exception, SystemExit):  # the user's code at a point it was not written for: no evidence
            finding = None
        if finding is not None:
            found.append(finding)
    return found


def _increment(grads: tuple[Mapping[str, Any], Mapping[str, Any]], name: str, flat: Array) -> Array | None:
    """The user's gradient of ``name`` at T' = 2 minus that at T' = 1, at ``flat``."""
    two, one = (as_float(g.get(name)) if isinstance(g, Mapping) else None for g in grads)
    if two is None or one is None or two.shape != one.shape:
        return None
    return (two - one).reshape(-1)[flat]


def dh_next_missing(make: Callable[[int], Any], wrong: set[str]) -> Finding | None:
    """dh_next never added: from T' = 1 to 2 steps the analytic dW_hh grows by (its db_h increment) h_1^T alone."""
    (loss1, grad1, p1), (loss2, grad2, p2) = make(1), make(2)
    point = {k: np.array(v, copy=True) for k, v in p2.items()}
    roles = rnn_roles(point)
    if roles is None or set(p1) != set(p2) or not all(np.array_equal(p1[k], p2[k]) for k in p2):
        return None  # not one problem cut to its prefixes
    whh, bh, why, by = roles["Whh"], roles["bh"], roles["Why"], roles["by"]
    n_h = np.shape(point[whh])[0]
    rng = np.random.default_rng(14)
    rows, cols = _some(n_h, LINES, rng), _some(n_h, LINES, rng)
    h1 = _constant_state(loss1, point, why, by, cols)  # one sequence: the true dW_hy at T' = 1 is dz_1 h_1^T
    if whh not in wrong or h1 is None:
        return None
    flat = (rows[:, None] * n_h + cols[None, :]).reshape(-1)
    grads = (grad2({k: v.copy() for k, v in point.items()}), grad1({k: v.copy() for k, v in point.items()}))
    d_bh, d_whh = _increment(grads, bh, rows), _increment(grads, whh, flat)
    if d_bh is None or d_whh is None or not agrees(d_whh, np.outer(d_bh, h1), 0.0, rtol=1e-5):
        return None
    t_bh = true_gradient(loss2, point, bh, rows)[0] - true_gradient(loss1, point, bh, rows)[0]
    t_whh = true_gradient(loss2, point, whh, flat)[0] - true_gradient(loss1, point, whh, flat)[0]
    if agrees(t_whh, np.outer(t_bh, h1), 0.0, rtol=1e-5):
        return None  # the true increment has that form too (h_0 = h_1): the test cannot tell
    names = tuple(roles[r] for r in ("Wxh", "Whh", "bh") if roles[r] in wrong)
    return Finding(names, (
        f"BPTT without dh_next: from T' = 1 to T' = 2 steps the analytic d{whh} grows by exactly (its d{bh} "
        f"increment) h_1^T, h_1 read from the true d{why} = d{by} h_1^T at T' = 1, so the loss of step 2 reaches "
        f"step 2 alone, while the true increment also flows back into step 1 (by finite differences of your loss at "
        f"T' = 1 and 2); dh_t = {why}^T dz_t + dh_next, with dh_next = {whh}^T da_(t+1) carried back from step t+1"))
