"""Planted BPTT bugs in a character RNN written the way min-char-rnn is (not a test module).

The shape of the code, not its text: the parameters are module globals (``Wxh``, ``Whh``, ``Why``, ``bh``, ``by``,
one sequence as a column), and ``lossFun(inputs, targets, hprev)`` runs the forward over a list of token ids keeping
the per-step quantities in dicts keyed by t, then one backward loop from the last step to the first that carries
``dh_next`` and returns ``loss, dWxh, dWhh, dWhy, dbh, dby, h_last``. Written here independently, with the two
classic mistakes as ``bug=`` switches (and two controls, see :data:`BUGS`):

* ``no_dh_next``: dh_t = W_hy^T dy_t only, the gradient arriving from step t+1 never added (invisible with one step);
* ``h_t_in_dWhh``: dWhh accumulates da_t h_t^T, the state the step produced, instead of h_{t-1}, the one it read.

:func:`make_problem` turns it into ``(loss, grad, params)`` with :func:`numeric.adapters.attributes_problem`,
checking the first ``T`` characters of a fixed text; ``make_problem(T')`` for T' < T is that problem's prefix.
Tests and the example files in tests/data import it by name.
"""

from __future__ import annotations

import sys

import numpy as np

from numeric.adapters import attributes_problem

__all__ = ["BUGS", "TEXT", "lossFun", "make_problem"]

#: bug -> what it gets wrong
BUGS = {
    "no_dh_next": "dh_t = Why^T dy_t: the gradient from step t+1 (Whh^T da_{t+1}) is never added",
    "h_t_in_dWhh": "dWhh += da_t h_t^T: the state the step produced, not the h_{t-1} it multiplied",
    # controls: a wrong carry is a wrong dh_next (so named); a missing tanh' is wrong in one step (not so named)
    "carry_transposed": "dh_next = Whh da_t: the carry with Whh where its transpose is meant",
    "no_tanh_prime": "da_t = dh_t: the tanh' factor (1 - h_t^2) left out",
}

TEXT = "a bad pad, a dab"
chars = sorted(set(TEXT))
vocab_size, hidden_size = len(chars), 6
char_to_ix = {ch: i for i, ch in enumerate(chars)}

_rng = np.random.default_rng(2014)
Wxh = 0.5 * _rng.standard_normal((hidden_size, vocab_size))
Whh = 0.5 * _rng.standard_normal((hidden_size, hidden_size))
Why = 0.5 * _rng.standard_normal((vocab_size, hidden_size))
bh = 0.2 * _rng.standard_normal((hidden_size, 1))
by = 0.2 * _rng.standard_normal((vocab_size, 1))


def lossFun(inputs, targets, hprev, bug=None):
    """Cross-entropy of ``targets`` summed over the steps, and its gradients by BPTT (min-char-rnn's contract)."""
    xs, hs, ps = {}, {-1: np.copy(hprev)}, {}
    loss = 0.0
    for t, ix in enumerate(inputs):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][ix] = 1.0
        hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
        scores = Why @ hs[t] + by
        ps[t] = np.exp(scores) / np.sum(np.exp(scores))
        loss = loss - np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1.0
        dWhy += dy @ hs[t].T
        dby += dy
        dh = Why.T @ dy if bug == "no_dh_next" else Why.T @ dy + dh_next
        da = dh if bug == "no_tanh_prime" else (1.0 - hs[t] * hs[t]) * dh
        dbh += da
        dWxh += da @ xs[t].T
        dWhh += da @ (hs[t] if bug == "h_t_in_dWhh" else hs[t - 1]).T
        dh_next = Whh @ da if bug == "carry_transposed" else Whh.T @ da
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]


def make_problem(T=4, bug=None):
    """The first ``T`` characters of :data:`TEXT` predicting the next ones, from a fixed non-zero h_0."""
    if bug is not None and bug not in BUGS:
        raise ValueError(f"unknown bug {bug!r}; one of {', '.join(BUGS)}")
    ids = [char_to_ix[ch] for ch in TEXT]
    if not 1 <= T < len(ids):
        raise ValueError(f"T must be 1..{len(ids) - 1}")
    inputs, targets = ids[:T], ids[1:T + 1]
    hprev = 0.3 * np.random.default_rng(7).standard_normal((hidden_size, 1))
    names = ["Wxh", "Whh", "Why", "bh", "by"]  # lossFun's order: loss() returns (loss, dWxh, dWhh, dWhy, ...)
    return attributes_problem(sys.modules[__name__], names, lambda: lossFun(inputs, targets, hprev, bug))
