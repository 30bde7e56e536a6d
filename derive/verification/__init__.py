"""derive.verification: every witness of a model's gradient, compared, one row per (model, check, block).

Modules, by idea:

* :mod:`~derive.verification.api` — :func:`verify`, :func:`verify_model`, :func:`verify_models`;
* :mod:`~derive.verification.rows` — :class:`Row`, :class:`Verdict`, :class:`VerificationResult`, the table;
* :mod:`~derive.verification.witnesses` — the instance and the implementations under test;
* :mod:`~derive.verification.sampling` / :mod:`~derive.verification.numerical` — which elements, and the
  finite-difference and complex-step witnesses (with the kink test);
* :mod:`~derive.verification.kernel_check` — the one kernel verifier (``bpv verify`` and ``bpv kernels``);
* :mod:`~derive.verification.torch_oracle` — torch.autograd from the registries' torch ops;
* :mod:`~derive.verification.derivation` — the SymPy derivation's rows;
* :mod:`~derive.verification.cache`, :mod:`~derive.verification.pool`, :mod:`~derive.verification.schema`.

Every public name below is imported on first use: importing the package loads neither NumPy-heavy modules nor
SymPy. No submodule is named like a function (``from derive import verify`` is the function).
"""

from __future__ import annotations

from numeric.lazy import lazy_exports

_LAZY = {
    "CHECKS": "derive.verification.api",
    "verify": "derive.verification.api",
    "verify_model": "derive.verification.api",
    "verify_models": "derive.verification.api",
    "BOUNDS": "derive.verification.rows",
    "Row": "derive.verification.rows",
    "Verdict": "derive.verification.rows",
    "VerificationResult": "derive.verification.rows",
    "format_table": "derive.verification.rows",
    "model_argument": "derive.verification.rows",
    "reproduce_command": "derive.verification.rows",
    "EXHAUSTIVE_MAX": "derive.verification.sampling",
    "N_PROBES": "derive.verification.sampling",
    "SAMPLE_PER_BLOCK": "derive.verification.sampling",
    "SCHEMA_VERSION": "derive.verification.schema",
    "load_schema": "derive.verification.schema",
    "report_dict": "derive.verification.schema",
    "schema_errors": "derive.verification.schema",
    "cache_dir": "derive.verification.cache",
    "load_kernel": "derive.verification.kernel_check",
    "verify_kernel": "derive.verification.kernel_check",
    "torch_available": "derive.verification.torch_oracle",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = sorted(_LAZY)
