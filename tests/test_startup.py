"""`bpv --help` starts without NumPy or SymPy and still lists every command with its own help line."""

import importlib
import json
import subprocess
import sys

import pytest

from derive.cli.app import command_table

_PROBE = """
import json, sys
from derive.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted(m for m in ("numpy", "sympy", "mpmath", "torch") if m in sys.modules)
print(json.dumps(heavy), file=sys.stderr)
"""


def _heavy_modules_after(*argv: str) -> tuple[list[str], str]:
    proc = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, timeout=60)
    return json.loads(proc.stderr.strip().splitlines()[-1]), proc.stdout


def test_top_level_help_loads_neither_numpy_nor_sympy():
    heavy, out = _heavy_modules_after("--help")
    assert heavy == [], f"bpv --help imported {heavy}"
    for info in command_table():
        assert info.name in out


def test_importing_the_app_loads_neither_numpy_nor_sympy():
    heavy, _ = _heavy_modules_after("--version")
    assert heavy == []


def test_a_command_help_imports_its_module():
    _, out = _heavy_modules_after("derive", "--help")
    assert "--functions-only" in out and "--no-cache" in out  # the command's own arguments are there


def test_the_table_read_from_source_matches_the_modules():
    table = command_table()
    assert [info.name for info in table][:3] == ["derive", "verify", "kernels"]
    for info in table:
        mod = importlib.import_module(info.module)
        assert (info.help, info.order) == (mod.HELP, mod.ORDER), info.name


@pytest.mark.parametrize("argv", [["derive", "--no-such-flag"], ["nosuchcommand"]])
def test_usage_errors_still_exit_2(argv):
    proc = subprocess.run([sys.executable, "-m", "derive", *argv], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
