from datetime import date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict

from guanxi.commerce.models import Channel, Order, Return
from guanxi.commerce.tests.factories import SHANGHAI, make_customer, make_order, make_store
from guanxi.core.background import create_job, run_job
from guanxi.core.models import AuditEntry, Job
from guanxi.customers import profile
from guanxi.customers.actions import upsert_customers_by_identity
from guanxi.customers.identities import identity_key
from guanxi.customers.merging.merge import MergeError, merge_customers, survivor_of, undo_merge
from guanxi.customers.merging.strong import resolve_strong_matches
from guanxi.customers.merging.suggestions import accept_suggestion, reject_suggestion, suggest_merges
from guanxi.customers.models import (
    Address,
    Consent,
    Customer,
    CustomerTag,
    CustomerUnit,
    CustomFieldDefinition,
    CustomFieldValue,
    Identity,
    IdentityHint,
    MergeRecord,
    MergeSuggestion,
    Note,
    TimelineEvent,
)
from guanxi.customers.references import repointed, unregistered_relations


def at(year, month, day, hour=12):
    return datetime(year, month, day, hour, 0, tzinfo=SHANGHAI)


def customer_with_phone(raw_phone, store, name, **fields):
    """A customer created the way the importers do: a store-namespaced, normalised phone identity."""
    key = identity_key(Identity.Kind.PHONE, raw_phone, namespace=store.source)
    resolved = upsert_customers_by_identity({key: {"name": name}}, unit=store.unit, source=store.source)
    customer_id = resolved.ids[key]
    Customer.objects.filter(pk=customer_id).update(**fields)
    CustomerUnit.objects.filter(customer_id=customer_id).update(first_seen_at=fields["first_seen_at"])
    return Customer.objects.get(pk=customer_id)


def state_of(*customers):
    """Everything about the customers: profile fields and, for every table a merge re-points (as the
    apps register them), each row that belongs to them; merge and undo events themselves aside."""
    ids = [c.pk for c in customers]
    state = {"customers": {c.pk: model_to_dict(Customer.objects.get(pk=c.pk)) for c in customers}}
    for ref in repointed():
        rows = ref.model._base_manager.filter(**{f"{ref.field}_id__in": ids})
        if ref.model is TimelineEvent:
            rows = rows.exclude(kind__in=["merged", "unmerged"])
        state[ref.key] = sorted(
            (model_to_dict(row) | {"id": row.pk} for row in rows), key=lambda row: row["id"]
        )
    return state


def test_every_relation_to_a_customer_is_registered_with_a_merge_rule():
    assert unregistered_relations() == []
    assert [ref.key for ref in repointed()] == [
        "identities",
        "identity_hints",
        "tags",
        "notes",
        "consents",
        "addresses",
        "custom_values",
        "unit_links",
        "timeline",
        "orders",
        "order_lines",
        "returns",
        "events",
        "sales_leads",
        "sales_contacts",
        "sales_opportunities",
        "sales_activities",
        "loyalty_memberships",
        "loyalty_tier_changes",
        "loyalty_movements",
        "loyalty_entries",
        "loyalty_lots",
        "loyalty_coupons",
        "loyalty_referrers",
        "loyalty_referees",
        "messages",
        "suppressions",
        "inbound_messages",
        "contact_preferences",
        "service_tickets",
        "service_follow_ups",
        "service_surveys",
        "marketing_enrolments",
        "marketing_recipients",
        "privacy_requests",
    ]


@pytest.fixture
def two_store_customers(unit_a, unit_b, admin_user):
    """The same phone in two stores of two units, as two customers with overlapping data."""
    home = make_store(unit_a, "home-tmall", Channel.TMALL)
    beauty = make_store(unit_b, "beauty-jd", Channel.JD)
    older = customer_with_phone(
        "138 1234 5678",
        home,
        "张伟",
        city="杭州",
        birthday=date(1990, 1, 1),
        first_seen_at=at(2022, 5, 1),
        updated_at=at(2023, 1, 1),
    )
    newer = customer_with_phone(
        "+86 13812345678",
        beauty,
        "张伟",
        city="上海",
        occupation="教师",
        birthday=date(1991, 2, 2),
        first_seen_at=at(2023, 8, 1),
        updated_at=at(2024, 6, 1),
    )
    # The newer customer also bought in unit A, earlier than the older profile's link there says.
    CustomerUnit.objects.create(customer=newer, unit=unit_a, first_seen_at=at(2021, 3, 3))
    make_order(home, older, "TM-1", "120.00", (2023, 3, 1))
    make_order(home, older, "TM-2", "80.00", (2024, 1, 5))
    jd_order = make_order(beauty, newer, "JD-1", "300.00", (2024, 2, 2))
    Return.objects.create(
        store=beauty,
        unit=unit_b,
        customer=newer,
        order=jd_order,
        source=beauty.source,
        external_id="R-1",
        number="R-1",
        amount=Decimal("50.00"),
        quantity=1,
        returned_at=at(2024, 2, 10),
    )
    vip = profile.create_tag("VIP", actor=admin_user)
    lipstick = profile.create_tag("口红爱好者", actor=admin_user)
    profile.add_tag(older, vip, actor=admin_user)
    profile.add_tag(newer, vip, actor=admin_user)
    profile.add_tag(newer, lipstick, actor=admin_user)
    profile.add_note(older, "Prefers delivery after 6pm", actor=admin_user, unit=unit_a)
    profile.add_note(newer, "Asked about refills", actor=admin_user, unit=unit_b)
    profile.record_consent(older, "sms", "granted", "checkbox", actor=admin_user, source="checkout form")
    profile.record_consent(newer, "sms", "withdrawn", "reply", actor=admin_user, evidence="TD")
    profile.add_address(older, receiver="张伟", street="文三路 100号", city="杭州", is_default=True)
    profile.add_address(newer, receiver="张伟", street="南京西路 1号", city="上海", is_default=True)
    size = profile.create_custom_field("shoe_size", "Shoe size", CustomFieldDefinition.Type.NUMBER)
    profile.set_custom_field(older, size, "41")
    profile.set_custom_field(newer, size, "42")
    IdentityHint.objects.create(customer=newer, kind="phone", value="138****5678", source=beauty.source)
    # The actions above touched updated_at; put the recency back to what the scenario says.
    Customer.objects.filter(pk=older.pk).update(updated_at=at(2023, 1, 1))
    Customer.objects.filter(pk=newer.pk).update(updated_at=at(2024, 6, 1))
    return Customer.objects.get(pk=older.pk), Customer.objects.get(pk=newer.pk)


def test_two_stores_orders_from_one_phone_end_up_on_one_customer_and_undo_restores_both_exactly(
    two_store_customers, admin_user, settings, unit_a, unit_b
):
    settings.GUANXI_SURVIVORSHIP = {"birthday": "oldest_non_empty"}
    older, newer = two_store_customers
    before = state_of(older, newer)

    records = resolve_strong_matches(actor=admin_user)

    assert len(records) == 1
    record = records[0]
    assert (record.survivor_id, record.absorbed_id, record.automatic) == (older.pk, newer.pk, True)
    assert record.evidence == [
        {"code": "same_phone", "detail": "138****5678", "customers": [older.pk, newer.pk]}
    ]
    assert sorted(Order.objects.filter(customer=older).values_list("number", flat=True)) == [
        "JD-1",
        "TM-1",
        "TM-2",
    ]
    assert Order.objects.filter(customer=newer).count() == 0
    assert list(Return.objects.filter(customer=older).values_list("number", flat=True)) == ["R-1"]
    assert sorted(Identity.objects.filter(customer=older).values_list("namespace", "value")) == [
        ("jd:beauty-jd", "+8613812345678"),
        ("tmall:home-tmall", "+8613812345678"),
    ]
    assert sorted(CustomerTag.objects.filter(customer=older).values_list("tag__name", flat=True)) == [
        "VIP",
        "口红爱好者",
    ]
    assert Note.objects.filter(customer=older).count() == 2
    # Newest consent evidence wins: the withdrawal recorded after the grant.
    assert Consent.current_for(older.pk)["sms"].state == "withdrawn"
    assert sorted(Address.objects.filter(customer=older).values_list("city", "is_default")) == [
        ("上海", False),
        ("杭州", True),
    ]
    assert CustomFieldValue.objects.get(customer=older).value == "42"
    assert sorted(CustomerUnit.objects.filter(customer=older).values_list("unit__code", "first_seen_at")) == [
        ("beauty", at(2023, 8, 1)),
        ("home", at(2021, 3, 3)),
    ]
    survivor = Customer.objects.get(pk=older.pk)
    assert (survivor.name, survivor.city, survivor.occupation) == ("张伟", "上海", "教师")
    assert survivor.birthday == date(1990, 1, 1)  # oldest_non_empty, configured
    assert survivor.first_seen_at == at(2022, 5, 1)
    assert record.snapshot["survivorship"]["city"] == {"rule": "most_recent_non_empty", "from": "absorbed"}
    assert record.snapshot["survivorship"]["birthday"] == {"rule": "oldest_non_empty", "from": "survivor"}
    absorbed = Customer.objects.get(pk=newer.pk)
    assert (absorbed.status, absorbed.merged_into_id) == ("merged", older.pk)
    assert sorted(
        AuditEntry.objects.filter(action="merge").values_list("object_type", "object_id", "changes")
    ) == [
        (
            "customers.customer",
            str(older.pk),
            {
                "city": {"from": "杭州", "to": "上海"},
                "occupation": {"from": "", "to": "教师"},
            },
        ),
        ("customers.customer", str(newer.pk), {}),
    ]
    assert sorted(TimelineEvent.objects.filter(kind="merged").values_list("customer_id", "data__role")) == [
        (older.pk, "survivor"),
        (newer.pk, "absorbed"),
    ]

    restored = undo_merge(record, actor=admin_user)

    assert restored.pk == newer.pk
    assert state_of(older, newer) == before
    assert MergeRecord.objects.get(pk=record.pk).undone_at is not None
    assert AuditEntry.objects.filter(action="unmerge").count() == 2
    assert sorted(TimelineEvent.objects.filter(kind="unmerged").values_list("customer_id", "data__role")) == [
        (older.pk, "survivor"),
        (newer.pk, "absorbed"),
    ]
    # An undone pair is not merged again automatically.
    assert resolve_strong_matches() == []
    with pytest.raises(MergeError, match=rf"^Merge #{record.pk} has already been undone\.$"):
        undo_merge(record)


def test_survivorship_default_takes_the_most_recent_non_empty_value(two_store_customers):
    older, newer = two_store_customers

    merge_customers(older, newer, reason="test")

    survivor = Customer.objects.get(pk=older.pk)
    assert survivor.birthday == date(1991, 2, 2)
    assert survivor.city == "上海"


def test_unknown_survivorship_rule_is_refused_and_nothing_changes(two_store_customers, settings):
    settings.GUANXI_SURVIVORSHIP = {"birthday": "loudest"}
    older, newer = two_store_customers

    with pytest.raises(MergeError, match=r"^Unknown survivorship rule loudest for field birthday\.$"):
        merge_customers(older, newer)

    assert Order.objects.filter(customer=newer).count() == 1
    assert Customer.objects.get(pk=newer.pk).status == "active"


def test_merging_an_already_merged_customer_is_refused(two_store_customers, unit_a):
    older, newer = two_store_customers
    third = make_customer("张伟", [unit_a])
    merge_customers(older, newer)

    with pytest.raises(
        MergeError, match=rf"^Customer #{newer.pk} has already been merged into customer #{older.pk}\.$"
    ):
        merge_customers(third, Customer.objects.get(pk=newer.pk))
    with pytest.raises(MergeError, match=rf"^Customer #{newer.pk} has already been merged"):
        merge_customers(Customer.objects.get(pk=newer.pk), third)
    with pytest.raises(MergeError, match=r"^A customer cannot be merged with itself\.$"):
        merge_customers(third, third)
    assert MergeRecord.objects.count() == 1
    assert survivor_of(Customer.objects.get(pk=newer.pk)) == older


def test_undo_is_refused_while_the_survivor_is_merged_into_someone_else(two_store_customers, unit_a):
    older, newer = two_store_customers
    first = merge_customers(older, newer)
    top = make_customer("张伟", [unit_a])
    merge_customers(top, Customer.objects.get(pk=older.pk))

    with pytest.raises(
        MergeError, match=rf"^Customer #{older.pk} was later merged into customer #{top.pk}; undo"
    ):
        undo_merge(first)


def test_unnormalised_stored_values_and_unionids_match_but_placeholders_never_do(unit_a, unit_b):
    # Rows written before normalisation existed (raw phone) still match the normalised value.
    raw = make_customer("A", [unit_a], phone="138-1234-5678", first_seen_at=at(2024, 1, 1))
    clean = make_customer("B", [unit_b], phone="+8613812345678", first_seen_at=at(2023, 1, 1))
    wx1 = make_customer("C", [unit_a], first_seen_at=at(2022, 1, 1))
    wx2 = make_customer("D", [unit_b], first_seen_at=at(2022, 2, 1))
    Identity.objects.create(customer=wx1, kind="wechat_unionid", value="oUnion1", namespace="mp:home")
    Identity.objects.create(customer=wx2, kind="wechat_unionid", value="oUnion1", namespace="mp:beauty")
    fake1 = make_customer("E", [unit_a])
    fake2 = make_customer("F", [unit_b])
    Identity.objects.create(customer=fake1, kind="phone", value="+8613800138000", namespace="x")
    Identity.objects.create(customer=fake2, kind="phone", value="+8613800138000", namespace="y")
    Identity.objects.create(customer=fake1, kind="email", value="test@test.com", namespace="x")
    Identity.objects.create(customer=fake2, kind="email", value="test@test.com", namespace="y")

    records = resolve_strong_matches()

    assert sorted((r.survivor_id, r.absorbed_id) for r in records) == [(clean.pk, raw.pk), (wx1.pk, wx2.pk)]
    assert Customer.objects.filter(pk__in=[fake1.pk, fake2.pk], status="active").count() == 2


def test_resolving_only_some_customers_leaves_other_groups_alone(unit_a, unit_b):
    a = make_customer("A", [unit_a], first_seen_at=at(2022, 1, 1))
    b = make_customer("B", [unit_b], first_seen_at=at(2023, 1, 1))
    c = make_customer("C", [unit_a])
    d = make_customer("D", [unit_b])
    for customer, namespace in ((a, "s1"), (b, "s2")):
        Identity.objects.create(customer=customer, kind="email", value="li.na@qq.com", namespace=namespace)
    for customer, namespace in ((c, "s1"), (d, "s2")):
        Identity.objects.create(customer=customer, kind="person_id", value="P-77", namespace=namespace)

    records = resolve_strong_matches(customer_ids=[b.pk])

    assert [(r.survivor_id, r.absorbed_id) for r in records] == [(a.pk, b.pk)]
    assert Customer.objects.get(pk=d.pk).status == "active"


def test_masked_and_fake_values_never_become_identities(unit_a, unit_b):
    customer = make_customer("王芳", [unit_a])

    hint = profile.add_identity(customer, "phone", "138****5678")

    assert isinstance(hint, IdentityHint)
    assert (hint.value, hint.customer_id) == ("138****5678", customer.pk)
    for kind, value in (("phone", "00000000000"), ("email", "test@test.com"), ("phone", "12345678901")):
        with pytest.raises(ValidationError):
            profile.add_identity(customer, kind, value)
    assert Identity.objects.count() == 0


def test_adding_a_strong_identity_held_by_another_customer_merges_them(unit_a, unit_b):
    older = make_customer("A", [unit_a], phone="+8613812345678", first_seen_at=at(2022, 1, 1))
    newer = make_customer("A", [unit_b], first_seen_at=at(2024, 1, 1))

    identity = profile.add_identity(newer, "phone", "13812345678")

    assert identity.customer_id == older.pk
    assert Customer.objects.get(pk=newer.pk).merged_into_id == older.pk
    Identity.objects.create(customer=newer, kind="taobao_nick", value="nick1", namespace="s")
    with pytest.raises(ValidationError) as error:
        profile.add_identity(older, "taobao_nick", "nick1", namespace="s")
    assert error.value.messages == ["This Taobao buyer nick belongs to another customer."]


# --- suggestions -------------------------------------------------------------------------------


def test_same_name_and_same_address_is_suggested_with_the_evidence(unit_a, unit_b):
    a = make_customer("李娜", [unit_a])
    b = make_customer(" 李娜", [unit_b])
    other = make_customer("李娜", [unit_b])
    Address.objects.create(
        customer=a, province="浙江省", city="杭州市", district="西湖区", street="文三路 100号"
    )
    Address.objects.create(
        customer=b, province="浙江省", city="杭州市", district="西湖区", street="文三路100号"
    )
    Address.objects.create(
        customer=other, province="浙江省", city="杭州市", district="西湖区", street="文三路 8号"
    )

    counts = suggest_merges()

    assert counts == {"created": 1, "updated": 0, "unchanged": 0}
    suggestion = MergeSuggestion.objects.get()
    assert (suggestion.customer_a_id, suggestion.customer_b_id) == (a.pk, b.pk)
    assert suggestion.score == 60
    assert suggestion.evidence == [{"code": "same_name_address", "detail": "李* · 杭州市", "score": 60}]
    assert suggest_merges() == {"created": 0, "updated": 0, "unchanged": 1}


def test_same_taobao_nick_in_two_stores_is_suggested(unit_a, unit_b):
    a = make_customer("", [unit_a])
    b = make_customer("", [unit_b])
    Identity.objects.create(customer=a, kind="taobao_nick", value="小猫咪2020", namespace="tmall:home")
    Identity.objects.create(customer=b, kind="taobao_nick", value="小猫咪2020", namespace="taobao:beauty")

    suggest_merges()

    suggestion = MergeSuggestion.objects.get()
    assert (suggestion.customer_a_id, suggestion.customer_b_id, suggestion.score) == (a.pk, b.pk, 70)
    assert suggestion.evidence == [
        {"code": "same_taobao_nick", "detail": "小*** · tmall:home / taobao:beauty", "score": 70}
    ]


def test_masked_phone_that_agrees_with_a_full_number_and_the_name_is_suggested(unit_a, unit_b):
    masked = make_customer("王芳", [unit_a])
    IdentityHint.objects.create(customer=masked, kind="phone", value="138****5678", source="tmall:home")
    full = make_customer("王芳", [unit_b], phone="+8613812345678")
    make_customer("赵敏", [unit_b], phone="+8613899995678")  # digits agree, name does not
    make_customer("王芳", [unit_b], phone="+8613912345678")  # name agrees, first digits do not

    suggest_merges()

    suggestion = MergeSuggestion.objects.get()
    assert (suggestion.customer_a_id, suggestion.customer_b_id) == (masked.pk, full.pk)
    assert suggestion.score == 80
    assert suggestion.evidence == [
        {"code": "masked_phone_and_name", "detail": "138****5678 ~ 138****5678 · 王*", "score": 80}
    ]
    assert Identity.objects.filter(customer=masked).count() == 0


def test_accepting_a_suggestion_merges_into_the_older_customer(unit_a, unit_b, admin_user):
    newer = make_customer("李娜", [unit_a], first_seen_at=at(2024, 1, 1))
    older = make_customer("李娜", [unit_b], first_seen_at=at(2020, 1, 1))
    for customer in (newer, older):
        Address.objects.create(customer=customer, city="杭州市", street="文三路 100号")
    suggest_merges()
    suggestion = MergeSuggestion.objects.get()

    record = accept_suggestion(suggestion, actor=admin_user)

    assert (record.survivor_id, record.absorbed_id) == (older.pk, newer.pk)
    assert (record.reason, record.reason_text) == ("customers.merge_suggestion", "Merge suggestion accepted")
    assert record.evidence == suggestion.evidence
    suggestion.refresh_from_db()
    assert (suggestion.state, suggestion.decided_by, suggestion.merge_id) == (
        "accepted",
        admin_user,
        record.pk,
    )
    with pytest.raises(MergeError, match=r"^This suggestion was already decided \(Accepted\)\.$"):
        reject_suggestion(suggestion, actor=admin_user)

    undo_merge(record, actor=admin_user)

    suggestion.refresh_from_db()
    assert suggestion.state == "rejected"
    assert suggest_merges() == {"created": 0, "updated": 0, "unchanged": 0}


def test_rejected_suggestions_stay_rejected(unit_a, unit_b, admin_user):
    a = make_customer("李娜", [unit_a])
    b = make_customer("李娜", [unit_b])
    for customer in (a, b):
        Address.objects.create(customer=customer, city="杭州市", street="文三路 100号")
    suggest_merges()

    reject_suggestion(MergeSuggestion.objects.get(), actor=admin_user, reason="sisters")

    assert suggest_merges() == {"created": 0, "updated": 0, "unchanged": 1}
    suggestion = MergeSuggestion.objects.get()
    assert (suggestion.state, suggestion.decided_by) == ("rejected", admin_user)
    entry = AuditEntry.objects.get(object_type="customers.mergesuggestion")
    assert (entry.action, entry.details) == ("update", "Merge suggestion rejected: sisters")
    assert Customer.objects.filter(status="merged").count() == 0


def test_suggest_merges_job_records_its_counts(unit_a, unit_b):
    a = make_customer("李娜", [unit_a])
    b = make_customer("李娜", [unit_b])
    for customer in (a, b):
        Address.objects.create(customer=customer, city="杭州市", street="文三路 100号")
    job = create_job("customers.suggest_merges")

    run_job(job)

    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    assert job.counts == {"created": 1, "updated": 0, "unchanged": 0}
    assert MergeSuggestion.objects.count() == 1


def test_suggestions_are_visible_only_when_both_customers_are(unit_a, unit_b, unit_a_head, manager):
    a = make_customer("李娜", [unit_a])
    b = make_customer("李娜", [unit_b])
    for customer in (a, b):
        Address.objects.create(customer=customer, city="杭州市", street="文三路 100号")
    suggest_merges()

    assert MergeSuggestion.objects.restrict(unit_a_head, "view").count() == 0
    assert MergeSuggestion.objects.restrict(manager, "view").count() == 1
