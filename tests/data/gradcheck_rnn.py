"""Example for `bpv gradcheck`: a min-char-rnn-style character RNN (tests/rnn_bugs.py), correct and with BPTT bugs.

Each function takes the number of time steps T, so `bpv gradcheck` also checks the prefixes T' = 1..T:

  bpv gradcheck tests/data/gradcheck_rnn.py:make_problem    # correct: exit 0
  bpv gradcheck tests/data/gradcheck_rnn.py:no_dh_next      # right for T' = 1, wrong from T' = 2: exit 1
  bpv gradcheck tests/data/gradcheck_rnn.py:h_t_in_dWhh     # dWhh from h_t: wrong already at T' = 1: exit 1
  bpv gradcheck tests/data/gradcheck_rnn.py:carry_transposed # a control: dh_next there but wrong: exit 1
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, where rnn_bugs.py lives

import rnn_bugs


def make_problem(T=4):
    return rnn_bugs.make_problem(T)


def no_dh_next(T=4):
    return rnn_bugs.make_problem(T, "no_dh_next")


def h_t_in_dWhh(T=4):
    return rnn_bugs.make_problem(T, "h_t_in_dWhh")


def carry_transposed(T=4):
    """A control: dh_next is there but wrong (Whh where its transpose is meant), so not "without dh_next"."""
    return rnn_bugs.make_problem(T, "carry_transposed")
