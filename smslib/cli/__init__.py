"""``python -m smslib``: the command line, one command per service (``main``), and ``stats`` (analytics).

May import: every other layer. Nothing imports it but ``smslib.__main__``.
"""
