"""``python -m derive`` is the ``bpv`` command."""

import sys

from derive.cli.app import main

sys.exit(main())
