"""Streamlit glue shared by app.py and the pages: the shell (login gate, navigation, sidebar),
the settings and cached resources, the login, and small widgets.

May import: streamlit and smslib. Business rules live in smslib; this package only turns them
into Streamlit calls. Module order (no circles): settings → auth → resources → widgets → shell.
"""
