"""Scenario 2: a spreadsheet of 1,000 rows becomes a background job, watched to the end."""

from __future__ import annotations

import io
import random
import re

import pandas as pd
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

ROWS = 1000
BAD_ROWS = {5: "12345", 50: "not a number", 77: "", 500: "+48 12", 999: "12345"}  # index -> phone


@pytest.fixture(scope="module")
def contacts(tmp_path_factory):
    """An XLSX of 1,000 people as an office exports it: Polish headers, a few unusable numbers."""
    rng = random.Random(8)
    frame = pd.DataFrame({
        "Telefon": [f"+48 6{rng.randrange(10**7, 10**8):08d}" for _ in range(ROWS)],
        "Imię": [rng.choice(["Anna", "Jan", "Zofia", "Piotr"]) for _ in range(ROWS)],
        "Miasto": [rng.choice(["Kraków", "Gdańsk"]) for _ in range(ROWS)],
    })
    for index, phone in BAD_ROWS.items():
        frame.loc[index, "Telefon"] = phone
    path = tmp_path_factory.mktemp("bulk") / "kontakty.xlsx"
    frame.to_excel(path, index=False, engine="xlsxwriter")
    return path


def progress_of(d) -> tuple[int, int]:
    text = d.main.get_by_test_id("stProgress").inner_text()
    done, total = re.search(r"([\d,]+) of ([\d,]+)", text).groups()
    return int(done.replace(",", "")), int(total.replace(",", ""))


def test_bulk_upload_validates_sends_and_keeps_running_across_a_reload(dashboard, contacts):
    d = dashboard.open("bulk")
    d.upload("bulk.file", contacts)
    expect(d.main).to_contain_text("1,000 rows")
    # The phone column is guessed from its name.
    expect(d.widget("bulk.phone_column").get_by_role("combobox")).to_have_value("Telefon")

    d.radio("bulk.mode", "A template")
    d.type_into("bulk.template", "Dzień dobry {Imię}! Zapraszamy do salonu w mieście {Miasto}.")
    tables = d.main.get_by_test_id("stDataFrame")
    expect(tables.filter(has_text="Zapraszamy do salonu w mieście").first).to_be_visible()

    d.click("bulk.validate")
    expect(tables.filter(has_text="not a number")).to_have_count(1)
    metrics = {m.get_by_test_id("stMetricLabel").inner_text(): m.get_by_test_id("stMetricValue").inner_text()
               for m in d.main.get_by_test_id("stMetric").all()}
    assert metrics["Rows"] == "1,000"
    assert metrics["Invalid"] == str(len(BAD_ROWS))
    assert metrics["Valid"] == f"{ROWS - len(BAD_ROWS):,}"

    downloaded = pd.read_csv(io.BytesIO(d.download("bulk.invalid_csv")), dtype=str, keep_default_na=False,
                             encoding="utf-8-sig")
    # Rows are numbered as in the spreadsheet: the header is row 1.
    assert sorted(downloaded["row"].astype(int)) == sorted(index + 2 for index in BAD_ROWS)
    assert downloaded["reason"].str.len().gt(0).all()

    d.check("bulk.confirm")
    d.click("bulk.start")
    expect(d.main.get_by_test_id("stAlertContentSuccess")).to_contain_text("queued")
    job_url = d.page.url
    assert re.search(r"[?&]job=\d+", job_url), job_url

    d.tab("Jobs")
    expect(d.main.get_by_test_id("stProgress")).to_contain_text(f"of {ROWS - len(BAD_ROWS):,}")
    d.page.wait_for_function(
        "() => /([1-9][\\d,]*) of/.test(document.querySelector('[data-testid=\"stProgress\"]')?.innerText || '')")
    before_reload, total = progress_of(d)
    assert 0 < before_reload <= total

    # Closing the tab or reloading does not stop the job: the page finds it again by the URL.
    d.page.reload()
    d.idle()
    d.tab("Jobs")
    expect(d.main.get_by_test_id("stProgress")).to_contain_text(f"of {total:,}")
    assert progress_of(d)[0] >= before_reload
    expect(d.main.get_by_test_id("stProgress")).to_contain_text(f"{total:,} of {total:,}", timeout=60_000)
    expect(d.main).to_contain_text(re.compile(r"State: \**done", re.I))
    d.screenshot("bulk")

    results = pd.read_csv(io.BytesIO(d.download("bulk.results_csv")), dtype=str, keep_default_na=False,
                          encoding="utf-8-sig")
    assert len(results) == total
    assert results["message_id"].str.len().gt(0).all()
    # The export neutralises cells that a spreadsheet would run as a formula ("+48…" included).
    assert results["phone"].str.fullmatch(r"'?\+48\d{9}").all()
