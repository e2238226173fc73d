"""The audit log is read in the reader's language: messages stored as codes are put into words when
shown, model names and changed fields by their translated names; entries written before messages
were coded are shown as they were stored."""

from django.test import override_settings

from guanxi.core import audit
from guanxi.core.models import AuditEntry
from guanxi.customers import profile


@override_settings(LANGUAGE_CODE="zh-hans")
def test_the_audit_page_speaks_the_readers_language(client, admin_user, unit_a):
    field = profile.create_custom_field("skin_type", "肤质", actor=admin_user)
    profile.update_custom_field(field, label="皮肤类型", actor=admin_user)
    AuditEntry.objects.create(action=AuditEntry.Action.UPDATE, actor_name="old", message="tag 3 added")
    client.force_login(admin_user)

    response = client.get("/audit/")

    rows = {entry.pk: entry for entry in response.context["page"].object_list}
    created, updated = AuditEntry.objects.filter(object_type="customers.customfielddefinition").order_by("id")
    legacy = AuditEntry.objects.get(actor_name="old")
    assert rows[created.pk].object_type_label == "自定义字段"
    assert rows[updated.pk].changed_field_labels == ["显示名"]
    assert rows[legacy.pk].details == "tag 3 added"
    body = response.content.decode()
    assert ">自定义字段<" in body
    assert "显示名" in body


@override_settings(LANGUAGE_CODE="zh-hans")
def test_a_coded_message_is_worded_when_shown_in_either_language(client, admin_user, unit_a):
    entry = audit.record(AuditEntry.Action.CREATE, actor=admin_user, obj=unit_a, message=audit_phrase(unit_a))
    client.force_login(admin_user)

    chinese = client.get("/audit/").content.decode()
    client.cookies["django_language"] = "en"
    english = client.get("/audit/").content.decode()

    assert (entry.message_code, entry.message_params, entry.message) == (
        "accounts.unit_created",
        {"code": "home", "time_zone": "Asia/Shanghai"},
        "",
    )
    assert "业务板块 home，时区 Asia/Shanghai" in chinese
    assert "Business unit home, time zone Asia/Shanghai" in english


def audit_phrase(unit):
    from guanxi.accounts.phrases import UNIT_CREATED

    return UNIT_CREATED(code=unit.code, time_zone=unit.time_zone)
