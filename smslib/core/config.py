"""Settings from the environment and ``.env``.

Every setting is declared once in ``SETTINGS`` below (name, default, meaning); that
table feeds ``Settings``, ``.env.example`` and the README, and a test keeps them equal.
Real environment variables win over ``.env``. An unusable value raises ``ConfigError``
naming the variable, at start, not deep inside a send.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from .errors import ConfigError

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
MAX_REQUESTS_IN_FLIGHT = 64


def is_loopback_host(host: str | None) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is this machine only."""
    if not host:
        return False
    host = host.strip().strip("[]").lower()
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def credentials_in_clear(url: str) -> bool:
    """True for a plain ``http://`` URL to another machine: Basic Auth would cross the network readable."""
    parts = urlsplit(url)
    return parts.scheme == "http" and not is_loopback_host(parts.hostname)


def _text(value: str) -> str:
    return value.strip()


def _list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("use true or false")


def _number(value: str, kind: type) -> Any:
    try:
        return kind(value.strip())
    except ValueError:
        raise ValueError("must be a whole number" if kind is int else "must be a number") from None


def _positive_float(value: str) -> float:
    number = _number(value, float)
    if not number > 0:
        raise ValueError("must be greater than 0")
    return number


def _non_negative_float(value: str) -> float:
    number = _number(value, float)
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _positive_int(value: str) -> int:
    number = _number(value, int)
    if number < 1:
        raise ValueError("must be at least 1")
    return number


def _batch_size(value: str) -> int:
    number = _positive_int(value)
    if number > 1000:
        raise ValueError("the gateway takes at most 1000 numbers in one request")
    return number


def _requests_in_flight(value: str) -> int:
    number = _positive_int(value)
    if number > MAX_REQUESTS_IN_FLIGHT:
        raise ValueError(f"at most {MAX_REQUESTS_IN_FLIGHT} (each is a thread and a connection)")
    return number


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError("not a known IANA time zone such as Europe/Warsaw") from e
    return value.strip()


def _url(value: str) -> str:
    value = value.strip().rstrip("/")
    if value and not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value


def _phone_format(value: str) -> str:
    value = value.strip().lower()
    if value not in ("digits", "e164"):
        raise ValueError("use digits (48600123456) or e164 (+48600123456)")
    return value


def _optional_int(value: str) -> str:
    value = value.strip()
    if value:
        _number(value, int)
    return value


def _password_hash(value: str) -> str:
    from .auth import PasswordHashError, parse_hash  # the hashing module, imported only when a hash is set

    value = value.strip()
    if value:
        try:
            parse_hash(value)
        except PasswordHashError as e:
            raise ValueError(str(e)) from None
    return value


def _region(value: str) -> str:
    value = value.strip().upper()
    if len(value) != 2 or not value.isalpha():
        raise ValueError("use a two-letter region code such as PL")
    return value


@dataclass(frozen=True)
class Setting:
    env: str
    attr: str
    default: str
    parse: Callable[[str], Any]
    help: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    # -- the gateway
    Setting("SMS_API_URL", "api_url", "", _url,
            "Base URL of the gateway, e.g. https://gateway.example/api. Empty: the built-in sandbox."),
    Setting("SMS_API_USERNAME", "api_username", "", _text, "Basic Auth user for /Smses and /DeliveryReports."),
    Setting("SMS_API_PASSWORD", "api_password", "", _text,
            "Basic Auth password for /Smses and /DeliveryReports.", secret=True),
    Setting("SMS_SIMPLEAPI_EMAIL", "simpleapi_email", "", _text,
            "Account e-mail for /SimpleApi. Empty: the SimpleApi channel is not offered."),
    Setting("SMS_SIMPLEAPI_PASSWORD", "simpleapi_password", "", _text, "Password for /SimpleApi.", secret=True),
    Setting("SMS_GATEWAY_TIMEZONE", "gateway_timezone", "Europe/Warsaw", _timezone,
            "Time zone of gateway times that carry no UTC offset."),
    Setting("SMS_GATEWAY_DEDUPLICATES", "gateway_deduplicates", "true", _bool,
            "Does the gateway treat a repeated TransactionId as the same send? If false, an "
            "interrupted send is marked uncertain instead of retried."),
    Setting("SMS_CONNECT_TIMEOUT", "connect_timeout", "5", _positive_float, "Seconds to wait for a connection."),
    Setting("SMS_READ_TIMEOUT", "read_timeout", "30", _positive_float, "Seconds to wait for the gateway's answer."),
    Setting("SMS_RETRY_ATTEMPTS", "retry_attempts", "4", _positive_int,
            "Attempts per request, the first included (only safe retries are made)."),
    Setting("SMS_RETRY_BACKOFF", "retry_backoff", "0.5", _non_negative_float,
            "First wait between attempts in seconds; doubles each time, with jitter."),
    Setting("SMS_RETRY_MAX_WAIT", "retry_max_wait", "60", _non_negative_float,
            "Longest total time in seconds spent waiting between attempts of one request."),
    # -- sending
    Setting("SMS_DEFAULT_SENDER", "default_sender", "", _text, "Sender used when none is chosen. Empty: the gateway's default."),
    Setting("SMS_SENDERS", "senders", "", _list, "Comma-separated senders offered in the app."),
    Setting("SMS_ALLOW_CUSTOM_SENDER", "allow_custom_sender", "true", _bool,
            "May a person type a sender that is not in SMS_SENDERS?"),
    Setting("SMS_COST_CENTERS", "cost_centers", "", _list, "Comma-separated cost centres offered in the app."),
    Setting("SMS_TEST_PHONE", "test_phone", "", _text, "Number for the one-click test send. Empty: no test button."),
    Setting("SMS_PHONE_REGION", "phone_region", "PL", _region,
            "Region assumed for numbers written without a country code."),
    Setting("SMS_PHONE_FORMAT", "phone_format", "digits", _phone_format,
            "How numbers are sent to the gateway: digits (48600123456) or e164 (+48600123456)."),
    Setting("SMS_MOBILE_ONLY", "mobile_only", "false", _bool, "Refuse numbers that libphonenumber knows are landlines."),
    Setting("SMS_BATCH_SIZE", "batch_size", "500", _batch_size, "Numbers per gateway request in bulk jobs (at most 1000)."),
    Setting("SMS_RATE_LIMIT_SMS", "rate_limit_sms", "0", _non_negative_float,
            "Most SMS per second sent by bulk jobs, for the whole account. 0: no limit."),
    Setting("SMS_RATE_LIMIT_REQUESTS", "rate_limit_requests", "0", _non_negative_float,
            "Most gateway requests per second, for the whole account. 0: no limit."),
    Setting("SMS_REQUESTS_IN_FLIGHT", "requests_in_flight", "8", _requests_in_flight,
            "Bulk-job requests each worker keeps at the gateway at once (1 to 64): more hide more of "
            "the gateway's latency; the rate limits above still hold."),
    # -- storage and background work
    Setting("SMS_DB_URL", "db_url", "", _text,
            "The store: a database URL, sqlite:///path or postgresql://user:pass@host/db. "
            "Empty: sqlite:///data/sms.db (inside SMS_DATA_DIR).", secret=True),
    Setting("SMS_DATA_DIR", "data_dir", "data", _text, "Folder for runtime files (the SQLite store, the sandbox's state)."),
    Setting("SMS_SYNC_INTERVAL", "sync_interval", "30", _positive_float, "Seconds between delivery-report syncs."),
    Setting("SMS_PENDING_CHECK_AFTER", "pending_check_after", "300", _non_negative_float,
            "Ask the gateway by id about messages still pending after this many seconds."),
    Setting("SMS_RUN_WORKER_IN_APP", "run_worker_in_app", "true", _bool,
            "Run jobs and report sync inside the dashboard. Turn off when dedicated workers run."),
    Setting("SMS_LEASE_SECONDS", "lease_seconds", "60", _positive_float,
            "How long a batch a worker claimed stays its own without a heartbeat; a worker that stops is "
            "replaced by another after this long."),
    Setting("SMS_MAX_ROWS", "max_rows", "1000000", _positive_int, "Most rows read from one uploaded spreadsheet."),
    Setting("SMS_MAX_UPLOAD_MB", "max_upload_mb", "200", _positive_int, "Largest spreadsheet accepted, in MB."),
    Setting("SMS_DISPLAY_TIMEZONE", "display_timezone", "Europe/Warsaw", _timezone, "Time zone in which the app shows times."),
    # -- who may use the dashboard (an [auth] section in .streamlit/secrets.toml, OIDC, wins over these)
    Setting("DASHBOARD_PASSWORD_HASH", "dashboard_password_hash", "", _password_hash,
            "Shared password of the dashboard, as the hash printed by python -m smslib hash-password. "
            "Empty: no password (fine while the server listens on localhost only).", secret=True),
    Setting("DASHBOARD_PASSWORD", "dashboard_password", "", _text,
            "The same password in clear, a quick-start convenience; DASHBOARD_PASSWORD_HASH wins when both "
            "are set.", secret=True),
    # -- the built-in sandbox (used when SMS_API_URL is empty)
    Setting("SMS_SANDBOX_TIME_SCALE", "sandbox_time_scale", "1", _positive_float,
            "Multiplies the sandbox's simulated delivery delays (0.01 = 100x faster)."),
    Setting("SMS_SANDBOX_SEED", "sandbox_seed", "", _optional_int, "Seed for the sandbox's simulation. Empty: random."),
)

_SECRET_ATTRS = frozenset(s.attr for s in SETTINGS if s.secret)


@dataclass(frozen=True)
class Settings:
    api_url: str = ""
    api_username: str = ""
    api_password: str = ""
    simpleapi_email: str = ""
    simpleapi_password: str = ""
    gateway_timezone: str = "Europe/Warsaw"
    gateway_deduplicates: bool = True
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    retry_attempts: int = 4
    retry_backoff: float = 0.5
    retry_max_wait: float = 60.0
    default_sender: str = ""
    senders: tuple[str, ...] = ()
    allow_custom_sender: bool = True
    cost_centers: tuple[str, ...] = ()
    test_phone: str = ""
    phone_region: str = "PL"
    phone_format: str = "digits"
    mobile_only: bool = False
    batch_size: int = 500
    rate_limit_sms: float = 0.0
    rate_limit_requests: float = 0.0
    requests_in_flight: int = 8
    db_url: str = ""
    data_dir: str = "data"
    sync_interval: float = 30.0
    pending_check_after: float = 300.0
    run_worker_in_app: bool = True
    lease_seconds: float = 60.0
    max_rows: int = 1_000_000
    max_upload_mb: int = 200
    display_timezone: str = "Europe/Warsaw"
    dashboard_password_hash: str = ""
    dashboard_password: str = ""
    sandbox_time_scale: float = 1.0
    sandbox_seed: str = ""

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, dotenv_path: str | Path | None = ".env"
    ) -> Settings:
        """Read the settings: ``environ`` (default ``os.environ``) over the ``.env`` file."""
        values: dict[str, str] = {}
        if dotenv_path is not None and Path(dotenv_path).is_file():
            values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        values.update(os.environ if environ is None else environ)
        kwargs = {}
        for setting in SETTINGS:
            raw = values.get(setting.env)
            if raw is None:
                continue
            try:
                kwargs[setting.attr] = setting.parse(raw)
            except ValueError as e:
                # A parser's own message may quote the value: never show one that does for a secret.
                if setting.secret:
                    shown = "(value hidden)" + (f": {e}" if raw.strip() and raw.strip() not in str(e) else "")
                else:
                    shown = f"{raw!r}: {e}"
                raise ConfigError(f"{setting.env} is not valid, {shown}", field=setting.env) from None
        return cls(**kwargs)

    def __repr__(self) -> str:
        shown = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _SECRET_ATTRS and value:
                value = "***"
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    __str__ = __repr__

    @property
    def uses_sandbox(self) -> bool:
        """True when no gateway is configured and the built-in sandbox serves instead."""
        return not self.api_url

    @property
    def simpleapi_enabled(self) -> bool:
        return bool(self.simpleapi_email and self.simpleapi_password) or self.uses_sandbox

    @property
    def password_configured(self) -> bool:
        """True when the dashboard asks for the shared password (DASHBOARD_PASSWORD[_HASH])."""
        return bool(self.dashboard_password_hash or self.dashboard_password)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def store_url(self) -> str:
        """The database URL in use: ``SMS_DB_URL``, or the SQLite file in the data folder."""
        return self.db_url or f"sqlite:///{self.data_path / 'sms.db'}"

    def with_gateway(self, url: str, username: str, password: str,
                     simpleapi_email: str = "", simpleapi_password: str = "") -> Settings:
        """A copy pointing at a given gateway (used to plug in the running sandbox)."""
        return dataclasses.replace(
            self, api_url=url, api_username=username, api_password=password,
            simpleapi_email=simpleapi_email, simpleapi_password=simpleapi_password,
        )
