"""``python -m derive`` is the ``bpv`` command."""

import sys

from derive.cli import main

sys.exit(main())
