"""The sandbox gateway's state and rules, usable without HTTP.

Every piece of gateway data (messages, reports, transactions) lives in SQLite, so
several sandbox processes can share one database file and a restart keeps it. What
belongs to one server only (its injected faults, its rate-limit bucket, the requests it
is serving) lives in memory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import math
import os
import random
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import errors
from .simulation import DeliverySimulator

# The sandbox's own accounts (it plays the gateway; the product learns them from here).
SANDBOX_USERNAME = "sandbox"
SANDBOX_PASSWORD = "sandbox"
SANDBOX_EMAIL = "sandbox@example.com"
SMSES, SIMPLEAPI = "smses", "simpleapi"  # the endpoint a message came through, as stored
from .validation import SendRequest, parse_message_ids, require_object, validate_send

ENDPOINTS = (SMSES, SIMPLEAPI, "reports")

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS messages (
        seq INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL UNIQUE,
        phone TEXT NOT NULL,
        message TEXT NOT NULL,
        sender TEXT,
        priority TEXT,
        flash INTEGER,
        cost_center TEXT,
        transaction_id TEXT,
        channel TEXT NOT NULL,
        accepted_at REAL NOT NULL,
        status INTEGER NOT NULL,
        due_at REAL,
        report_id TEXT NOT NULL,
        read INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS messages_unread ON messages (read, due_at)",
    """CREATE TABLE IF NOT EXISTS transactions (
        transaction_id TEXT PRIMARY KEY,
        body_hash TEXT NOT NULL,
        message_ids TEXT NOT NULL,
        accepted_at REAL NOT NULL
    )""",
)
_COLUMNS = ("seq", "message_id", "phone", "message", "sender", "priority", "flash", "cost_center",
            "transaction_id", "channel", "accepted_at", "status", "due_at", "report_id", "read")
# Public: smslib.services.demo bulk-imports demo rows in this layout (one tuple per message, in _COLUMNS order).
INSERT_MESSAGE = f"INSERT INTO messages ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_REPORT_COLUMNS = "m.seq, m.report_id, m.phone, m.message_id, m.status, m.due_at"
_REPORTS_BY_ID = (f"SELECT {_REPORT_COLUMNS} FROM json_each(?) AS j JOIN messages AS m ON m.message_id = j.value "
                  "WHERE m.due_at <= ? ORDER BY j.key")
_UNREAD_REPORTS = f"SELECT {_REPORT_COLUMNS} FROM messages AS m WHERE m.read = 0 AND m.due_at <= ?"


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} is a share of requests: between 0 and 1, not {value}")


@dataclass(frozen=True)
class Faults:
    """Faults a server injects into the requests it serves; all off by default."""

    fail_rate: float = 0.0               # share answered 503, nothing done
    hang_rate: float = 0.0               # share held hang_seconds, then processed
    hang_after_accept_rate: float = 0.0  # share processed, then held hang_seconds before the answer
    hang_seconds: float = 5.0
    rate_limit: float = 0.0              # requests per second (token bucket); 0: no limit
    endpoints: tuple[str, ...] = ENDPOINTS  # where the faults apply: smses, simpleapi, reports

    def __post_init__(self) -> None:
        for name in ("fail_rate", "hang_rate", "hang_after_accept_rate"):
            _check_rate(name, getattr(self, name))
        if self.hang_seconds < 0:
            raise ValueError(f"hang_seconds must not be negative, not {self.hang_seconds}")
        if self.rate_limit < 0:
            raise ValueError(f"rate_limit is requests per second, 0 for none; not {self.rate_limit}")
        unknown = set(self.endpoints) - set(ENDPOINTS)
        if unknown:
            raise ValueError(f"unknown endpoints {sorted(unknown)}; use some of {', '.join(ENDPOINTS)}")


@dataclass(frozen=True)
class SandboxConfig:
    """Everything a sandbox gateway is built from; the fault fields are the starting faults."""

    db_path: str | Path = ":memory:"
    log_path: str | Path | None = None
    seed: int | str | None = None
    time_scale: float = 1.0
    shares: tuple[float, float, float, float] = (0.90, 0.04, 0.03, 0.03)  # statuses 1, -1, -2, -3
    median_latency: float = 4.0
    p99_latency: float = 60.0
    cost_centers: tuple[str, ...] = ("marketing", "it", "support")
    username: str = SANDBOX_USERNAME
    password: str = SANDBOX_PASSWORD
    email: str = SANDBOX_EMAIL
    simple_password: str = SANDBOX_PASSWORD
    timezone: str = "Europe/Warsaw"
    max_phones: int = 1000
    max_segments: int = 10
    max_report_ids: int = 1000
    fail_rate: float = 0.0
    hang_rate: float = 0.0
    hang_after_accept_rate: float = 0.0
    hang_seconds: float = 5.0
    rate_limit: float = 0.0
    fault_endpoints: tuple[str, ...] = ENDPOINTS

    def __post_init__(self) -> None:
        if self.time_scale < 0:
            raise ValueError(f"time_scale multiplies delays: 0 or more, not {self.time_scale}")
        if len(self.shares) != 4 or min(self.shares) < 0 or sum(self.shares) <= 0:
            raise ValueError(f"shares are four non-negative weights of statuses 1, -1, -2, -3, not {self.shares}")
        if not 0 < self.median_latency < self.p99_latency:
            raise ValueError("latencies must satisfy 0 < median_latency < p99_latency")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"timezone {self.timezone!r} is not a known IANA zone") from e
        self.faults()

    def faults(self) -> Faults:
        """The faults this configuration starts with."""
        return Faults(fail_rate=self.fail_rate, hang_rate=self.hang_rate,
                      hang_after_accept_rate=self.hang_after_accept_rate, hang_seconds=self.hang_seconds,
                      rate_limit=self.rate_limit, endpoints=tuple(self.fault_endpoints))


@dataclass(frozen=True)
class Admission:
    """The fault decision for one request: seconds to hold it before and after processing."""

    hang_before: float = 0.0
    hang_after: float = 0.0


class SandboxBackend:
    """The gateway's rules over its SQLite state: sends, idempotency, reports, faults."""

    def __init__(self, config: SandboxConfig | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config or SandboxConfig()
        self._clock = clock
        self._tz = ZoneInfo(self.config.timezone)
        seed = self.config.seed if self.config.seed is not None else secrets.token_hex(8)
        self._seed = seed
        self._simulator = DeliverySimulator(
            seed=seed, shares=self.config.shares, median=self.config.median_latency,
            p99=self.config.p99_latency, time_scale=self.config.time_scale)
        self._lock = threading.Lock()
        self._db = self._connect(str(self.config.db_path))
        self._fault_lock = threading.Lock()
        self._idle = threading.Condition()
        self._in_flight = 0
        self._reset_faults()

    def _connect(self, path: str) -> sqlite3.Connection:
        # One connection shared by the server's threads, serialised by self._lock;
        # transactions are explicit, so autocommit mode.
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if path != ":memory:":
            db.execute("PRAGMA busy_timeout = 10000")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
        with self._lock:
            db.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                db.execute(statement)
            db.execute("COMMIT")
        return db

    def close(self) -> None:
        """Close the database; the backend cannot be used afterwards."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> SandboxBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock at once, so a check-then-insert is atomic across
        # the threads of this process and other processes sharing the file.
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- the three endpoints -----------------------------------------------------------------

    def send(self, username: str | None, password: str | None, body: Any) -> dict[str, Any]:
        """POST /Smses: one message id per phone, in order; a repeated TransactionId replays."""
        self.authenticate(username, password)
        request = validate_send(require_object(body), extended=True, **self._limits())
        message_ids, accepted_at = self._accept(request, SMSES, body)
        return {"MessageIds": message_ids, "CurrentTime": self._format(accepted_at)}

    def simple_send(self, body: Any) -> dict[str, Any]:
        """POST /SimpleApi: credentials in the body; the message ids joined with commas."""
        body = require_object(body)
        if not (_same(body.get("UserEmail"), self.config.email)
                and _same(body.get("Password"), self.config.simple_password)):
            raise errors.unauthorized("simpleapi")
        request = validate_send(body, extended=False, **self._limits())
        message_ids, _ = self._accept(request, SIMPLEAPI, body)
        return {"MessageId": ",".join(message_ids)}

    def delivery_reports(self, username: str | None, password: str | None,
                         message_ids: Sequence[str] | None, mark_as_read: bool | None) -> dict[str, Any]:
        """GET /DeliveryReports with the semantics of gateway-api.md §5."""
        self.authenticate(username, password)
        ids = parse_message_ids(message_ids, limit=self.config.max_report_ids)
        with self._transaction(write=bool(mark_as_read)) as db:
            now = self._clock()
            if ids is not None:
                rows = db.execute(_REPORTS_BY_ID, (json.dumps(ids), now)).fetchall()
            elif mark_as_read is not None:
                rows = db.execute(_UNREAD_REPORTS + " ORDER BY m.due_at, m.seq", (now,)).fetchall()
            else:
                rows = db.execute(_UNREAD_REPORTS + " AND m.status != 1 ORDER BY m.due_at, m.seq",
                                  (now,)).fetchall()
            if mark_as_read:
                db.execute("UPDATE messages SET read = 1 WHERE seq IN (SELECT value FROM json_each(?))",
                           (json.dumps([row[0] for row in rows]),))
        reports = [{"ReportId": report_id, "Phone": phone, "MessageId": message_id, "Status": status,
                    "DeliveryTime": self._format(due_at)}
                   for _, report_id, phone, message_id, status, due_at in rows]
        return {"CurrentTime": self._format(now), "DeliveryReports": reports}

    def _limits(self) -> dict[str, Any]:
        return {"max_phones": self.config.max_phones, "max_segments": self.config.max_segments,
                "cost_centers": self.config.cost_centers}

    def authenticate(self, username: str | None, password: str | None) -> None:
        """Raise the 401 unless these are the Basic Auth credentials."""
        if not (_same(username, self.config.username) and _same(password, self.config.password)):
            raise errors.unauthorized("basic")

    def _accept(self, request: SendRequest, channel: str, body: dict[str, Any]) -> tuple[list[str], float]:
        """Record a send once; the same TransactionId and body give back the first answer."""
        body_hash = hashlib.sha256(
            json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
        with self._transaction() as db:
            if request.transaction_id is not None:
                known = db.execute("SELECT body_hash, message_ids, accepted_at FROM transactions "
                                   "WHERE transaction_id = ?", (request.transaction_id,)).fetchone()
                if known is not None:
                    if known[0] != body_hash:
                        raise errors.transaction_conflict(request.transaction_id)
                    return json.loads(known[1]), known[2]
            now = self._clock()
            first_seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM messages").fetchone()[0]
            rows = self._new_rows(request, channel, first_seq, now)
            db.executemany(INSERT_MESSAGE, rows)
            message_ids = [row[1] for row in rows]
            if request.transaction_id is not None:
                db.execute("INSERT INTO transactions VALUES (?, ?, ?, ?)",
                           (request.transaction_id, body_hash, json.dumps(message_ids), now))
        self._log(rows)
        return message_ids, now

    def _new_rows(self, request: SendRequest, channel: str, first_seq: int, now: float) -> list[tuple]:
        # Random ids: unique across restarts of an in-memory sandbox and across processes.
        random_hex = os.urandom(16 * len(request.phones)).hex()
        flash = None if request.flash is None else int(request.flash)
        channel_name = channel
        rows = []
        for index, phone in enumerate(request.phones):
            seq = first_seq + index
            outcome = self._simulator.outcome(seq, phone, request.priority)
            ids = random_hex[32 * index: 32 * index + 32]
            rows.append((seq, ids[:16], phone, request.message, request.sender, request.priority, flash,
                         request.cost_center, request.transaction_id, channel_name, now, outcome.status,
                         None if outcome.delay is None else now + outcome.delay, ids[16:], 0))
        return rows

    def _log(self, rows: list[tuple]) -> None:
        if self.config.log_path is None:
            return
        lines = "".join(
            json.dumps({"phone": row[2], "message_id": row[1], "transaction_id": row[8], "message": row[3],
                        "channel": row[9]}, ensure_ascii=False) + "\n"
            for row in rows)
        # One write to an O_APPEND file: lines of processes sharing the log never interleave.
        fd = os.open(self.config.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, lines.encode())
        finally:
            os.close(fd)

    def _format(self, timestamp: float) -> str:
        return datetime.fromtimestamp(timestamp, self._tz).isoformat(timespec="milliseconds")

    # -- faults ------------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """The faults in force now."""
        return self._faults

    def configure_faults(self, **changes: Any) -> Faults:
        """Change some fault settings (the fields of ``Faults``) from now on; returns the new ones."""
        with self._fault_lock:
            self._faults = dataclasses.replace(self._faults, **changes)
            self._tokens = max(1.0, self._faults.rate_limit)
            self._bucket_time = self._clock()
            return self._faults

    def _reset_faults(self) -> None:
        with self._fault_lock:
            self._faults = self.config.faults()
            self._fault_random = random.Random(f"{self._seed}:faults")
            self._tokens = max(1.0, self._faults.rate_limit)
            self._bucket_time = self._clock()

    @contextmanager
    def admit(self, endpoint: str) -> Iterator[Admission]:
        """Decide the faults of one request to ``endpoint``; raises 429 or 503, or yields the hangs.

        While the block runs the request counts as in flight (see ``wait_idle``).
        """
        admission = self._decide(endpoint)
        with self._idle:
            self._in_flight += 1
        try:
            yield admission
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _decide(self, endpoint: str) -> Admission:
        with self._fault_lock:
            faults = self._faults
            if endpoint not in faults.endpoints:
                return Admission()
            if faults.rate_limit > 0:
                self._take_token(faults.rate_limit)
            draw = self._fault_random.random
            if draw() < faults.fail_rate:
                raise errors.injected_failure(faults.fail_rate)
            return Admission(hang_before=faults.hang_seconds if draw() < faults.hang_rate else 0.0,
                             hang_after=faults.hang_seconds if draw() < faults.hang_after_accept_rate else 0.0)

    def _take_token(self, rate: float) -> None:
        now = self._clock()
        self._tokens = min(max(1.0, rate), self._tokens + max(0.0, now - self._bucket_time) * rate)
        self._bucket_time = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return
        raise errors.rate_limited(max(1, math.ceil((1.0 - self._tokens) / rate)), rate)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no admitted request is in flight (e.g. a hung one); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    # -- inspection for tests ----------------------------------------------------------------

    def accepted_messages(self) -> list[dict[str, Any]]:
        """Every accepted message in the order accepted, with its simulated fate."""
        with self._transaction(write=False) as db:
            rows = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM messages ORDER BY seq").fetchall()
        return [self._message_record(dict(zip(_COLUMNS, row))) for row in rows]

    @staticmethod
    def _message_record(record: dict[str, Any]) -> dict[str, Any]:
        record["flash"] = None if record["flash"] is None else bool(record["flash"])
        record["read"] = bool(record["read"])
        record["accepted_at"] = datetime.fromtimestamp(record["accepted_at"], UTC)
        if record["due_at"] is not None:
            record["due_at"] = datetime.fromtimestamp(record["due_at"], UTC)
        return record

    def force_deliver_all(self) -> int:
        """Make every pending report due now (not the never-reported ones); returns how many."""
        with self._transaction() as db:
            now = self._clock()
            return db.execute("UPDATE messages SET due_at = ? WHERE due_at > ?", (now, now)).rowcount

    def reset(self) -> None:
        """Forget every message, transaction and report, empty the log, and restore the starting faults."""
        with self._transaction() as db:
            db.execute("DELETE FROM messages")
            db.execute("DELETE FROM transactions")
        if self.config.log_path is not None:
            Path(self.config.log_path).write_bytes(b"")
        self._reset_faults()


def _same(given: object, expected: str) -> bool:
    """Constant-time comparison of a credential that may be missing or not a string."""
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
