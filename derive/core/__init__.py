"""derive.core: what every derivation is made of — checked steps, proofs, the book printer, caches, files, TeX.

Everything here is independent of any particular network: :mod:`derive.functions`, :mod:`derive.backprop` and the
tools above them build on it.
"""

from numeric.lazy import lazy_exports

_LAZY = {
    "Check": "derive.core.proof",
    "Strength": "derive.core.proof",
    "prove_equal": "derive.core.proof",
    "Derivation": "derive.core.steps",
    "Role": "derive.core.steps",
    "Step": "derive.core.steps",
    "StepKind": "derive.core.steps",
    "book_latex": "derive.core.book",
    "book_text": "derive.core.book",
    "derivation_text": "derive.core.render",
    "derivation_latex": "derive.core.render",
    "source_digest": "derive.core.cache",
    "atomic_write_bytes": "derive.core.files",
    "atomic_write_text": "derive.core.files",
    "write_json": "derive.core.files",
    "compile_pdf": "derive.core.texbuild",
    "escape_tex": "derive.core.texbuild",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

__all__ = sorted(_LAZY)
