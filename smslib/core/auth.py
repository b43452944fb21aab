"""The dashboard's shared password: salted hashes, constant-time checks, session tokens.

A deployment sets ``DASHBOARD_PASSWORD_HASH`` to what ``python -m smslib hash-password``
prints (scrypt, or PBKDF2-SHA256 for hashes made elsewhere); ``DASHBOARD_PASSWORD`` in
clear is a convenience for a quick start. Every comparison goes through
``hmac.compare_digest``. What a logged-in session keeps is a token — an HMAC of the
configured hash under a key that lives only in this process — never the password, so
the session state holds nothing that opens the dashboard elsewhere, and changing the
password (a restart) logs every session out.

No Streamlit here: ``ui/auth.py`` draws the form and keeps the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# scrypt's cost: 2**15 x 8 x 1 takes ~0.3 s and 32 MiB here: paid once per login, by a guesser per guess.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_SCRYPT_MAXMEM = 128 * 1024 * 1024
# Bounds for parameters read from a hash, so a crafted setting cannot pin the CPU or memory.
_MAX_SCRYPT_N = 2**20
_MAX_PBKDF2_ITERATIONS = 10_000_000
_MIN_PBKDF2_ITERATIONS = 100_000
MIN_PASSWORD_LENGTH = 12

HASH_HELP = "make one with: python -m smslib hash-password"


class PasswordHashError(ValueError):
    """A DASHBOARD_PASSWORD_HASH that is not a hash this module made or can check."""


@dataclass(frozen=True)
class PasswordHash:
    """A parsed hash: the algorithm, its cost parameters, the salt and the digest."""

    algorithm: str  # "scrypt" or "pbkdf2_sha256"
    params: tuple[int, ...]
    salt: bytes
    digest: bytes

    def derive(self, password: str) -> bytes:
        secret = password.encode("utf-8")
        if self.algorithm == "scrypt":
            n, r, p = self.params
            return hashlib.scrypt(secret, salt=self.salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM,
                                  dklen=len(self.digest))
        (iterations,) = self.params
        return hashlib.pbkdf2_hmac("sha256", secret, self.salt, iterations, dklen=len(self.digest))


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """A salted scrypt hash of ``password``: ``scrypt$n=..,r=..,p=..$salt$digest`` (base64)."""
    if not password:
        raise ValueError("The password is empty.")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=32)
    return f"scrypt$n={n},r={r},p={p}${_b64(salt)}${_b64(digest)}"


def parse_hash(encoded: str) -> PasswordHash:
    """Read a hash made by ``hash_password`` (or ``pbkdf2_sha256$iterations$salt$digest``)."""
    parts = encoded.strip().split("$")
    try:
        if parts[0] == "scrypt" and len(parts) == 4:
            params = dict(item.split("=", 1) for item in parts[1].split(","))
            n, r, p = int(params["n"]), int(params["r"]), int(params["p"])
            if not (2 <= n <= _MAX_SCRYPT_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
                raise PasswordHashError(f"its scrypt cost is outside what this app accepts; {HASH_HELP}")
            return PasswordHash("scrypt", (n, r, p), _unb64(parts[2]), _unb64(parts[3]))
        if parts[0] == "pbkdf2_sha256" and len(parts) == 4:
            iterations = int(parts[1])
            if not _MIN_PBKDF2_ITERATIONS <= iterations <= _MAX_PBKDF2_ITERATIONS:
                raise PasswordHashError(
                    f"PBKDF2 needs {_MIN_PBKDF2_ITERATIONS:,} to {_MAX_PBKDF2_ITERATIONS:,} iterations; {HASH_HELP}")
            return PasswordHash("pbkdf2_sha256", (iterations,), _unb64(parts[2]), _unb64(parts[3]))
    except (KeyError, ValueError) as e:
        if isinstance(e, PasswordHashError):
            raise
        raise PasswordHashError(f"not a hash this app can read; {HASH_HELP}") from None
    raise PasswordHashError(f"not a hash this app can read (scrypt$… or pbkdf2_sha256$…); {HASH_HELP}")


def verify_password(password: str, encoded: str | PasswordHash) -> bool:
    """Whether ``password`` matches the hash; the digests are compared in constant time."""
    parsed = parse_hash(encoded) if isinstance(encoded, str) else encoded
    return hmac.compare_digest(parsed.derive(password), parsed.digest)


class PasswordCheck:
    """The configured password of one process: checks attempts and issues session tokens.

    Built from ``DASHBOARD_PASSWORD_HASH`` (preferred) or ``DASHBOARD_PASSWORD``. The
    clear password, when that is what was configured, is kept only as a SHA-256 digest,
    so that comparing it takes the same time whatever its length.
    """

    def __init__(self, *, password_hash: str = "", password: str = "") -> None:
        self._hash = parse_hash(password_hash) if password_hash else None
        self._clear_digest = hashlib.sha256(password.encode("utf-8")).digest() if password and not password_hash \
            else None
        # The token key lives only in this process: a restart logs every session out.
        self._key = secrets.token_bytes(32)
        fingerprint = password_hash or (self._clear_digest.hex() if self._clear_digest else "")
        self._token = hmac.new(self._key, fingerprint.encode(), hashlib.sha256).hexdigest()

    @classmethod
    def from_settings(cls, settings) -> PasswordCheck | None:
        """The check for ``settings``, or None when no dashboard password is configured."""
        if not (settings.dashboard_password_hash or settings.dashboard_password):
            return None
        return cls(password_hash=settings.dashboard_password_hash, password=settings.dashboard_password)

    def matches(self, attempt: str) -> bool:
        if self._hash is not None:
            return verify_password(attempt, self._hash)
        given = hashlib.sha256(attempt.encode("utf-8")).digest()
        return self._clear_digest is not None and hmac.compare_digest(given, self._clear_digest)

    def token(self) -> str:
        """What a session keeps after a successful login (never the password)."""
        return self._token

    def token_valid(self, token: object) -> bool:
        return isinstance(token, str) and hmac.compare_digest(token, self._token)


class LoginThrottle:
    """At most ``limit`` failed logins per ``window`` seconds in this process, then a pause.

    Process-wide rather than per session: a guesser opens a new session for free.
    """

    def __init__(self, limit: int = 10, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: list[float] = []
        self._lock = threading.Lock()

    def wait_seconds(self) -> float:
        """Seconds until another attempt is allowed; 0 when one is allowed now."""
        with self._lock:
            now = self._clock()
            self._failures = [t for t in self._failures if now - t < self.window]
            if len(self._failures) < self.limit:
                return 0.0
            return self.window - (now - self._failures[0])

    def failed(self) -> None:
        with self._lock:
            self._failures.append(self._clock())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not text:
        raise ValueError("empty")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
