"""The text of ``.env.example``, generated from the one table of settings."""

from __future__ import annotations

import textwrap

from .config import SETTINGS

HEADER = """\
# Settings of the SMS dashboard. Copy to .env and change what you need;
# real environment variables win over this file. Every value shown is the default.
# With nothing set, the dashboard runs against its built-in sandbox gateway.
# Regenerate with: make env-example
"""


def env_example() -> str:
    """Every setting with its default and a comment, in the order of ``SETTINGS``."""
    lines = [HEADER]
    for setting in SETTINGS:
        lines.append("")
        lines.extend("# " + line for line in textwrap.wrap(setting.help, 86))
        lines.append(f"{setting.env}={setting.default}")
    return "\n".join(lines) + "\n"
