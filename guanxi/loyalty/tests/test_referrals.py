"""Referrals: a member's code, both sides rewarded once on the friend's first paid order, and the
fraud rules (same phone, same address, same device) that flag a pair and reward nobody."""

import pytest
from django.core.exceptions import ValidationError

from guanxi.commerce.tests.factories import make_customer
from guanxi.customers.models import Address
from guanxi.loyalty import actions, earning, ledger, referrals
from guanxi.loyalty.models import Membership, Movement, Referral
from guanxi.loyalty.tests.conftest import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def rewarding(programme):
    return actions.update_programme(programme, referrer_points=200, referee_points=50)


@pytest.fixture
def code(rewarding, person):
    membership = actions.enrol(rewarding, person, now=at(2026, 2, 1))
    return referrals.code_of(membership)


def test_a_members_code_is_drawn_once(code, person):
    membership = Membership.objects.get(customer=person)
    assert (len(code), code[0], referrals.code_of(membership)) == (8, "R", code)


def test_both_sides_are_rewarded_once_on_the_friends_first_paid_order(
    rewarding, person, code, unit_a, send_order
):
    friend = make_customer("李雷", [unit_a], phone="+8613800002222")
    referral = actions.record_referral(rewarding, friend, code.lower(), device="dev-1", now=at(2026, 3, 1))
    assert (referral.state, Membership.objects.get(customer=friend).joined_via) == ("pending", "invitation")

    earning.follow_changes(now=at(2026, 3, 2))  # no order yet: nothing
    assert Referral.objects.get().state == "pending"

    first = send_order(friend, "F1", "100.00", at(2026, 3, 5, 10))
    send_order(friend, "F2", "300.00", at(2026, 3, 6, 10))
    earning.follow_changes(now=at(2026, 3, 7))
    earning.sync_customers([friend.pk, person.pk], now=at(2026, 3, 8))

    referral.refresh_from_db()
    assert (referral.state, referral.order_id, referral.flags) == ("rewarded", first.pk, [])
    assert sorted(Movement.objects.filter(kind="referral").values_list("customer_id", "points")) == sorted(
        [(person.pk, 200), (friend.pk, 50)]
    )
    assert (ledger.balance(rewarding.pk, person.pk), ledger.balance(rewarding.pk, friend.pk)) == (200, 450)
    assert actions.check_ledger() == []


@pytest.mark.parametrize("rule", ["same_phone", "same_address", "same_device"])
def test_a_suspicious_pair_is_flagged_and_nobody_is_rewarded(
    rewarding, person, code, unit_a, send_order, rule
):
    friend = make_customer("张伟", [unit_a], phone="+8613800003333")
    if rule == "same_phone":  # the referrer's mobile as the friend's delivery phone
        Address.objects.create(customer=friend, receiver="张伟", phone="138 0000 1111")
    if rule == "same_address":
        for who in (person, friend):
            Address.objects.create(
                customer=who, province="浙江省", city="杭州市", district="西湖区", street="文三路 1 号"
            )
    if rule == "same_device":
        earlier = make_customer("赵敏", [unit_a], phone="+8613800004444")
        actions.record_referral(rewarding, earlier, code, device="dev-9", now=at(2026, 2, 20))
    actions.record_referral(rewarding, friend, code, device="dev-9", now=at(2026, 3, 1))
    send_order(friend, "F1", "100.00", at(2026, 3, 5, 10))

    earning.follow_changes(now=at(2026, 3, 7))

    referral = Referral.objects.get(referee=friend)
    assert (referral.state, referral.flags) == ("flagged", [rule])
    assert not Movement.objects.filter(kind="referral").exists()
    assert ledger.balance(rewarding.pk, person.pk) == 0


def test_a_referral_is_refused_for_an_unknown_code_oneself_twice_or_an_existing_buyer(
    rewarding, person, code, unit_a, send_order
):
    friend = make_customer("李雷", [unit_a], phone="+8613800002222")
    buyer = make_customer("王强", [unit_a], phone="+8613800005555")
    send_order(buyer, "B1", "10.00", at(2026, 2, 10, 10))
    earning.follow_changes(now=at(2026, 2, 11))
    actions.record_referral(rewarding, friend, code, now=at(2026, 3, 1))

    for who, given, field_error in (
        (friend, "RNOTACODE", "No member of this programme has that referral code."),
        (person, code, "A member cannot refer themselves."),
        (friend, code, "This customer was already referred."),
        (buyer, code, "Only a new customer can be referred."),
    ):
        with pytest.raises(ValidationError) as refused:
            actions.record_referral(rewarding, who, given, now=at(2026, 3, 2))
        assert refused.value.message_dict == {"code": [field_error]}
    assert Referral.objects.count() == 1


def test_the_member_page_shows_the_code_and_how_many_friends_were_referred(
    client, make_user, rewarding, person, code, unit_a
):
    from guanxi.accounts.roles import Role

    actions.record_referral(rewarding, make_customer("李雷", [unit_a]), code, now=at(2026, 3, 1))
    client.force_login(make_user("m", Role.MARKETER, [unit_a]))

    page = client.get(f"/loyalty/members/{Membership.objects.get(customer=person).pk}/").content.decode()

    assert code in page and "1 friend referred" in page


def test_the_api_records_a_referral_once_and_explains_each_refusal(
    client, make_user, bearer, rewarding, person, code, unit_a, unit_b
):
    from guanxi.accounts.roles import Role
    from guanxi.core.models import AuditEntry

    friend = make_customer("李雷", [unit_a], phone="+8613800002222")
    headers = bearer(make_user("m", Role.MARKETER, [unit_a]), "read_write")
    url = f"/api/v1/loyalty/programmes/{rewarding.pk}/referrals"

    def post(referee, given, who=headers):
        return client.post(
            url, {"referee": referee.pk, "code": given}, content_type="application/json", headers=who
        )

    response = post(friend, code.lower())
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["referrer_id"], body["referee_id"], body["state"]) == (person.pk, friend.pk, "pending")
    assert Membership.objects.get(customer=friend).joined_via == "invitation"
    audited = AuditEntry.objects.filter(object_type="customers.customer", object_id=str(friend.pk))
    assert list(audited.values_list("action", "actor__username")) == [("create", "m")]

    for referee, given, detail in (
        (friend, "RNOTACODE", "No member of this programme has that referral code."),
        (person, code, "A member cannot refer themselves."),
        (friend, code, "This customer was already referred."),
        (friend, "  ", "Give the referrer's referral code."),
    ):
        refused = post(referee, given)
        assert (refused.status_code, refused.json()["detail"]) == (422, detail)
    # Another unit's marketer sees neither the programme nor the friend.
    other = bearer(make_user("b", Role.MARKETER, [unit_b]), "read_write")
    assert post(make_customer("韩梅梅", [unit_b]), code, other).status_code == 404
    assert Referral.objects.count() == 1


def test_a_friend_is_recorded_from_the_referrers_member_page(
    client, make_user, rewarding, person, code, unit_a
):
    from guanxi.accounts.roles import Role

    friend = make_customer("李雷", [unit_a])
    client.force_login(make_user("m", Role.MARKETER, [unit_a]))
    page_url = f"/loyalty/members/{Membership.objects.get(customer=person).pk}/"
    assert "Record a referred friend" in client.get(page_url).content.decode()

    response = client.post(
        page_url + "referral/", {"referral-referee": friend.pk, "referral-device": "iPhone"}
    )
    assert response.status_code == 302
    again = client.post(page_url + "referral/", {"referral-referee": friend.pk}, follow=True).content.decode()

    assert "This customer was already referred." in again and "1 friend referred" in again
    # A friend given by their mobile number, written as people write it.
    second = make_customer("韩梅梅", [unit_a], phone="+8613900002222")
    by_phone = client.post(page_url + "referral/", {"referral-referee": "139-0000-2222"}, follow=True)
    assert "2 friends referred" in by_phone.content.decode()
    unknown = client.post(page_url + "referral/", {"referral-referee": "13700000000"}, follow=True)
    assert "No such customer, or you may not see them." in unknown.content.decode()
    assert list(
        Referral.objects.order_by("pk").values_list("referrer_id", "referee_id", "device", "state")
    ) == [(person.pk, friend.pk, "iPhone", "pending"), (person.pk, second.pk, "", "pending")]
