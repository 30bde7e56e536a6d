"""Every test is seeded and runs with BLAS pinned to one thread (docs/conventions.md § Measuring)."""

import os

from numeric.blas import pin_blas, pin_blas_environment

pin_blas_environment(override=False)  # before NumPy loads (numeric.blas imports no NumPy)

import tempfile  # noqa: E402

# The suite never reads or writes the user's cache (~/.cache/bpv): one fresh cache per test session, so the
# tests measure and check cold derivations, whatever the machine ran before.
os.environ["BPV_CACHE_DIR"] = tempfile.mkdtemp(prefix="bpv-test-cache-")
# ... and never the user's cache key: one per session, outside the cache folder (derive.core.signing)
os.environ["BPV_KEY_FILE"] = os.path.join(tempfile.mkdtemp(prefix="bpv-test-key-"), "cache.key")

import random  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pin_blas()


@pytest.fixture(autouse=True)
def _seed():
    random.seed(42)
    np.random.seed(42)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(42)
