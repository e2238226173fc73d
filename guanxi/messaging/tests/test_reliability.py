"""Reliability goals MS-1 to MS-7 of reliability.md, on loopback, bounded in time.

MS-1/2/3 run real `guanxi worker` processes against the database of the run: the suite's PostgreSQL
database, or — on SQLite, whose test database lives in this process's memory where no other process
can reach it — a SQLite file the drill migrates. The long variants are `guanxi bench messaging-crash`.
"""

import pytest
from django.conf import settings
from django.db import connection

from guanxi.messaging.drills import SEND_KEY, run_drill

pytestmark = pytest.mark.django_db(transaction=True)


def drill_database(tmp_path) -> str:
    if connection.vendor == "postgresql":
        params = connection.settings_dict
        auth = params["USER"] + (f":{params['PASSWORD']}" if params.get("PASSWORD") else "")
        return f"postgres://{auth}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{params['NAME']}"
    return f"sqlite:///{tmp_path / 'drill.sqlite3'}"


def test_ms1_ms3_killed_workers_with_an_idempotent_gateway_deliver_each_message_exactly_once(tmp_path):
    result = run_drill(
        database_url=drill_database(tmp_path), home=tmp_path, secret_key=settings.SECRET_KEY,
        messages=1200, workers=3, schedulers=2, kill_every=2.0, latency=0.05,
    )
    assert result.kills >= 5, f"the send ended before five kills ({result.seconds:.0f} s)"
    assert result.lost == []
    assert result.states == {"sent": 1200}
    assert result.delivered_keys == 1200 and result.duplicates == 0
    assert set(result.ledger) == set(result.rows) and all(key.startswith(SEND_KEY) for key in result.rows)


def test_ms2_killed_workers_without_idempotency_lose_nothing_and_leave_ambiguity_unknown(tmp_path):
    result = run_drill(
        database_url=drill_database(tmp_path), home=tmp_path, secret_key=settings.SECRET_KEY,
        messages=1200, workers=3, schedulers=1, kill_every=2.0, idempotent=False, latency=0.05,
    )
    assert result.kills >= 5
    assert result.lost == []
    assert set(result.states) <= {"sent", "unknown"}
    assert result.duplicates == 0  # marketing is never resent after an ambiguous attempt
    sent = {key for key, state in result.rows.items() if state == "sent"}
    assert all(result.ledger[key] == 1 for key in sent)  # every "sent" really reached the gateway once
    assert set(result.ledger) <= set(result.rows)
    assert result.states["unknown"] >= 1  # the kills did interrupt sends, and they are recorded so
