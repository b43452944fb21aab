"""What people do with the dashboard, as functions the pages and the CLI call: compose and send,
plan a spreadsheet, run bulk jobs (runner, worker), sync delivery reports, search the history,
count the analytics, seed demo data.

May import: every layer below (``core``, ``rules``, ``gateway``, ``store``, ``sandbox`` for the
demo data). Never streamlit and never ``smslib.cli``.
"""
