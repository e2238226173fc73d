"""Claims on a table of work: giving back only some rows, and postponing rows without counting an attempt
(what the messaging outbox needs for quiet hours and per-message failures)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from guanxi.core.claims import claim
from guanxi.customers.models import CustomerChange

pytestmark = pytest.mark.django_db


def rows():
    return CustomerChange.objects.filter(reader="test")


def test_retry_gives_back_only_the_rows_named():
    CustomerChange.objects.bulk_create([CustomerChange(customer_id=pk, reader="test") for pk in (1, 2, 3)])
    batch = claim(rows(), queue="test", limit=10, lease=timedelta(minutes=1))
    ids = sorted(batch.rows().values_list("pk", flat=True))
    assert batch.retry("gateway 503", ids[:1]) == 1
    assert sorted(batch.rows().values_list("pk", flat=True)) == ids[1:]  # still held
    failed = CustomerChange.objects.get(pk=ids[0])
    assert (failed.claim_token, failed.last_error, failed.attempts) == (None, "gateway 503", 1)
    assert failed.available_at > timezone.now() + timedelta(seconds=25)


def test_postpone_gives_rows_back_for_a_chosen_time_without_counting_an_attempt():
    CustomerChange.objects.create(customer_id=7, reader="test")
    batch = claim(rows(), queue="test", limit=10, lease=timedelta(minutes=1))
    later = timezone.now() + timedelta(hours=9)
    assert batch.postpone(list(batch.rows().values_list("pk", flat=True)), later) == 1
    row = rows().get()
    assert (row.claim_token, row.lease_expires_at, row.available_at, row.attempts) == (None, None, later, 0)
    assert (
        claim(rows(), queue="test", limit=10, lease=timedelta(minutes=1)).rows().count() == 0
    )  # not yet due
