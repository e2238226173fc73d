"""Retention removes what is past each data class's horizon, nothing newer, and reports it."""

import os
import time
from datetime import timedelta

import time_machine
from django.utils import timezone

from guanxi.accounts.roles import Role
from guanxi.commerce.models import Event, ImportRowError, ImportRun
from guanxi.commerce.tests.factories import make_customer, make_store
from guanxi.core import audit
from guanxi.core.models import AuditEntry
from guanxi.messaging.models import Medium, Message, Purpose
from guanxi.privacy import actions
from guanxi.privacy.models import RetentionRun
from guanxi.privacy.retention import horizons, purge


def _event(store, unit, external_id, days_ago):
    return Event.objects.create(
        store=store,
        unit=unit,
        source="web",
        external_id=external_id,
        kind=Event.Kind.BROWSE,
        occurred_at=timezone.now() - timedelta(days=days_ago),
    )


def test_nightly_purge_removes_only_what_is_past_its_horizon(client, home, unit_a, make_user):
    admin = make_user("admin", Role.SYSTEM_ADMIN)
    actions.set_retention("events", 90, actor=admin)
    actions.set_retention("messages", 60, actor=admin)
    store = make_store(unit_a, "Home flagship")
    customer = make_customer("甲", [unit_a])
    _event(store, unit_a, "old", 91)
    _event(store, unit_a, "new", 89)
    for key, days, state in (
        ("m-old", 61, Message.State.SENT),
        ("m-new", 59, Message.State.SENT),
        ("m-held", 61, Message.State.HELD),
    ):
        Message.objects.create(
            unit=unit_a,
            medium=Medium.SMS,
            customer=customer,
            address="+8613912345678",
            purpose=Purpose.TRANSACTIONAL,
            send_key=key,
            state=state,
            created_at=timezone.now() - timedelta(days=days),
        )
    # The audit log is append-only (a trigger refuses updates on both engines): written in the past.
    with time_machine.travel(timezone.now() - timedelta(days=1100)):
        old_entry = audit.record(AuditEntry.Action.LOGIN, actor=admin)
    uploads = home / "media" / "imports"
    old_folder, new_folder = uploads / "old", uploads / "new"
    for folder in (old_folder, new_folder):
        folder.mkdir(parents=True)
        (folder / "people.csv").write_text("name\n甲\n")
    stale = time.time() - 8 * 86400
    os.utime(old_folder, (stale, stale))
    run = ImportRun.objects.create(
        unit=unit_a,
        kind="customers",
        file_name="people.csv",
        sha256="1" * 64,
        created_at=timezone.now() - timedelta(days=8),
    )
    ImportRowError.objects.create(run=run, row=2, column="phone", value="139", code="x")

    result = purge()

    assert horizons() == {"events": 90, "messages": 60, "audit": 1095, "import_files": 7}
    assert result.horizons == horizons()
    assert result.purged == {"events": 1, "messages": 1, "audit": 1, "import_files": 2, "exports": 0}
    assert list(Event.objects.values_list("external_id", flat=True)) == ["new"]
    assert sorted(Message.objects.values_list("send_key", flat=True)) == ["m-held", "m-new"]
    assert not AuditEntry.objects.filter(pk=old_entry.pk).exists()
    assert (old_folder.exists(), new_folder.exists()) == (False, True)
    assert ImportRun.objects.filter(pk=run.pk).exists() and not ImportRowError.objects.exists()

    client.force_login(admin)
    page = client.get("/privacy/retention/")
    assert page.status_code == 200
    assert [numbers for _run, numbers in page.context["run_rows"]] == [[1, 1, 1, 2, 0]]
    assert RetentionRun.objects.get().finished_at is not None


def test_horizons_are_set_on_the_page_not_below_their_minimum(client, home, make_user):
    admin = make_user("admin", Role.SYSTEM_ADMIN)
    client.force_login(admin)
    client.post("/privacy/retention/", {"events": "400", "audit": "30"})
    assert horizons()["events"] == 400
    assert horizons()["audit"] == 1095
    entry = AuditEntry.objects.filter(object_type="privacy.retentionsetting").get()
    assert (entry.object_id, entry.message_code, entry.message_params) == (
        "events",
        "privacy.retention_set",
        {"data_class": "events", "days": 400},
    )
    head = make_user("head", Role.UNIT_HEAD)
    client.force_login(head)
    assert client.post("/privacy/retention/", {"events": "31"}).status_code == 403
    assert horizons()["events"] == 400
