"""The shared vocabulary of every layer: errors, value types, settings, password hashing.

May import: the standard library and python-dotenv. Nothing else of smslib.
"""
