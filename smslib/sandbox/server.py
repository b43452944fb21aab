"""Running the sandbox: uvicorn in a background thread for tests and the app, in a process of
its own (``SandboxProcess``), or in the foreground."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import uvicorn

from .app import create_app
from .backend import SandboxBackend, SandboxConfig


class SandboxServerError(RuntimeError):
    """The sandbox server failed: it did not start or stop, or a request raised unexpectedly."""


class SandboxServer(uvicorn.Server):
    """A uvicorn server that reports when it listens, and on which port."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[SandboxServer], None] | None = None) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self._on_started is not None:
            self._on_started(self)

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        return self.servers[0].sockets[0].getsockname()[1]


def build_server(backend: SandboxBackend, *, host: str, port: int,
                 on_started: Callable[[SandboxServer], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None) -> SandboxServer:
    """A uvicorn server for the sandbox app; ``run()`` it or use ``serve_in_thread``."""
    config = uvicorn.Config(create_app(backend, on_error=on_error), host=host, port=port,
                            log_level="warning", lifespan="off", access_log=False)
    return SandboxServer(config, on_started=on_started)


class RunningSandbox:
    """A sandbox serving in a daemon thread: its URL, credentials and backend; ``stop()`` ends it."""

    def __init__(self, backend: SandboxBackend, *, host: str, port: int) -> None:
        self.backend = backend
        self.username = backend.config.username
        self.password = backend.config.password
        self.email = backend.config.email
        self.simple_password = backend.config.simple_password
        self._errors: list[BaseException] = []
        self._errors_lock = threading.Lock()
        self._settled = threading.Event()
        self._server = build_server(backend, host=host, port=port,
                                    on_started=lambda _: self._settled.set(), on_error=self._record)
        self._thread = threading.Thread(target=self._run, name=f"sms-sandbox-{port}", daemon=True)
        self._address = f"{host}:{port}"
        self._host = host
        self.url = ""

    def _record(self, error: BaseException) -> None:
        with self._errors_lock:
            self._errors.append(error)

    def _run(self) -> None:
        try:
            self._server.run()
        # uvicorn ends a failed start with SystemExit; keep whatever ended the thread for
        # the caller, who re-raises it from start() or stop().
        except BaseException as e:  # noqa: BLE001
            self._record(e)
        finally:
            self._settled.set()

    def start(self, timeout: float) -> RunningSandbox:
        """Start serving; raises ``SandboxServerError`` if not listening within ``timeout`` seconds."""
        self._thread.start()
        if not self._settled.wait(timeout):
            self.stop()
            raise SandboxServerError(f"the sandbox did not start within {timeout} s")
        if not self._server.started:
            self._thread.join(timeout)
            with self._errors_lock:
                cause = self._errors.pop(0) if self._errors else None
            raise SandboxServerError(f"the sandbox did not start on {self._address}; uvicorn logged why "
                                     "(often: the port is in use)") from cause
        self.url = f"http://{self._host}:{self._server.port}"
        return self

    def raise_errors(self) -> None:
        """Raise (and forget) the first error that happened in the server since the last call."""
        with self._errors_lock:
            found, self._errors = self._errors, []
        if found:
            first = found[0]
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise SandboxServerError(f"the sandbox server failed: {type(first).__name__}: {first}{more}") from first

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving within about ``timeout`` seconds, cutting held requests short; re-raises server errors."""
        self._server.should_exit = True
        if self._thread.is_alive():
            # Give answers being written a moment, then cut requests the faults hold.
            self._thread.join(min(1.0, timeout))
            self._server.force_exit = True
            self._thread.join(timeout)
        if self._thread.is_alive():
            raise SandboxServerError(f"the sandbox server thread did not end within {timeout} s")
        self.raise_errors()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningSandbox(url={self.url!r}, username={self.username!r}, password='***')"


def serve_in_thread(backend: SandboxBackend | None = None, *, host: str = "127.0.0.1", port: int = 0,
                    startup_timeout: float = 10.0, **config: Any) -> RunningSandbox:
    """Serve a sandbox (``backend``, or one built from ``config``: ``SandboxConfig`` fields) in a thread."""
    if backend is not None and config:
        raise TypeError(f"pass either a backend or config fields, not both (got {sorted(config)})")
    backend = backend or SandboxBackend(SandboxConfig(**config))
    return RunningSandbox(backend, host=host, port=port).start(startup_timeout)


_ANNOUNCED_URL = re.compile(r"SMS sandbox gateway on (http://\S+)")


class SandboxProcess:
    """The sandbox served by a separate process (``python -m smslib.sandbox``) on a free loopback port.

    Its work does not share this interpreter's lock, as a real gateway's would not. ``options``
    are the command line's (``--seed 1 --time-scale 0``); the credentials are the defaults.
    """

    def __init__(self, *options: str, startup_timeout: float = 30.0) -> None:
        self.options: Sequence[str] = options
        self.startup_timeout = startup_timeout
        self.username = SandboxConfig.username
        self.password = SandboxConfig.password
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> SandboxProcess:
        """Start it (once); raises ``SandboxServerError`` unless it says it listens within ``startup_timeout``."""
        if self._process is not None:
            return self
        package_root = str(Path(__file__).resolve().parents[2])  # where smslib is, whatever the current folder
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "smslib.sandbox", "--host", "127.0.0.1", "--port", "0", *self.options],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=environment)
        announced = _first_line_matching(self._process.stdout, _ANNOUNCED_URL, self.startup_timeout)
        if announced is None:
            self.stop()
            raise SandboxServerError(f"the sandbox process did not start within {self.startup_timeout} s")
        self.url = announced
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop it (Ctrl-C, then a kill after ``timeout`` seconds)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SandboxProcess(url={self.url!r}, username={self.username!r}, password='***')"


def _first_line_matching(stream: IO[str] | None, pattern: re.Pattern[str], timeout: float) -> str | None:
    """The first group of the first line of ``stream`` that matches, read for at most ``timeout`` seconds."""
    if stream is None:
        return None
    found: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in stream:
            match = pattern.search(line)
            if match:
                found.put(match.group(1))
                return
        found.put(None)  # the process ended without saying it listens

    threading.Thread(target=read, name="sandbox-process-announcement", daemon=True).start()
    try:
        return found.get(timeout=timeout)
    except queue.Empty:
        return None
