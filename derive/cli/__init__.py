"""The ``bpv`` command line (:mod:`derive.cli.app`) and its subcommands (:mod:`derive.cli.commands`)."""

from derive.cli.app import main

__all__ = ["main"]
