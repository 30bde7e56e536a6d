"""One module per ``bpv`` subcommand (discovered by :mod:`derive.cli.app`)."""
