"""PostgreSQL specifics: the URLs providers hand out, and processes migrating an empty
database at the same moment. (Every store, sync, jobs and worker test also runs on
PostgreSQL through the ``store``/``db_url`` fixtures.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from smslib.store import Store, schema_version

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_the_urls_providers_hand_out_open_the_store_on_psycopg_3(pg_url, scheme):
    url = scheme + pg_url[len("postgresql"):]
    with Store(url) as store:
        assert store.engine.dialect.driver == "psycopg"
        assert store.recorded_schema_version() == schema_version()
        assert "postgres@" in repr(store) and store.dialect == "postgresql"


def test_a_password_in_the_url_is_never_in_the_stores_repr(pg_url):
    with Store(pg_url.replace("postgres@", "postgres:s3cret-pw@")) as store:  # trust auth ignores it
        assert "s3cret-pw" not in repr(store)


MIGRATE = """
import sys, time
from smslib.store import Store
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
with Store(sys.argv[1]) as store:
    print(store.migrated_from, store.recorded_schema_version())
"""


@pytest.mark.parametrize("round_", range(3))
def test_processes_migrating_an_empty_database_at_once_all_start_cleanly(db_url, round_):
    start = time.time() + 2.5  # after every interpreter has started: they open the store together
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    processes = [subprocess.Popen([sys.executable, "-c", MIGRATE, db_url, str(start)], env=env, cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    answers = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        answers.append(out.split())
    found = sorted(int(found) for found, _ in answers)
    assert found == [0, *[schema_version()] * 3]  # one built the schema, the others found it built
    assert {int(version) for _, version in answers} == {schema_version()}
    with Store(db_url) as store:
        tables = set(sa.inspect(store.engine).get_table_names())
    assert {"jobs", "batches", "messages", "workers", "rate_budgets", "leases"} <= tables
