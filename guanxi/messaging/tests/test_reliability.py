"""Reliability goals MS-1 to MS-7 of reliability.md, on loopback, bounded in time.

MS-1/2/3 run real `guanxi worker` processes against the database of the run: the suite's PostgreSQL
database, or — on SQLite, whose test database lives in this process's memory where no other process
can reach it — a SQLite file the drill migrates. The long variants are `guanxi bench messaging-crash`.
"""

import pytest
from django.conf import settings

from guanxi.messaging.drills import SEND_KEY, run_drill

pytestmark = pytest.mark.django_db(transaction=True)


def test_ms1_ms3_killed_workers_with_an_idempotent_gateway_deliver_each_message_exactly_once(
    tmp_path, drill_database
):
    result = run_drill(
        database_url=drill_database,
        home=tmp_path,
        secret_key=settings.SECRET_KEY,
        messages=1200,
        workers=3,
        schedulers=2,
        kill_every=2.0,
        latency=0.05,
    )
    assert result.kills >= 5, f"the send ended before five kills ({result.seconds:.0f} s)"
    assert result.lost == []
    assert result.states == {"sent": 1080, "dropped": 120}  # every tenth customer gave no consent
    assert {reason for state, reason, *_rest in result.details.values() if state == "dropped"} == {
        "no_consent"
    }
    assert result.delivered_keys == 1080 and result.duplicates == 0
    sent = {key for key, state in result.rows.items() if state == "sent"}
    assert set(result.ledger) == sent and all(key.startswith(SEND_KEY) for key in result.rows)


def test_ms2_killed_workers_without_idempotency_lose_nothing_and_leave_ambiguity_unknown(
    tmp_path, drill_database
):
    result = run_drill(
        database_url=drill_database,
        home=tmp_path,
        secret_key=settings.SECRET_KEY,
        messages=1200,
        workers=3,
        schedulers=1,
        kill_every=2.0,
        idempotent=False,
        latency=0.05,
    )
    assert result.kills >= 5
    assert result.lost == []
    assert set(result.states) <= {"sent", "unknown", "dropped"} and result.states["dropped"] == 120
    assert result.duplicates == 0  # marketing is never resent after an ambiguous attempt
    sent = {key for key, state in result.rows.items() if state == "sent"}
    assert all(result.ledger[key] == 1 for key in sent)  # every "sent" really reached the gateway once
    assert set(result.ledger) <= set(result.rows)
    assert result.states["unknown"] >= 1  # the kills did interrupt sends, and they are recorded so


def test_ms6_ms7_an_opt_out_mid_send_stops_every_later_send_and_every_send_had_consent(
    tmp_path, drill_database
):
    result = run_drill(
        database_url=drill_database,
        home=tmp_path,
        secret_key=settings.SECRET_KEY,
        messages=1500,
        workers=3,
        schedulers=1,
        latency=0.01,
        target_messages=60,
        opt_out_after=500,
    )
    assert result.opted_out_at is not None and result.lost == []
    target = {key: detail for key, detail in result.details.items() if key.startswith("drill:target:")}
    started_before = [key for key, (state, _r, started, _c) in target.items() if state == "sent"]
    assert started_before, "the reply came before any message to the customer went out"
    for key in started_before:
        assert target[key][2] <= result.opted_out_at  # MS-6: no send to them started after the commit
        assert result.received[key] <= result.opted_out_at + 60  # in-flight ones drained within 60 s
    after = [detail for key, detail in target.items() if key not in started_before]
    assert after and all(
        state == "dropped" and reason == "suppressed_opt_out" for state, reason, *_r in after
    )
    # MS-7: every marketing message the gateway took had consent evidence in force when it was sent.
    for key in result.ledger:
        _state, _reason, started, customer = result.details[key]
        assert result.consent_at(customer, started) == "granted", key
