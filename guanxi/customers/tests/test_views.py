"""The customer list and 360 pages: scoping, masking, sections with exact totals, inline tags and notes."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from guanxi.accounts.roles import Role
from guanxi.analytics.refresh import refresh_metrics
from guanxi.commerce.models import Channel, Order
from guanxi.commerce.tests.factories import make_customer, make_order, make_store
from guanxi.core.models import AuditEntry
from guanxi.customers import profile
from guanxi.customers.models import Consent, ConsentChannel, CustomerTag, Identity, Note, Tag

HTMX = {"HX-Request": "true"}


@pytest.fixture
def shop(unit_a, unit_b, admin_user):
    tmall = make_store(unit_a, "Home Tmall", Channel.TMALL)
    jd = make_store(unit_a, "Home JD", Channel.JD)
    tmall_2 = make_store(unit_a, "Home Tmall outlet", Channel.TMALL)
    beauty = make_store(unit_b, "Beauty SECRETSTORE", Channel.DOUYIN)
    shared = make_customer("王芳", [unit_a, unit_b], phone="+8613812345678", province="浙江", city="杭州")
    Identity.objects.create(customer=shared, kind=Identity.Kind.EMAIL, value="wang@shop.cn")
    make_order(tmall, shared, "T-1", "100.00", (2026, 3, 1))
    make_order(tmall, shared, "T-2", "50.50", (2026, 4, 1))
    make_order(tmall, shared, "T-3", "70.00", (2026, 4, 2), status=Order.Status.CANCELLED)
    make_order(jd, shared, "J-1", "30.00", (2026, 5, 1))
    make_order(tmall_2, shared, "O-1", "19.50", (2026, 5, 2))
    make_order(beauty, shared, "SECRETORDER-1", "999.00", (2026, 5, 3))
    only_b = make_customer("李娜", [unit_b], phone="+8613900001111")
    tag = profile.create_tag("VIP", colour="#ff0000", actor=admin_user)
    profile.create_tag("Wholesale", actor=admin_user)
    profile.add_tag(shared, tag, actor=admin_user)
    profile.add_note(shared, "Prefers SF Express", actor=admin_user, unit=unit_a)
    profile.add_note(shared, "SECRETNOTE from beauty", actor=admin_user, unit=unit_b)
    profile.record_consent(
        shared,
        ConsentChannel.SMS,
        Consent.State.GRANTED,
        Consent.Method.CHECKBOX,
        source="checkout form",
        evidence="I agree to receive SMS offers",
        actor=admin_user,
    )
    return {"shared": shared, "only_b": only_b, "tag": tag}


def test_unit_b_only_customer_is_404_for_unit_a(client, unit_a_head, shop):
    client.force_login(unit_a_head)

    assert client.get(f"/customers/{shop['only_b'].pk}/").status_code == 404


def test_shared_customer_shows_unit_a_data_only_with_exact_totals(client, unit_a_head, shop):
    client.force_login(unit_a_head)

    response = client.get(f"/customers/{shop['shared'].pk}/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "SECRET" not in body
    c360 = response.context["c360"]
    assert [(s.store_name, s.orders, s.revenue) for s in c360.section("totals").totals.per_store] == [
        ("Home JD", 1, Decimal("30.00")),
        ("Home Tmall", 3, Decimal("150.50")),
        ("Home Tmall outlet", 1, Decimal("19.50")),
    ]
    assert [(c.channel, c.orders, c.revenue) for c in c360.section("totals").totals.per_channel] == [
        ("tmall", 4, Decimal("170.00")),
        ("jd", 1, Decimal("30.00")),
    ]
    assert [(t.currency, t.orders, t.revenue) for t in c360.section("totals").totals.per_currency] == [
        ("CNY", 5, Decimal("200.00"))
    ]
    assert [order.number for order in c360.section("totals").recent_orders] == [
        "O-1",
        "J-1",
        "T-3",
        "T-2",
        "T-1",
    ]
    assert [note.body for note in c360.notes] == ["Prefers SF Express"]
    assert [tag.name for tag in c360.tags] == ["VIP"]
    assert [(c.channel, c.state, c.source) for c in c360.consent] == [
        ("sms", "granted", "checkout form"),
        ("email", "", ""),
        ("wechat", "", ""),
        ("phone", "", ""),
    ]
    assert "SECRET" not in " ".join(item.summary for item in c360.timeline.items)
    assert "Not computed yet" in body


def test_service_agent_sees_the_metrics_of_their_unit_named_on_the_360_page(client, make_user, unit_a, shop):
    # A service agent holds customers.view, not analytics.view: the customer's own figures are part of
    # the record they serve; the portfolio pages stay closed to them.
    agent = make_user("agent", Role.SERVICE_AGENT, [unit_a])
    refresh_metrics(as_of=datetime(2026, 6, 1, tzinfo=UTC))
    client.force_login(agent)

    response = client.get(f"/customers/{shop['shared'].pk}/")
    metrics = response.context["c360"].section("metrics")

    assert [(m.unit_name, m.row.orders, m.row.total_spend) for m in metrics] == [
        ("Home textiles", 4, Decimal("200.00"))
    ]
    assert "Not computed yet" not in response.content.decode()
    assert client.get("/analytics/").status_code == 403


def test_manager_sees_every_unit_on_the_360_page(client, manager, shop):
    client.force_login(manager)

    c360 = client.get(f"/customers/{shop['shared'].pk}/").context["c360"]

    assert c360.section("totals").totals.orders == 6
    assert [note.body for note in c360.notes] == ["SECRETNOTE from beauty", "Prefers SF Express"]


def test_personal_data_is_masked_without_pii_permission(client, make_user, unit_a, shop):
    analyst = make_user("ana", Role.ANALYST, [unit_a])
    client.force_login(analyst)

    body = client.get(f"/customers/{shop['shared'].pk}/").content.decode()

    assert "138****5678" in body
    assert "w***@shop.cn" in body
    assert "13812345678" not in body
    assert "wang@shop.cn" not in body
    assert "王芳" not in body


def test_personal_data_is_shown_with_pii_permission(client, unit_a_head, shop):
    client.force_login(unit_a_head)

    body = client.get(f"/customers/{shop['shared'].pk}/").content.decode()

    assert "+8613812345678" in body
    assert "王芳" in body


def test_list_masks_contacts_and_hides_unit_b_customers(client, make_user, unit_a, shop):
    analyst = make_user("ana", Role.ANALYST, [unit_a])
    client.force_login(analyst)

    response = client.get("/customers/")

    body = response.content.decode()
    assert [row["customer"].pk for row in response.context["customers"]] == [shop["shared"].pk]
    assert "138****5678" in body
    assert "王芳" not in body


def test_list_filters(client, manager, unit_a, unit_b, shop):
    client.force_login(manager)

    def ids(**params):
        return [row["customer"].pk for row in client.get("/customers/", params).context["customers"]]

    assert ids() == [shop["only_b"].pk, shop["shared"].pk]
    assert ids(unit=unit_a.pk) == [shop["shared"].pk]
    assert ids(province="浙江") == [shop["shared"].pk]
    assert ids(tag=shop["tag"].pk) == [shop["shared"].pk]
    assert ids(has_orders="no") == [shop["only_b"].pk]
    assert ids(has_orders="yes") == [shop["shared"].pk]
    assert ids(rfm_segment="champions") == []


def test_list_pages_by_keyset(client, manager, unit_a):
    people = [make_customer(f"客户{i}", [unit_a]) for i in range(55)]
    client.force_login(manager)

    first = client.get("/customers/")
    second = client.get("/customers/", {"after": first.context["next_after"]})

    assert [row["customer"].pk for row in first.context["customers"]] == [p.pk for p in people[::-1][:50]]
    assert [row["customer"].pk for row in second.context["customers"]] == [p.pk for p in people[::-1][50:]]
    assert second.context["next_after"] is None


def test_tag_added_and_removed_inline(client, unit_a_head, shop):
    client.force_login(unit_a_head)
    shared = shop["shared"]
    wholesale = Tag.objects.get(name="Wholesale")

    added = client.post(f"/customers/{shared.pk}/tags/", {"tag": wholesale.pk}, headers=HTMX)

    assert added.status_code == 200
    assert added.content.decode().lstrip().startswith('<div id="customer-tags">')
    assert sorted(CustomerTag.objects.filter(customer=shared).values_list("tag__name", flat=True)) == [
        "VIP",
        "Wholesale",
    ]
    removed = client.post(f"/customers/{shared.pk}/tags/{shop['tag'].pk}/remove/", headers=HTMX)
    assert removed.status_code == 200
    assert list(CustomerTag.objects.filter(customer=shared).values_list("tag__name", flat=True)) == [
        "Wholesale"
    ]
    entries = AuditEntry.objects.filter(actor=unit_a_head, object_type="customers.customer")
    assert sorted(entry.details for entry in entries) == [
        f"Tag “{shop['tag'].name}” removed",
        "Tag “Wholesale” added",
    ]


def test_tagging_needs_the_change_permission(client, make_user, unit_a, shop):
    analyst = make_user("ana", Role.ANALYST, [unit_a])
    client.force_login(analyst)

    response = client.post(f"/customers/{shop['shared'].pk}/tags/{shop['tag'].pk}/remove/", headers=HTMX)

    assert response.status_code == 403
    assert CustomerTag.objects.filter(customer=shop["shared"], tag=shop["tag"]).exists()
    assert (
        AuditEntry.objects.filter(
            actor=analyst, action=AuditEntry.Action.PERMISSION_DENIED, object_id="customers.change"
        ).count()
        == 1
    )


def test_unit_a_cannot_tag_a_unit_b_customer(client, unit_a_head, shop):
    client.force_login(unit_a_head)

    response = client.post(f"/customers/{shop['only_b'].pk}/tags/", {"tag": shop["tag"].pk}, headers=HTMX)

    assert response.status_code == 404
    assert not CustomerTag.objects.filter(customer=shop["only_b"]).exists()


def test_note_added_inline_belongs_to_the_writers_unit(client, unit_a_head, unit_a, shop):
    client.force_login(unit_a_head)

    response = client.post(f"/customers/{shop['shared'].pk}/notes/", {"body": "Called back"}, headers=HTMX)

    assert response.status_code == 200
    assert "Called back" in response.content.decode()
    note = Note.objects.get(body="Called back")
    assert (note.unit_id, note.author_id) == (unit_a.pk, unit_a_head.pk)


def test_360_page_query_count_does_not_grow_with_data(
    client, unit_a_head, shop, django_assert_max_num_queries
):
    store = shop["shared"].orders.filter(number="T-1").get().store
    for index in range(30):
        make_order(store, shop["shared"], f"MORE-{index}", "1.00", (2026, 6, 1 + index % 28))
    client.force_login(unit_a_head)

    # 43: 22 for the page and the commerce and analytics parts, 1 for the owner picker (the users who
    # could own the customer), 4 for messaging's section and timeline items (history, preferences,
    # suppressions, sends), 6 for the sales part (contacts, deals, open amount, activities; on the
    # timeline, activities and closed deals), 4 for service's (latest tickets, open count, average CSAT;
    # tickets on the timeline), 3 for loyalty (memberships; on the timeline, points movements and tier
    # changes), 2 for marketing (the customer's flows and campaigns), 1 for privacy (its requests).
    with django_assert_max_num_queries(43):
        response = client.get(f"/customers/{shop['shared'].pk}/")

    assert response.status_code == 200


def test_list_query_count_is_bounded(client, manager, unit_a, django_assert_max_num_queries):
    for index in range(60):
        make_customer(f"客户{index}", [unit_a], phone=f"+86138000{index:05d}")
    client.force_login(manager)

    # 12: the page's queries, the count of open merge suggestions in the header, the probe of how
    # many names share the typed prefix (search.py), and the loyalty tier filter's choices.
    with django_assert_max_num_queries(12):
        client.get("/customers/", {"q": "客户"})


def test_timeline_shows_more_on_request(client, unit_a_head, shop):
    store = shop["shared"].orders.filter(number="T-1").get().store
    for index in range(40):
        make_order(store, shop["shared"], f"BULK-{index:02d}", "1.00", (2025, 1, 1 + index % 28))
    client.force_login(unit_a_head)
    page = client.get(f"/customers/{shop['shared'].pk}/").context["c360"].timeline
    position = page.next_position

    more = client.get(
        f"/customers/{shop['shared'].pk}/timeline/",
        {
            "before": position.occurred_at.isoformat(),
            "seen": position.same_time_seen,
            "offset": position.offset,
        },
        headers=HTMX,
    )

    shown = [item.summary for item in page.items] + [item.summary for item in more.context["timeline"].items]
    assert len(shown) == len(set(shown)) == 5 + 40 + 1 + 1 + 1
    assert timezone.is_aware(position.occurred_at)


def test_list_and_360_name_the_source_channel_not_its_code(client, manager, unit_a):
    customer = make_customer("赵六", [unit_a], source_channel="wechat_mp")
    client.force_login(manager)

    listing = client.get("/customers/").content.decode()
    detail = client.get(f"/customers/{customer.pk}/").content.decode()

    assert "WeChat mini-program" in listing and "wechat_mp" not in listing
    assert "<dd>WeChat mini-program</dd>" in detail
