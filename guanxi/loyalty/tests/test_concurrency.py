"""Real concurrent transactions: twenty clients redeem from one balance; two deliveries of one order."""

import threading

import pytest
from django.db import connections

from guanxi.loyalty import actions, earning, ledger
from guanxi.loyalty.ledger import LedgerError
from guanxi.loyalty.models import Movement
from guanxi.loyalty.tests.conftest import at

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("threaded_database")]


def run_together(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as error:
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_twenty_clients_redeem_ten_points_each_from_a_balance_of_one_hundred(programme, person):
    actions.adjust_points(programme, person, 100, reason="opening balance", now=at(2026, 3, 1))

    results = run_together(20, lambda i: actions.redeem_points(programme, person, 10, now=at(2026, 3, 2)))

    succeeded = [r for r in results if isinstance(r, Movement)]
    refused = [r for r in results if isinstance(r, LedgerError)]
    assert (len(succeeded), len(refused)) == (10, 10)
    assert ledger.balance(programme.pk, person.pk) == 0
    assert Movement.objects.filter(kind="redeem").count() == 10
    assert actions.check_ledger() == []


def test_the_same_order_synced_by_two_workers_at_once_earns_once(programme, person, send_order):
    send_order(person, "T1", "100.00", at(2026, 3, 1))

    results = run_together(4, lambda i: earning.sync_customers([person.pk], now=at(2026, 3, 2)))

    assert sum(r.earned for r in results) == 1
    assert list(Movement.objects.values_list("kind", "points")) == [("earn", 100)]
    assert ledger.balance(programme.pk, person.pk) == 100
