"""smslib: the SMS gateway client, the domain rules, the store and the services behind the dashboard.

The sub-packages are layers; each may import only the layers listed before it:

==============  ======================================================================
``core``        the shared vocabulary: errors, value types, settings, password hashing
``rules``       pure rules: SMS text and segments, phone numbers, senders, spreadsheets
``sandbox``     the local gateway: plays the provider, takes only public names of ``rules``
``gateway``     the HTTP client of the gateway API and the choice of gateway (real or sandbox)
``store``       the database: schema, migrations, messages, reports, jobs, batches, lists
``services``    what people do: compose, plan, send, run jobs, sync reports, history, analytics
``cli``         ``python -m smslib``: the command line over the services
==============  ======================================================================

Importing smslib does no work and never imports streamlit (tests/test_layout.py checks all of it).
"""

from smslib.core.errors import SmsError

__all__ = ["SmsError"]
