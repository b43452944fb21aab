"""Who may use the dashboard, and who is using it.

Three modes, chosen by configuration:

- **OIDC** — an ``[auth]`` section in ``.streamlit/secrets.toml``: Streamlit's own
  ``st.login`` / ``st.user`` / ``st.logout``; the person is their e-mail (or name).
- **Shared password** — ``DASHBOARD_PASSWORD_HASH`` (or ``DASHBOARD_PASSWORD``):
  a form; the session keeps only an HMAC token (``smslib.core.auth.PasswordCheck``), never
  the password. The person may give a name, which the history shows as "Sent by".
- **Open** — neither: fine on localhost; anywhere else every page carries a warning.
"""

from __future__ import annotations

import importlib.util
import unicodedata

import streamlit as st

from smslib.core.auth import LoginThrottle, PasswordCheck
from smslib.core.config import is_loopback_host

from .settings import configured_settings

TOKEN = "auth.token"   # the HMAC token of a password login
NAME = "auth.name"     # the name the person gave at login (shown in the history)
PASSWORD = "auth.password"
LOCAL_USER = "local"
_SENT_BY_LENGTH = 100  # the store's sent_by column


def require_login() -> None:
    """Let the run go on only for a logged-in person (or when no login is configured)."""
    if oidc_configured():
        _require_oidc()
    elif configured_settings().password_configured:
        _require_password()


def current_user() -> str:
    """Who is sending: the OIDC e-mail or name, the name given at a password login, or ``local``."""
    if oidc_configured():
        who = st.user.get("email") or st.user.get("name") or ""
    else:
        who = st.session_state.get(NAME) or ""
    return _printable(str(who))[:_SENT_BY_LENGTH] or LOCAL_USER


def oidc_configured() -> bool:
    """True when ``.streamlit/secrets.toml`` has an ``[auth]`` section (Streamlit's OIDC login)."""
    # load_if_toml_exists is False (never raises) for a missing or unreadable secrets file.
    return bool(st.secrets.load_if_toml_exists() and st.secrets.get("auth"))


def account_block() -> None:
    """The sidebar's "signed in as" line and the log-out button, when there is a login."""
    if oidc_configured() and st.user.get("is_logged_in"):
        st.caption(f"Signed in as {current_user()}")
        st.button("Log out", key="auth.logout", icon=":material/logout:", on_click=st.logout)
    elif configured_settings().password_configured and st.session_state.get(TOKEN):
        st.caption(f"Signed in as {current_user()}")
        st.button("Log out", key="auth.logout", icon=":material/logout:", on_click=_log_out)


def exposure_warning() -> None:
    """A warning on every page when anyone on the network can reach a dashboard with no login."""
    if oidc_configured() or configured_settings().password_configured:
        return
    address = st.get_option("server.address")
    if listens_only_locally(address):
        return
    where = f"address {address}" if address else "every network interface"
    st.warning(
        f"**Anyone who can reach this server can send SMS at the company's cost and read every phone "
        f"number: the dashboard listens on {where} and asks for no password.** Set DASHBOARD_PASSWORD_HASH "
        "(python -m smslib hash-password) or configure a login in .streamlit/secrets.toml, or bind to "
        "localhost (README, \"Access and exposure\").",
        icon=":material/lock_open:",
    )


def listens_only_locally(address: str | None) -> bool:
    """Whether a ``server.address`` keeps the server to this machine (unset means every interface)."""
    return is_loopback_host(address)


# -- the two login flows -----------------------------------------------------------------------


def _only_this_page(page) -> None:
    """Show ``page`` as the app's one page and end the run: no other page is reachable by URL."""
    st.navigation([st.Page(page, title="Log in", icon=":material/lock:")], position="hidden").run()
    st.stop()


def _require_oidc() -> None:
    if not st.user.get("is_logged_in"):
        _only_this_page(_oidc_page)


def _oidc_page() -> None:
    st.title("SMS dashboard")
    st.markdown("Log in to send messages and see their history.")
    if importlib.util.find_spec("authlib") is None:
        st.error("The login is configured in .streamlit/secrets.toml, but its library is missing: "
                 "install it with `pip install Authlib` and restart.",
                 icon=":material/error:")
    else:
        st.button("Log in", key="auth.login", type="primary", icon=":material/login:", on_click=st.login)


def _require_password() -> None:
    if not _password_check().token_valid(st.session_state.get(TOKEN)):
        st.session_state.pop(TOKEN, None)
        _only_this_page(_password_page)


def _password_page() -> None:
    st.title("SMS dashboard")
    with st.form("auth.form"):
        st.text_input("Password", type="password", key=PASSWORD)
        st.text_input("Your name (shown in the history as the sender of what you send)", key="auth.name_input",
                      max_chars=_SENT_BY_LENGTH)
        st.form_submit_button("Log in", type="primary", icon=":material/login:", on_click=_attempt)
    if error := st.session_state.pop("auth.error", None):
        st.error(error, icon=":material/lock:")


def _attempt() -> None:
    # Runs before the form is drawn again, so the password widget can be reset here:
    # the attempt never stays in the session state.
    attempt = st.session_state.get(PASSWORD) or ""
    del st.session_state[PASSWORD]  # from the widget's raw state too, not only its shown value
    wait = _throttle().wait_seconds()
    if wait > 0:
        st.session_state["auth.error"] = f"Too many wrong passwords: try again in {wait:.0f} s."
        return
    if not attempt or not _password_check().matches(attempt):
        _throttle().failed()
        st.session_state["auth.error"] = "Wrong password. Ask whoever runs this dashboard for it."
        return
    st.session_state[TOKEN] = _password_check().token()
    st.session_state[NAME] = _printable(st.session_state.get("auth.name_input") or "")[:_SENT_BY_LENGTH]


def _log_out() -> None:
    st.session_state.pop(TOKEN, None)
    st.session_state.pop(NAME, None)


@st.cache_resource(show_spinner=False)
def _password_check() -> PasswordCheck:
    check = PasswordCheck.from_settings(configured_settings())
    assert check is not None  # only called when a password is configured
    return check


@st.cache_resource(show_spinner=False)
def _throttle() -> LoginThrottle:
    return LoginThrottle()


def _printable(text: str) -> str:
    """``text`` without control, format (bidi overrides) or unassigned characters, trimmed."""
    return "".join(c for c in text if unicodedata.category(c)[0] not in "C").strip()


def forget() -> None:
    """Drop the cached check and throttle (tests; a new password takes a restart otherwise)."""
    _password_check.clear()
    _throttle.clear()
