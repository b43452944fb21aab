"""The dashboard as a person sees it in the browser: pages, widgets by their key, waits, screenshots.

Widgets are found by the ``st-key-…`` class Streamlit puts on every widget with a key
(``compose.text`` → ``.st-key-compose-text``), so a test names the same key the page
does. Waits are on what the app exposes: the ``data-test-script-state`` of ``stApp``
and the elements a step should produce; never on network idle (the websocket stays open).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

DOCS = Path(__file__).resolve().parents[2] / "docs"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
# Counts the script runs the page has started: a step waits for a run that began after it,
# since right after a click the app still says "notRunning" until the server answers.
COUNT_RUNS = """
window.__scriptRuns = 0;
new MutationObserver(changes => {
  for (const change of changes) {
    if (change.target.getAttribute('data-test-script-state') === 'running') window.__scriptRuns += 1;
  }
}).observe(document, {attributes: true, subtree: true, attributeFilter: ['data-test-script-state']});
"""
RUN_START_MS = 3_000  # a step that changes nothing starts no run: stop looking for one after this
WAIT_MS = 30_000  # the longest any one step may take before the test fails


def key(name: str) -> str:
    """The CSS selector of the element with Streamlit key ``name``."""
    return ".st-key-" + name.replace(".", "-")


class Dashboard:
    """One browser tab on the dashboard at ``url``."""

    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.url = url
        page.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        page.add_init_script(COUNT_RUNS)

    # -- navigation and waiting ---------------------------------------------------------------

    def open(self, path: str = "") -> Dashboard:
        """Open a page (``"compose"``, ``"history?message=3"``) and wait until its script has run."""
        self.page.goto(f"{self.url}/{path}")
        self.page.wait_for_selector('[data-testid="stApp"]')
        self.idle()
        return self

    def idle(self) -> None:
        """Wait until no script run is in progress (a rerun that has not started yet is not seen)."""
        self.page.wait_for_selector(IDLE, state="attached")

    def act(self, step: Callable[[], object]) -> None:
        """Do ``step`` (a click, a key press) and wait for the script run it causes to finish."""
        before = self.page.evaluate("window.__scriptRuns")
        step()
        try:
            self.page.wait_for_function(f"window.__scriptRuns > {before}", timeout=RUN_START_MS)
        except PlaywrightTimeout:
            pass  # nothing changed, so nothing reran
        self.idle()

    @property
    def main(self) -> Locator:
        return self.page.get_by_test_id("stMain")

    @property
    def sidebar(self) -> Locator:
        return self.page.get_by_test_id("stSidebar")

    # -- widgets ------------------------------------------------------------------------------

    def widget(self, name: str) -> Locator:
        return self.page.locator(key(name))

    def type_into(self, name: str, text: str) -> None:
        """Replace a text input's or text area's value and submit it, as Enter / Ctrl+Enter does."""
        field = self.widget(name).locator("textarea, input").first
        field.fill(text)
        submit = "Control+Enter" if field.evaluate("e => e.tagName") == "TEXTAREA" else "Enter"
        self.act(lambda: field.press(submit))

    def click(self, name: str) -> None:
        self.act(self.widget(name).get_by_role("button").first.click)

    def choose(self, name: str, option: str) -> None:
        """Pick ``option`` in a selectbox."""
        box = self.widget(name).get_by_role("combobox")
        box.click()
        # Typing filters the list: sturdier than clicking an option in a list that may open upwards.
        box.press_sequentially(option)
        self.act(lambda: box.press("Enter"))
        expect(box).to_have_value(option)

    def check(self, name: str) -> None:
        self.act(self.widget(name).locator("label").first.click)

    def radio(self, name: str, option: str) -> None:
        self.act(self.widget(name).get_by_text(option, exact=True).click)

    def upload(self, name: str, path: Path) -> None:
        """Give a file uploader a file, as choosing it in the file dialog does."""
        self.act(lambda: self.widget(name).locator('input[type="file"]').set_input_files(str(path)))

    def tab(self, title: str) -> None:
        self.page.get_by_role("tab", name=title).click()

    def download(self, name: str) -> bytes:
        """Click a download button and return the file's bytes."""
        with self.page.expect_download() as started:
            self.widget(name).get_by_role("button").first.click()
        return Path(started.value.path()).read_bytes()

    # -- screenshots for the README -----------------------------------------------------------

    def screenshot(self, name: str) -> None:
        """Save the whole page as docs/screenshots/<name>.png, only when SMS_SCREENSHOTS=1."""
        if os.environ.get("SMS_SCREENSHOTS") != "1":
            return
        self.idle()
        # The app scrolls inside stMain, so a "full page" shot would cut it: grow the window instead.
        size = self.page.viewport_size
        height = self.page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
        self.page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), 4000)})
        self.page.wait_for_timeout(300)  # let charts and tables lay out at the new size
        (DOCS / "screenshots").mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(DOCS / "screenshots" / f"{name}.png"))
        self.page.set_viewport_size(size)
