"""The gateway side: the thin HTTP client of the gateway API (``client``) and the choice of
gateway — the configured one, or the built-in sandbox started for it (``connect``).

May import: ``smslib.core``, requests, and ``smslib.sandbox`` (to start it). Never the store,
pandas or the services: the client stays thin.
"""
