"""Streamlit glue shared by app.py and the pages: cached resources and small widgets.

Business rules live in smslib; this package only turns them into Streamlit calls.
"""
