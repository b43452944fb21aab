"""``python -m smslib``: the command line (see smslib.cli.main)."""

import sys

from smslib.cli.main import main

sys.exit(main())
