"""The bulk page with AppTest: upload → map → validate → send → progress → results; blocklist."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from smslib.store import JobState
from ui import resources

ROOT = Path(__file__).resolve().parent.parent

CSV = (
    "Name;Telefon;City\n"
    "Ala;600100200;Kraków\n"
    "Ola;600 100 201;Gdańsk\n"
    "Ela;12;Łódź\n"
    "Ala;600100200;Kraków\n"
    "Iza;600100202;Poznań\n"
).encode()


# The background runner sends the jobs these tests start.
pytestmark = pytest.mark.parametrize("app_env", [True], indirect=True)


def bulk_page() -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / "bulk.py"), default_timeout=30).run()


def uploaded(at: AppTest, name: str, data: bytes, mime: str = "text/csv") -> AppTest:
    at.file_uploader(key="bulk.file").set_value((name, data, mime))
    return at.run()


def table_with(at: AppTest, *columns: str):
    """The first table shown with all of ``columns`` (AppTest does not keep a dataframe's key)."""
    for element in at.dataframe:
        if set(columns) <= set(element.value.columns):
            return element.value
    raise AssertionError(f"no table with columns {columns}")


def test_a_file_that_is_not_a_spreadsheet_is_a_clear_error(app_env):
    at = uploaded(bulk_page(), "photo.csv", b"\x89PNG\r\n\x1a\n" + bytes(200), "image/png")
    assert not at.exception
    assert any("PNG" in e.value for e in at.error)


def test_upload_validate_send_and_see_results(app_env, sandbox):
    at = uploaded(bulk_page(), "people.csv", CSV)
    assert not at.exception
    assert any("**5 rows**" in m.value for m in at.markdown)
    assert at.selectbox(key="bulk.phone_column").value == "Telefon"  # guessed from the header
    at.radio(key="bulk.mode").set_value("A template").run()
    at.button(key="bulk.insert.0").click().run()  # inserts {Name}
    at.text_area(key="bulk.template").set_value("Hi " + at.text_area(key="bulk.template").value + "!").run()
    assert at.text_area(key="bulk.template").value == "Hi {Name}!"
    at.button(key="bulk.validate").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Rows"], metrics["Valid"], metrics["Invalid"], metrics["Duplicates removed"]) == ("5", "3", "1", "1")
    assert table_with(at, "row", "reason")["row"].tolist() == [4]
    assert at.button(key="bulk.start").disabled
    at.checkbox(key="bulk.confirm").check().run()
    at.button(key="bulk.start").click().run()
    assert not at.exception
    store = resources.store()
    job_id = at.session_state["bulk.job_id"]
    deadline = time.monotonic() + 30
    while store.get_job(job_id).state is not JobState.DONE and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.get_job(job_id).state is JobState.DONE
    assert sorted(m["phone"] for m in sandbox.backend.accepted_messages()) == [
        "48600100200", "48600100201", "48600100202"]
    at.run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sent"] == "3" and metrics["Waiting"] == "0"
    results = table_with(at, "message_id")
    assert len(results) == 3 and results["message_id"].notna().all()


def test_a_reloaded_page_reopens_the_job_from_the_url(app_env, sandbox, monkeypatch):
    from smslib.services import jobs
    from smslib.services import planning

    monkeypatch.setenv("SMS_RUN_WORKER_IN_APP", "false")  # nothing sends: the states below are the page's doing

    at = uploaded(bulk_page(), "people.csv", CSV)
    store = resources.store()
    validation = planning.validate(at.session_state["bulk.table"][1], planning.ColumnMapping("Telefon", message_column="City"))
    job = jobs.create_job(store, planning.plan(validation), name="earlier")
    jobs.pause(store, job.id)
    fresh = AppTest.from_file(str(ROOT / "pages" / "bulk.py"), default_timeout=30)
    fresh.query_params["job"] = str(job.id)
    fresh.run()
    assert not fresh.exception
    assert any(f"Job {job.id}: earlier" in s.value for s in fresh.subheader)
    fresh.button(key="bulk.resume").click().run()
    assert store.get_job(job.id).state is JobState.QUEUED
    assert any("separate worker" in i.value for i in fresh.info)
    fresh.button(key="bulk.cancel").click().run()
    assert store.get_job(job.id).state is JobState.CANCELLED
    assert sandbox.backend.accepted_messages() == []


def test_blocklist_add_remove_and_blocked_rows_are_invalid(app_env):
    at = bulk_page()
    at.text_area(key="bulk.block_text").set_value("600100201, not-a-number").run()
    at.button(key="bulk.block").click().run()
    assert not at.exception
    assert any("1 numbers added" in s.value for s in at.success)
    assert any("not phone numbers" in w.value for w in at.warning)
    assert [b.phone for b in resources.store().list_blocked()] == ["+48600100201"]
    at = uploaded(at, "people.csv", CSV)
    at.radio(key="bulk.mode").set_value("From a column").run()
    at.selectbox(key="bulk.message_column").set_value("City").run()
    at.button(key="bulk.validate").click().run()
    assert "blocked" in table_with(at, "row", "reason")["reason"].tolist()
    at.multiselect(key="bulk.unblock_pick").set_value(["+48600100201"]).run()
    at.button(key="bulk.unblock").click().run()
    assert resources.store().list_blocked() == []
