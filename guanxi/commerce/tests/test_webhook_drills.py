"""IN-1 and IN-2 of reliability.md at test size, through a real `guanxi serve` and `guanxi worker` on
loopback: a fake Shopify re-sends, shuffles and retries; the inbox is drained by the worker process.

On PostgreSQL the drill uses the suite's database; on SQLite — whose test database lives in this
process's memory, out of the server's reach — a migrated SQLite file. The full sizes, the sustained load
and the PostgreSQL restart are `guanxi bench webhooks`.
"""

import pytest
from django.conf import settings

from guanxi.commerce.drills import duplicate_sends, run_sends, shuffled_updates

pytestmark = pytest.mark.django_db(transaction=True)


def test_in1_resent_events_are_stored_once_with_no_duplicate_side_effect(tmp_path, drill_database):
    sends = duplicate_sends(400, resend_share=0.3, seed=18)
    copies = len(sends) - 400
    assert copies > 100  # about 30 % of the events went out 1–3 more times

    result = run_sends(drill_database, tmp_path, settings.SECRET_KEY, sends, connections=8, migrate=False)

    assert result.ledger.given_up == set()
    assert len(result.ledger.accepted) == 400
    assert result.accepted_not_recorded == []
    assert (result.deliveries, result.orders) == (400, 400)
    assert result.delivery_statuses == {"processed": 400}
    # The audit entries of the applied batches count 400 orders created, none updated: no duplicate side effect.
    assert (result.orders_created, result.orders_updated) == (400, 0)
    assert result.ledger.statuses[500] == 0


def test_in2_shuffled_updates_end_at_the_newest_state_of_every_order(tmp_path, drill_database):
    sends, oracle = shuffled_updates(150, versions=3, seed=7)

    result = run_sends(drill_database, tmp_path, settings.SECRET_KEY, sends, connections=8, migrate=False)

    assert len(result.ledger.accepted) == 450 and result.accepted_not_recorded == []
    assert result.states == oracle
    assert {status for status in result.delivery_statuses} <= {"processed", "stale"}
    assert sum(result.delivery_statuses.values()) == 450
