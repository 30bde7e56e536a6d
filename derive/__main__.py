"""``python -m derive`` is the ``bpv`` command."""

import sys

from derive.cli.main import main

sys.exit(main())
