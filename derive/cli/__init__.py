"""The ``bpv`` command line (:mod:`derive.cli.main`) and its subcommands (:mod:`derive.cli.commands`)."""

from derive.cli.main import main

__all__ = ["main"]
