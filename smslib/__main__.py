"""``python -m smslib``: the command line (see smslib.cli)."""

import sys

from .cli import main

sys.exit(main())
