"""The organisation's tags, tag groups and custom fields, set up under Settings and through the API
by those holding customers.configure; every change audited."""

import pytest

from guanxi.accounts.roles import Role
from guanxi.core.models import AuditEntry
from guanxi.customers import profile
from guanxi.customers.models import CustomFieldDefinition, Tag, TagGroup


@pytest.fixture
def marketer(make_user, unit_a):
    return make_user("marketer_a", Role.MARKETER, [unit_a])


def test_a_marketer_adds_a_group_and_a_tag_in_it(client, marketer):
    client.force_login(marketer)

    grouped = client.post("/customers/tags/", {"form": "group", "name": "节日", "colour": "#e64980"})
    group = TagGroup.objects.get()
    tagged = client.post(
        "/customers/tags/",
        {
            "form": "tag",
            "name": "母亲节 2027",
            "colour": "#f76707",
            "group": group.pk,
            "description": "五月营销",
        },
    )
    page = client.get("/customers/tags/")

    assert (grouped.status_code, tagged.status_code) == (302, 302)
    tag = Tag.objects.get()
    assert (tag.name, tag.colour, tag.group, tag.description) == ("母亲节 2027", "#f76707", group, "五月营销")
    assert [(t.name, t.customer_count) for t in page.context["tags"]] == [("母亲节 2027", 0)]
    assert [
        (entry.action, entry.object_type, entry.object_label)
        for entry in AuditEntry.objects.filter(actor=marketer, action="create").order_by("id")
    ] == [("create", "customers.taggroup", "节日"), ("create", "customers.tag", "母亲节 2027")]


def test_a_duplicate_tag_and_a_bad_colour_are_refused(client, marketer):
    profile.create_tag("VIP")
    client.force_login(marketer)

    response = client.post("/customers/tags/", {"form": "tag", "name": "VIP", "colour": "#f76707"})
    group = client.post("/customers/tags/", {"form": "group", "name": "X", "colour": "red"})

    assert response.context["tag_form"].errors == {"__all__": ["A tag named “VIP” already exists."]}
    assert group.context["group_form"].errors == {
        "colour": ["Use a colour written as # and six hex digits, such as #64748b."]
    }
    assert TagGroup.objects.count() == 0


def test_renaming_a_tag_keeps_it_on_its_customers_and_is_audited(client, marketer, unit_a):
    from guanxi.commerce.tests.factories import make_customer

    tag = profile.create_tag("VIP")
    customer = make_customer("甲", [unit_a])
    profile.add_tag(customer, tag)
    client.force_login(marketer)

    response = client.post(
        f"/customers/tags/{tag.pk}/", {"name": "金卡会员", "colour": "#64748b", "group": ""}
    )

    tag.refresh_from_db()
    assert response.status_code == 302
    assert tag.name == "金卡会员"
    assert list(customer.customer_tags.values_list("tag__name", flat=True)) == ["金卡会员"]
    entry = AuditEntry.objects.get(action="update", object_type="customers.tag")
    assert (entry.actor, entry.changes) == (marketer, {"name": {"from": "[redacted]", "to": "[redacted]"}})


def test_custom_fields_are_defined_relabelled_and_given_more_choices(client, marketer):
    client.force_login(marketer)

    created = client.post(
        "/customers/fields/",
        {
            "label": "肤质",
            "key": "skin_type",
            "type": "choice",
            "choices": "干性\n油性，混合性",
            "description": "",
        },
    )
    definition = CustomFieldDefinition.objects.get()
    shrunk = client.post(f"/customers/fields/{definition.pk}/", {"label": "肤质", "choices": "干性"})
    grown = client.post(
        f"/customers/fields/{definition.pk}/", {"label": "皮肤类型", "choices": "干性\n油性\n混合性\n敏感性"}
    )

    definition.refresh_from_db()
    assert created.status_code == 302
    assert shrunk.status_code == 200
    assert shrunk.context["form"].errors == {
        "__all__": ["Choices cannot be removed (customers may hold them): 油性, 混合性."]
    }
    assert grown.status_code == 302
    assert (definition.key, definition.label, definition.type, definition.choices) == (
        "skin_type",
        "皮肤类型",
        "choice",
        ["干性", "油性", "混合性", "敏感性"],
    )
    assert [
        entry.action for entry in AuditEntry.objects.filter(object_type="customers.customfielddefinition")
    ] == ["update", "create"]


@pytest.mark.parametrize("role", [Role.SERVICE_AGENT, Role.SALES_REP, Role.ANALYST])
def test_roles_without_the_permission_are_refused_and_audited(client, make_user, unit_a, role):
    tag = profile.create_tag("VIP")
    user = make_user("someone", role, [unit_a])
    client.force_login(user)

    statuses = [
        client.get("/customers/tags/").status_code,
        client.post(f"/customers/tags/{tag.pk}/", {"name": "Mine", "colour": "#000000"}).status_code,
        client.get("/customers/fields/").status_code,
    ]

    assert statuses == [403, 403, 403]
    assert Tag.objects.get().name == "VIP"
    assert AuditEntry.objects.filter(action="permission_denied", actor=user).count() == 3


def test_the_api_manages_tags_groups_and_fields(client, marketer, make_user, unit_a, bearer):
    token = bearer(marketer, scope="read_write")
    agent = bearer(make_user("agent", Role.SERVICE_AGENT, [unit_a]), scope="read_write")

    group = client.post(
        "/api/v1/tag-groups", {"name": "节日"}, content_type="application/json", headers=token
    )
    tag = client.post(
        "/api/v1/tags",
        {"name": "母亲节", "group_id": group.json()["id"]},
        content_type="application/json",
        headers=token,
    )
    moved = client.patch(
        f"/api/v1/tags/{tag.json()['id']}",
        {"group_id": 0, "colour": "#123456"},
        content_type="application/json",
        headers=token,
    )
    field = client.post(
        "/api/v1/custom-fields",
        {"key": "baby_birthday", "label": "宝宝生日", "type": "date"},
        content_type="application/json",
        headers=token,
    )
    duplicate = client.post(
        "/api/v1/custom-fields",
        {"key": "baby_birthday", "label": "X"},
        content_type="application/json",
        headers=token,
    )
    refused = client.post("/api/v1/tags", {"name": "Mine"}, content_type="application/json", headers=agent)
    listed = client.get("/api/v1/tags", headers=agent)

    assert (group.status_code, tag.status_code, moved.status_code, field.status_code) == (201, 201, 200, 201)
    assert moved.json() == {
        "id": tag.json()["id"],
        "name": "母亲节",
        "colour": "#123456",
        "group_id": None,
        "description": "",
    }
    assert field.json()["type"] == "date"
    assert duplicate.status_code == 422
    assert duplicate.json()["errors"][0]["loc"] == ["body", "key"]
    assert refused.status_code == 403
    assert [item["name"] for item in listed.json()] == ["母亲节"]
    assert list(
        AuditEntry.objects.filter(actor=marketer)
        .exclude(action="token_create")
        .order_by("id")
        .values_list("action", "object_type")
    ) == [
        ("create", "customers.taggroup"),
        ("create", "customers.tag"),
        ("update", "customers.tag"),
        ("create", "customers.customfielddefinition"),
    ]
