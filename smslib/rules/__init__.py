"""Pure rules with no I/O of their own: SMS text and segments, phone numbers, senders, spreadsheets.

May import: ``smslib.core``, pandas/numpy/pyarrow, phonenumbers, python-calamine. Never the
store, the gateway or the services.
"""
