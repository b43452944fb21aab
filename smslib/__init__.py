"""smslib: the SMS gateway client, the domain rules and the sandbox behind the dashboard.

Importing smslib does no work and never imports streamlit.
"""

from .errors import SmsError

__all__ = ["SmsError"]
