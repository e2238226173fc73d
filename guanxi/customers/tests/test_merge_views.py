"""The merge review queue over HTTP: suggestions side by side, accept, reject, scan now, history and undo."""

from datetime import datetime

import pytest

from guanxi.accounts.roles import Role
from guanxi.commerce.models import Channel, Order
from guanxi.commerce.tests.factories import SHANGHAI, make_customer, make_order, make_store
from guanxi.core.models import AuditEntry, Job
from guanxi.customers.merging.merge import merge_customers, undo_merge
from guanxi.customers.merging.suggestions import suggest_merges
from guanxi.customers.models import Address, Customer, MergeRecord, MergeSuggestion


def at(year, month, day):
    return datetime(year, month, day, 12, tzinfo=SHANGHAI)


@pytest.fixture
def twins(unit_a):
    """Two profiles of 李娜 at one address, each with orders in a different store of unit A."""
    tmall = make_store(unit_a, "home-tmall", Channel.TMALL)
    jd = make_store(unit_a, "home-jd", Channel.JD)
    older = make_customer("李娜", [unit_a], phone="+8613812345678", first_seen_at=at(2020, 1, 1))
    newer = make_customer("李娜", [unit_a], phone="+8613987654321", first_seen_at=at(2024, 1, 1))
    for customer in (older, newer):
        Address.objects.create(customer=customer, province="浙江省", city="杭州市", street="文三路 100号")
    make_order(tmall, older, "T-1", "100.00", (2026, 1, 1))
    make_order(jd, newer, "J-1", "50.00", (2026, 2, 1))
    make_order(jd, newer, "J-2", "70.00", (2026, 3, 1))
    suggest_merges()
    return {"older": older, "newer": newer, "suggestion": MergeSuggestion.objects.get()}


def orders_per_customer() -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for customer_id, number in Order.objects.order_by("customer_id", "number").values_list(
        "customer_id", "number"
    ):
        found.setdefault(customer_id, []).append(number)
    return found


def test_suggestions_are_shown_side_by_side_with_masked_personal_data(client, unit_a, twins, make_user):
    analyst = make_user("analyst_a", Role.ANALYST, [unit_a])
    client.force_login(analyst)

    response = client.get("/customers/merges/")

    (item,) = response.context["suggestions"]
    assert item.suggestion == twins["suggestion"]
    assert [
        (person.customer, person.name, person.contacts, person.facts, person.survives)
        for person in item.people
    ] == [
        (twins["older"], "李*", ("138****5678",), (("Orders", "1"), ("Stores", "home-tmall")), True),
        (twins["newer"], "李*", ("139****4321",), (("Orders", "2"), ("Stores", "home-jd")), False),
    ]
    assert item.evidence == (("Same name and address", "李* · 杭州市", 60),)
    body = response.content.decode()
    assert "13812345678" not in body
    assert "李娜" not in body
    assert "Same person: merge" not in body  # an analyst may look, not decide
    assert response.context["can_change"] is False


def test_people_who_may_see_pii_see_names_and_phones(client, unit_a_head, twins):
    client.force_login(unit_a_head)

    (item,) = client.get("/customers/merges/").context["suggestions"]

    assert [(person.name, person.contacts) for person in item.people] == [
        ("李娜", ("+8613812345678",)),
        ("李娜", ("+8613987654321",)),
    ]


def test_accepting_merges_into_the_older_profile_and_undo_splits_back_exactly(client, unit_a_head, twins):
    older, newer = twins["older"], twins["newer"]
    before = orders_per_customer()
    client.force_login(unit_a_head)

    accepted = client.post(f"/customers/merges/suggestions/{twins['suggestion'].pk}/accept/")

    assert accepted.status_code == 302
    assert accepted.url == "/customers/merges/"
    assert orders_per_customer() == {older.pk: ["J-1", "J-2", "T-1"]}
    newer.refresh_from_db()
    assert (newer.status, newer.merged_into_id) == (Customer.Status.MERGED, older.pk)
    twins["suggestion"].refresh_from_db()
    assert (twins["suggestion"].state, twins["suggestion"].decided_by) == ("accepted", unit_a_head)
    record = MergeRecord.objects.get()
    assert set(AuditEntry.objects.filter(action="merge").values_list("object_id", "actor")) == {
        (str(older.pk), unit_a_head.pk),
        (str(newer.pk), unit_a_head.pk),
    }
    page = client.get("/customers/merges/")
    assert page.context["suggestions"] == []
    assert [row[0] for row in page.context["history"]] == [record]
    assert f"Customer #{newer.pk} was merged into customer #{older.pk}." in page.content.decode()

    undone = client.post(f"/customers/merges/{record.pk}/undo/")

    assert undone.status_code == 302
    assert orders_per_customer() == before == {older.pk: ["T-1"], newer.pk: ["J-1", "J-2"]}
    newer.refresh_from_db()
    assert (newer.status, newer.merged_into_id) == (Customer.Status.ACTIVE, None)
    record.refresh_from_db()
    assert record.undone_by == unit_a_head
    assert AuditEntry.objects.filter(action="unmerge", actor=unit_a_head).count() == 2

    again = client.post(f"/customers/merges/{record.pk}/undo/", follow=True)

    assert f"Merge #{record.pk} has already been undone." in again.content.decode()
    assert orders_per_customer() == before


def test_rejecting_keeps_both_profiles_and_records_the_reason(client, unit_a_head, twins):
    client.force_login(unit_a_head)

    response = client.post(
        f"/customers/merges/suggestions/{twins['suggestion'].pk}/reject/", {"reason": "sisters"}
    )

    assert response.status_code == 302
    twins["suggestion"].refresh_from_db()
    assert twins["suggestion"].state == "rejected"
    assert Customer.objects.filter(status="merged").count() == 0
    entry = AuditEntry.objects.get(object_type="customers.mergesuggestion")
    assert (entry.action, entry.actor, entry.details) == (
        "update",
        unit_a_head,
        "Merge suggestion rejected: sisters",
    )
    assert client.post(f"/customers/merges/suggestions/{twins['suggestion'].pk}/accept/").status_code == 404


def test_deciding_needs_the_change_permission(client, unit_a, twins, make_user):
    analyst = make_user("analyst_a", Role.ANALYST, [unit_a])
    client.force_login(analyst)
    pk = twins["suggestion"].pk

    statuses = [
        client.post(f"/customers/merges/suggestions/{pk}/accept/").status_code,
        client.post(f"/customers/merges/suggestions/{pk}/reject/").status_code,
        client.post("/customers/merges/scan/").status_code,
    ]

    assert statuses == [403, 403, 403]
    assert [
        (entry.object_id, entry.details)
        for entry in AuditEntry.objects.filter(action="permission_denied").order_by("id")
    ] == [
        ("customers.change", f"Refused: POST /customers/merges/suggestions/{pk}/accept/"),
        ("customers.change", f"Refused: POST /customers/merges/suggestions/{pk}/reject/"),
        ("customers.change", "Refused: POST /customers/merges/scan/"),
    ]
    twins["suggestion"].refresh_from_db()
    assert twins["suggestion"].state == "open"
    assert Job.objects.count() == 0


def test_a_unit_sees_only_pairs_of_its_own_customers(client, unit_a, unit_b, unit_a_head, manager):
    across = [make_customer("王芳", [unit_a]), make_customer("王芳", [unit_b])]
    within_b = [make_customer("赵敏", [unit_b]), make_customer("赵敏", [unit_b])]
    for customer in (*across, *within_b):
        Address.objects.create(customer=customer, city="上海市", street="南京路 1号")
    suggest_merges()
    across_pair = MergeSuggestion.objects.get(customer_a=across[0])
    b_pair = MergeSuggestion.objects.get(customer_a=within_b[0])
    record = MergeRecord.objects.get(pk=client_merge(client, manager, b_pair))

    client.force_login(unit_a_head)
    page = client.get("/customers/merges/")
    statuses = [
        client.post(f"/customers/merges/suggestions/{across_pair.pk}/accept/").status_code,
        client.post(f"/customers/merges/suggestions/{across_pair.pk}/reject/").status_code,
        client.post(f"/customers/merges/{record.pk}/undo/").status_code,
    ]

    assert page.context["suggestions"] == []
    assert page.context["history"] == []
    assert "Duplicates (0)" in client.get("/customers/").content.decode()
    assert statuses == [404, 404, 404]
    across_pair.refresh_from_db()
    record.refresh_from_db()
    assert (across_pair.state, record.undone_at) == ("open", None)
    client.force_login(manager)
    assert [item.suggestion for item in client.get("/customers/merges/").context["suggestions"]] == [
        across_pair
    ]
    assert "Duplicates (1)" in client.get("/customers/").content.decode()


def client_merge(client, user, suggestion) -> int:
    client.force_login(user)
    client.post(f"/customers/merges/suggestions/{suggestion.pk}/accept/")
    return MergeSuggestion.objects.get(pk=suggestion.pk).merge_id


def test_find_duplicates_now_runs_the_scan_job(
    client, unit_a_head, unit_a, django_capture_on_commit_callbacks
):
    for _index in range(2):
        customer = make_customer("周杰", [unit_a])
        Address.objects.create(customer=customer, city="北京市", street="长安街 1号")
    client.force_login(unit_a_head)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/customers/merges/scan/")

    job = Job.objects.get()
    assert response.url == f"/jobs/{job.pk}/"
    assert (job.kind, job.state, job.started_by, job.counts) == (
        "customers.suggest_merges",
        "succeeded",
        unit_a_head,
        {"created": 1, "updated": 0, "unchanged": 0},
    )
    assert "Duplicates (1)" in client.get("/customers/").content.decode()


def test_a_suggestion_whose_customer_was_merged_elsewhere_leaves_the_queue_until_undone(
    client, manager, twins, unit_a
):
    third = make_customer("李娜", [unit_a], first_seen_at=at(2019, 1, 1))
    record = merge_customers(third, twins["newer"])
    client.force_login(manager)

    assert list(client.get("/customers/merges/").context["suggestions"]) == []
    response = client.post(f"/customers/merges/suggestions/{twins['suggestion'].pk}/accept/")
    assert response.status_code == 404  # only open suggestions can be decided
    twins["suggestion"].refresh_from_db()
    assert (twins["suggestion"].state, twins["suggestion"].merge) == ("superseded", record)

    undo_merge(record)
    twins["suggestion"].refresh_from_db()
    assert (twins["suggestion"].state, twins["suggestion"].merge) == ("open", None)
    (item,) = client.get("/customers/merges/").context["suggestions"]
    assert item.blocked is False
