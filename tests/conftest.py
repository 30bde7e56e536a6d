"""Every test is seeded and runs with BLAS pinned to one thread (DESIGN.md § Measuring)."""

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import tempfile  # noqa: E402

# The suite never reads or writes the user's cache (~/.cache/bpv): one fresh cache per test session, so the
# tests measure and check cold derivations, whatever the machine ran before.
os.environ["BPV_CACHE_DIR"] = tempfile.mkdtemp(prefix="bpv-test-cache-")

import random  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(1)


@pytest.fixture(autouse=True)
def _seed():
    random.seed(42)
    np.random.seed(42)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(42)
