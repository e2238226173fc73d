"""The customer change feed: every reader sees every change at least once, at its own pace, in order
per customer, and a failed or crashed pass loses nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from guanxi.core.claims import claim, dead, retry_delay
from guanxi.customers import changes
from guanxi.customers.models import CustomerChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def readers(monkeypatch):
    """Two readers of the feed, as loyalty and marketing will be beside segments."""
    monkeypatch.setattr(changes, "_readers", [])
    changes.register_change_reader("tiers")
    changes.register_change_reader("flows")
    changes.register_change_reader("tiers")  # registering twice is registering once
    return changes.change_readers()


def take(reader, limit=100):
    with changes.taken(reader, limit) as customer_ids:
        return customer_ids


def test_every_reader_sees_every_change_once_at_its_own_pace(readers):
    assert readers == ["tiers", "flows"]
    assert changes.note_changed([7, 3, 7, None]) == 2

    assert take("tiers") == [3, 7]
    assert take("tiers") == []
    changes.note_changed([5])
    assert take("flows") == [3, 5, 7]  # flows had not read yet: nothing was lost to the first reader
    assert take("tiers") == [5]
    assert changes.pending("tiers") == changes.pending("flows") == 0


def test_no_reader_no_rows(monkeypatch):
    monkeypatch.setattr(changes, "_readers", [])
    assert changes.note_changed([1, 2]) == 0
    assert not CustomerChange.objects.exists()


def test_a_change_written_while_reading_is_kept_for_the_next_pass(readers):
    changes.note_changed([1, 2])
    with changes.taken("tiers", 100) as customer_ids:
        changes.note_changed([3])  # committed after the claim, whatever its id
        assert customer_ids == [1, 2]
    assert take("tiers") == [3]


def test_a_failed_pass_gives_the_rows_back_after_a_backoff(readers):
    changes.note_changed([1, 2])
    with pytest.raises(RuntimeError), changes.taken("tiers", 100):
        raise RuntimeError("segment 4 could not be compiled")

    rows = CustomerChange.objects.filter(reader="tiers")
    assert sorted(rows.values_list("customer_id", "attempts", "last_error")) == [
        (1, 1, "RuntimeError: segment 4 could not be compiled"),
        (2, 1, "RuntimeError: segment 4 could not be compiled"),
    ]
    assert all(row.available_at > timezone.now() + timedelta(seconds=25) for row in rows)
    assert take("tiers") == []  # not before the backoff
    assert take("flows") == [1, 2]  # the other reader is not held up

    rows.update(available_at=timezone.now() - timedelta(seconds=1))  # the backoff has passed
    assert take("tiers") == [1, 2]
    assert changes.pending("tiers") == 0


def test_a_crashed_workers_rows_are_taken_again_when_its_lease_runs_out(readers):
    changes.note_changed([1])
    crashed = claim(
        CustomerChange.objects.filter(reader="tiers"),
        queue="customer-changes:tiers",
        limit=100,
        lease=changes.LEASE,
    )
    assert crashed.rows().count() == 1
    assert take("tiers") == []  # still leased to the crashed worker

    crashed.rows().update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert take("tiers") == [1]
    assert crashed.rows().count() == 0
    assert crashed.heartbeat(changes.LEASE) == 0  # the late worker learns it holds nothing any more


def test_a_customer_is_held_by_one_worker_at_a_time_oldest_change_first(readers):
    changes.note_changed([1])
    changes.note_changed([2])
    changes.note_changed([1])
    rows = CustomerChange.objects.filter(reader="tiers")
    first = claim(
        rows, queue="customer-changes:tiers", limit=1, lease=changes.LEASE, together_by="customer_id"
    )
    assert list(first.rows().values_list("customer_id", flat=True)) == [1]

    # Customer 1's later change waits for the worker that holds its first; customer 2 does not.
    assert take("tiers") == [2]
    first.retry("timeout")
    assert take("tiers") == []  # customer 1 waits for its retry, the later change included
    rows.update(available_at=timezone.now() - timedelta(seconds=1))
    assert take("tiers") == [1]


def test_rows_that_keep_failing_stop_being_taken(readers):
    changes.note_changed([9])
    rows = CustomerChange.objects.filter(reader="tiers")
    for _attempt in range(3):
        batch = claim(rows, queue="customer-changes:tiers", limit=10, lease=changes.LEASE, max_attempts=3)
        assert batch.rows().count() == 1
        batch.retry("boom")
        rows.update(available_at=timezone.now() - timedelta(seconds=1))
    batch = claim(rows, queue="customer-changes:tiers", limit=10, lease=changes.LEASE, max_attempts=3)
    assert batch.rows().count() == 0
    assert list(dead(rows, 3).values_list("customer_id", flat=True)) == [9]


def test_retry_delay_doubles_up_to_an_hour():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 8, 20)] == [30, 60, 120, 3600, 3600]
