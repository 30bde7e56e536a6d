"""The ``bpv`` command line: one subcommand per module in :mod:`derive.cli.commands`.

Each command module defines ``HELP`` (one line, a string literal), ``DESCRIPTION`` (man-page text with examples),
``ORDER`` (its place in ``bpv --help``, an int literal), ``add_arguments(parser)`` and ``run(args) -> int``. Exit
codes (docs/conventions.md § CLI): 0 all holds, 1 something does not hold or failed, 2 bad input (one clear line on
stderr, no traceback).

Start-up: ``bpv --help`` lists every command without importing any of them: ``HELP`` and ``ORDER`` are read from
each module's source as literals (:func:`command_table`), so NumPy and SymPy stay unloaded (~0.05 s instead of
~1.3 s). Only the command being run (or asked for ``--help``) is imported and given its arguments. A new command is
still one new module and nothing else.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

import derive.cli.commands as commands_pkg
from derive.cli.outputs import validate_outputs
from numeric.errors import BadInput

__all__ = ["CommandInfo", "build_parser", "command_table", "main"]

DESCRIPTION = """\
bpv - backprop, derived and verified.

bpv derives neural-network backpropagation (BP1-BP4, activation and cost derivatives) from the definitions with
SymPy, turns the derivation into NumPy kernels, checks them against a hand-written backprop and finite
differences, checks the equations of your own LaTeX documents, and writes it all up as LaTeX/PDF reports.

A model is a catalog name (see `bpv derive --list`) or flags:
  --net 3-30-10-3-1 --act sigmoid,sigmoid,relu,identity --cost mse --reduction mean --layout columns [--no-bias]
  past the dense layer, on every hidden layer: [--norm batch|layer] [--keep-prob P] [--l2 LAMBDA [--l2-n N]]
  weight sharing: --net 1x8x8-c4k3p1-pool2-flat-10 --act relu,softmax --cost cce (a convolutional net, x (m, C, H, W))
                  or --rnn 5-8-5 --steps 4 (a vanilla tanh RNN, min-char-rnn's names)

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


@dataclass(frozen=True)
class CommandInfo:
    """A subcommand as ``bpv --help`` lists it, read from its module's source without importing it."""

    name: str
    order: int
    help: str

    @property
    def module(self) -> str:
        return f"{commands_pkg.__name__}.{self.name}"


def _literals(path: Path) -> dict[str, object]:
    """The module-level ``NAME = literal`` assignments of a source file (never executed: ``ast.literal_eval``)."""
    out: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:  # not a literal (a call, a name): not something the table reads
                continue
    return out


def command_table() -> list[CommandInfo]:
    """Every module of :mod:`derive.cli.commands` with its ``ORDER`` and ``HELP``, in ``bpv --help`` order."""
    infos = []
    for path in Path(commands_pkg.__file__).parent.glob("*.py"):
        if path.stem.startswith("_"):
            continue
        found = _literals(path)
        help_line = found.get("HELP")
        if not isinstance(help_line, str):
            raise RuntimeError(f"{path}: a bpv command module needs HELP = '<one line>' as a string literal")
        order = found.get("ORDER", 100)
        infos.append(CommandInfo(path.stem, order if isinstance(order, int) else 100, help_line))
    return sorted(infos, key=lambda info: (info.order, info.name))


def _chosen(argv: list[str], names: set[str]) -> str | None:
    """The subcommand argv runs (its first non-option word), if it is one."""
    word = next((tok for tok in argv if not tok.startswith("-")), None)
    return word if word in names else None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``bpv`` parser. With ``argv``, only the command it runs is imported and given its arguments."""
    parser = _Parser(prog="bpv", description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    from derive import __version__

    parser.add_argument("--version", action="version", version=f"bpv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    table = command_table()
    chosen = None if argv is None else _chosen(argv, {info.name for info in table})
    for info in table:
        if argv is not None and info.name != chosen:  # listed with its help line, never imported
            sub.add_parser(info.name, help=info.help, add_help=False)
            continue
        mod = importlib.import_module(info.module)
        p = sub.add_parser(info.name, help=info.help, description=mod.DESCRIPTION,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.add_argument("--force", action="store_true",
                       help="overwrite existing output files that bpv did not write (or that were edited since)")
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
    argv = _glue_negative_values(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage error (already printed): a code, in-process too
        return done.code if isinstance(done.code, int) else 2
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        validate_outputs(args)  # before any work: a bad output location wastes nothing
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
