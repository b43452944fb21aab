"""Which gateway this process talks to: the configured one, or a sandbox started for it.

With ``SMS_API_URL`` empty (the default) the dashboard, the CLI and the worker each
start the built-in sandbox on a free loopback port. Its state lives in
``<SMS_DATA_DIR>/sandbox.db``, shared by every process of the same installation, so a
restart never orphans messages whose reports are still due.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .client import SmsClient
from smslib.core.config import Settings
from smslib.sandbox.backend import SANDBOX_EMAIL, SANDBOX_PASSWORD, SANDBOX_USERNAME


@dataclass
class Gateway:
    """A client ready to use, the effective settings, and the sandbox when one was started."""

    settings: Settings
    client: SmsClient
    sandbox: Any = None  # smslib.sandbox.server.RunningSandbox

    @property
    def label(self) -> str:
        """Where messages go, for people: never includes credentials."""
        return "Built-in sandbox (no real SMS)" if self.sandbox is not None else self.settings.api_url

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox is not None

    def close(self) -> None:
        self.client.close()
        if self.sandbox is not None:
            self.sandbox.stop()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def connect(settings: Settings, **client_overrides: Any) -> Gateway:
    """A ``Gateway`` for ``settings``; starts the sandbox when no gateway URL is set."""
    sandbox = None
    if settings.uses_sandbox:
        from smslib.sandbox.server import serve_in_thread  # only imported when needed

        data = Path(settings.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        sandbox = serve_in_thread(
            db_path=str(data / "sandbox.db"),
            time_scale=settings.sandbox_time_scale,
            seed=int(settings.sandbox_seed) if settings.sandbox_seed else None,
        )
        settings = settings.with_gateway(
            sandbox.url, SANDBOX_USERNAME, SANDBOX_PASSWORD, SANDBOX_EMAIL, SANDBOX_PASSWORD
        )
    return Gateway(settings=settings, client=SmsClient.from_settings(settings, **client_overrides),
                   sandbox=sandbox)
