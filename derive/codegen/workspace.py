"""The workspace of a kernel (``REUSE_WORKSPACE``, ``_workspace``, ``clear_workspace``): the template
``templates/workspace.py`` filled in with the batch shape of the model's layout.

Like the argument checks it is not printed from a derivation: it only decides where intermediates are stored.
"""

from __future__ import annotations

from derive.codegen.validation import fill_template, template_text
from numeric.spec import ModelSpec

__all__ = ["workspace_source"]


def workspace_source(spec: ModelSpec) -> str:
    """The workspace section of the kernel for ``spec``'s family."""
    return fill_template(template_text("workspace"), spec.layout, {}, {})
