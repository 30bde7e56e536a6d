"""The ``bpv`` command line: one subcommand per module in :mod:`derive.cli.commands`.

Each command module defines ``HELP`` (one line), ``DESCRIPTION`` (man-page text with examples), ``ORDER`` (its
place in ``bpv --help``), ``add_arguments(parser)`` and ``run(args) -> int``. Exit codes (docs/conventions.md § CLI):
0 all holds, 1 something does not hold or failed, 2 bad input (one clear line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import derive.cli.commands as commands_pkg
from numeric.errors import BadInput

__all__ = ["build_parser", "main"]

DESCRIPTION = """\
bpv - backprop, derived and verified.

bpv derives neural-network backpropagation (BP1-BP4, activation and cost derivatives) from the definitions with
SymPy, turns the derivation into NumPy kernels, checks them against a hand-written backprop and finite
differences, checks the equations of your own LaTeX documents, and writes it all up as LaTeX/PDF reports.

A model is a catalog name (see `bpv derive --list`) or flags:
  --net 3-30-10-3-1 --act sigmoid,sigmoid,relu,identity --cost mse --reduction mean --layout columns [--no-bias]

Exit status: 0 everything holds, 1 something does not hold or failed, 2 bad input.
"""

EPILOG = """\
examples:
  bpv derive binary_classifier          derive sigma', the bce derivative and delta^L, step by step
  bpv derive --net 3-1 --act sigmoid --cost bce --latex
  bpv <command> --help                  the manual of one command
"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _command_modules():
    mods = []
    for info in pkgutil.iter_modules(commands_pkg.__path__):
        if info.name.startswith("_"):
            continue
        mods.append(importlib.import_module(f"derive.cli.commands.{info.name}"))
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bpv", description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    from derive import __version__

    parser.add_argument("--version", action="version", version=f"bpv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for mod in _command_modules():
        name = mod.__name__.rsplit(".", 1)[1]
        p = sub.add_parser(name, help=mod.HELP, description=mod.DESCRIPTION,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _glue_negative_values(argv: list[str]) -> list[str]:
    """``--net -3-2`` -> ``--net=-3-2`` so that the spec parser, not argparse, explains what is wrong."""
    out: list[str] = []
    it = iter(argv)
    for tok in it:
        if tok in ("--net", "--at"):
            nxt = next(it, None)
            if nxt is not None and nxt.startswith("-") and nxt[1:2].isdigit():
                out.append(f"{tok}={nxt}")
                continue
            out.append(tok)
            if nxt is not None:
                out.append(nxt)
            continue
        out.append(tok)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_glue_negative_values(list(sys.argv[1:] if argv is None else argv)))
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args))
    except BadInput as err:
        print(f"bpv {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bpv: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
