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


def call_user(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` for a user function: what it raises (or a sys.exit) becomes BadInput naming the call."""
    name = getattr(fn, "__name__", "the function")
    shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    announce(f"{name}({shown})")
    try:
        return fn(*args, **kwargs)
    except BadInput:
        raise
    except SystemExit as err:
        raise BadInput(f"{name}({shown}) called sys.exit({err.code!r})") from None
    except Exception as err:
        raise BadInput(f"{name}({shown}) raised {type(err).__name__}: {err}") from None


def _problem(fn: Any, func: str, args: tuple, kwargs: dict[str, Any]) -> Any:
    """What ``FUNCTION(*args, **kwargs)`` returned, if it is one of the accepted problem shapes."""
    from numeric.layer_check import problem_kind

    problem = call_user(fn, *args, **kwargs)
    wrong = problem_kind(problem)
    if wrong:
        shown = "submission" if args else ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise BadInput(f"{func}({shown}) returned {wrong}")
    return problem


def check_target(target: str, options: dict[str, Any], *args: Any) -> Any:
    """Import ``FILE.py``, call ``FUNCTION(*args)`` and check the problem it returns with ``options``.

    ``bpv gradcheck`` calls ``make_problem()``; ``bpv grade`` calls ``make_problem(student_module)``. Wrong rows are
    named by the experiments of :mod:`numeric.named_bugs` where one supports a name. When ``make_problem`` takes the
    number of time steps (``def make_problem(T=4)``, and no ``args``), the prefixes T' = 1..T are checked too and the
    first failing one is reported (:mod:`numeric.time_steps`). Runs in the child process of
    :mod:`derive.cli.isolation`.
    """
    from numeric.layer_check import check_problem
    from numeric.named_bugs import check_named, explain_in_time
    from numeric.time_steps import check_time_steps, localise_in_time, steps_parameter

    path, func = split_target(target)
    fn = user_function(import_file(path, "bpv_problem"), func, path)
    steps = None if args else steps_parameter(fn, func)
    result = check_named(_problem(fn, func, args, {}), **options)
    if steps is None:
        return result
    name, T = steps
    quiet = {**options, "progress": False}

    def make(t: int) -> Any:
        return _problem(fn, func, (), {name: t})

    try:
        prefixes = check_time_steps(make, T, lambda problem: check_problem(problem, **quiet), full=result)
    except BadInput as err:  # the full problem's verdict stands; only the localisation in time is lost
        result.notes.append(f"the prefixes {name}' = 1..{T} were not checked: {err}")
        return result
    return explain_in_time(make, localise_in_time(result, prefixes), prefixes)
