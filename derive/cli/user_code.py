"""Loading the user's Python files, by design (as pytest imports test files): ``FILE.py[:FUNCTION]`` targets.

Nothing here evaluates a string: files are imported with ``importlib.util.spec_from_file_location`` and functions
are looked up by name. What the user's code raises comes back as :class:`~numeric.errors.BadInput` with the file
and the call named. Callers that must survive the user's code ending the process run this in a child process
(:mod:`derive.cli.isolation`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from numeric.errors import BadInput
from numeric.guard import announce

__all__ = ["call_user", "check_target", "import_file", "split_target", "user_function"]


def split_target(target: str, default: str = "make_problem") -> tuple[Path, str]:
    """``FILE.py:FUNCTION`` (``FUNCTION`` defaulting to ``default``) as a path and a function name."""
    path_text, sep, func = target.rpartition(":")
    if not sep or not path_text or "/" in func or func.endswith(".py"):
        path_text, func = target, default
    func = func.strip()
    if not func.isidentifier():
        raise BadInput(f"{func!r} in {target!r} is not a Python function name; write FILE.py:{default}")
    path = Path(path_text)
    if not path.is_file():
        raise BadInput(f"file {str(path)!r} not found (expected FILE.py:FUNCTION)")
    if path.suffix != ".py":
        raise BadInput(f"{str(path)!r} is not a .py file (expected FILE.py:FUNCTION)")
    return path, func


def import_file(path: Path, prefix: str = "bpv_user") -> ModuleType:
    """Import ``path`` as a fresh module (its folder on sys.path while it loads, as ``python FILE.py`` allows)."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"{prefix}_{path.stem}_{digest}" if path.stem.isidentifier() else f"{prefix}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise BadInput(f"cannot import {str(path)!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    announce(f"the import of {path.name}")
    try:
        spec.loader.exec_module(module)
    except SystemExit as err:
        raise BadInput(f"importing {str(path)!r} called sys.exit({err.code!r})") from None
    except Exception as err:
        raise BadInput(f"importing {str(path)!r} raised {type(err).__name__}: {err}") from None
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    return module


def user_function(module: ModuleType, func: str, path: Path) -> Any:
    """The function ``func`` of the imported ``module``, or BadInput listing what the file defines."""
    fn = getattr(module, func, None)
    if fn is None:
        names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                       and getattr(v, "__module__", None) == module.__name__)
        raise BadInput(f"{str(path)!r} has no function {func!r} (it defines: {', '.join(names) or 'none'})")
    if not callable(fn):
        raise BadInput(f"{func!r} in {str(path)!r} is a {type(fn).__name__}, not a function")
    return fn


def call_user(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` for a user function: what it raises (or a sys.exit) becomes BadInput naming the call."""
    name = getattr(fn, "__name__", "the function")
    announce(f"{name}()")
    try:
        return fn(*args)
    except BadInput:
        raise
    except SystemExit as err:
        raise BadInput(f"{name}() called sys.exit({err.code!r})") from None
    except Exception as err:
        raise BadInput(f"{name}() raised {type(err).__name__}: {err}") from None


def check_target(target: str, options: dict[str, Any], *args: Any) -> Any:
    """Import ``FILE.py``, call ``FUNCTION(*args)`` and check the problem it returns with ``options``.

    ``bpv gradcheck`` calls ``make_problem()``; ``bpv grade`` calls ``make_problem(student_module)``. Runs in the
    child process of :mod:`derive.cli.isolation`.
    """
    from numeric.layer_check import check_problem, problem_kind

    path, func = split_target(target)
    fn = user_function(import_file(path, "bpv_problem"), func, path)
    problem = call_user(fn, *args)
    wrong = problem_kind(problem)
    if wrong:
        raise BadInput(f"{func}({'submission' if args else ''}) returned {wrong}")
    return check_problem(problem, **options)
