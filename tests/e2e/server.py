"""A real dashboard for the browser tests: ``streamlit run app.py`` in a subprocess.

Each server gets a free loopback port, its own working folder (so no developer's ``.env``
is read) and data folder, and the project's ``.streamlit/config.toml``. Start-up waits on
``/_stcore/health`` with a deadline; ``stop()`` ends the process by its PID.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # seconds: a cold start imports pandas, plotly and starts the sandbox
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StreamlitServer:
    """One ``streamlit run app.py`` process with the given ``SMS_*`` settings."""

    def __init__(self, folder: Path, settings: dict[str, str]) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / "streamlit.log"
        folder.mkdir(parents=True, exist_ok=True)
        # Streamlit reads .streamlit/config.toml from the working folder: the project's, not a copy.
        (folder / ".streamlit").symlink_to(ROOT / ".streamlit", target_is_directory=True)
        # Only the settings given here: an SMS_* variable of the developer's shell must not leak in.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SMS_")}
        self.env.update({"SMS_DATA_DIR": str(folder / "data"), **settings})
        self.process: subprocess.Popen | None = None

    def start(self) -> StreamlitServer:
        command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
                   "--server.port", str(self.port), "--server.address", "127.0.0.1",
                   "--server.headless", "true", "--browser.gatherUsageStats", "false",
                   # Others may be editing the sources while the suite runs: no "File change" banner.
                   "--server.fileWatcherType", "none"]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, cwd=self.folder, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"streamlit did not answer /_stcore/health within {START_TIMEOUT:.0f} s:\n"
                           f"{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> StreamlitServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
