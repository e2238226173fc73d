"""Retention: each data class is kept for a horizon (GUANXI_RETENTION_DAYS, or the retention page's
setting), and the nightly job removes what is older, recording what it removed (RetentionRun).

- events: behavioural events (commerce.Event) by when they happened;
- messages: finished outbox messages (with their delivery reports) and inbound replies;
- audit: audit entries (the only deletion of the append-only log, at the horizon's end);
- import_files: uploaded import files and the row errors that quote their cells.
Expired subject access exports are removed on every run whatever the horizons.
"""

import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.commerce.models import Event, ImportRowError, ImportRun
from guanxi.commerce.uploads import IMPORT_JOB, uploads_dir
from guanxi.core import audit
from guanxi.core.models import Job
from guanxi.messaging.models import InboundMessage, Message
from guanxi.privacy.exporting import remove_export_file
from guanxi.privacy.models import PrivacyRequest, RetentionRun, RetentionSetting

BATCH = 5000


@dataclass(frozen=True)
class DataClass:
    key: str
    label: Any
    minimum_days: int


DATA_CLASSES = (
    DataClass("events", _("Behavioural events"), 30),
    DataClass("messages", _("Messages and replies"), 30),
    # The Cybersecurity Law (网络安全法 art. 21) asks for network logs kept at least six months.
    DataClass("audit", _("Audit log"), 180),
    DataClass("import_files", _("Uploaded import files and their row errors"), 1),
)
CLASS_KEYS = [item.key for item in DATA_CLASSES]


def horizons() -> dict[str, int]:
    """Days each data class is kept: the page's setting, else GUANXI_RETENTION_DAYS."""
    found = dict(settings.GUANXI_RETENTION_DAYS)
    found.update(dict(RetentionSetting.objects.values_list("data_class", "days")))
    return {key: found[key] for key in CLASS_KEYS}


def purge(now: Any = None) -> RetentionRun:
    """Remove everything past its horizon; the run records how much of each class went."""
    now = now or timezone.now()
    days = horizons()
    run = RetentionRun.objects.create(started_at=now, horizons=days)
    cutoff = {key: now - timedelta(days=value) for key, value in days.items()}
    purged = {
        "events": _delete(Event.objects.filter(occurred_at__lt=cutoff["events"])),
        "messages": _delete(
            Message.objects.filter(created_at__lt=cutoff["messages"]).exclude(
                state__in=Message.PENDING_STATES
            )
        )
        + _delete(InboundMessage.objects.filter(received_at__lt=cutoff["messages"])),
        # The one deletion the append-only log allows, through the door it keeps for it (ADR 0041).
        "audit": audit.purge_before(cutoff["audit"]),
        "import_files": _remove_uploads(now, days["import_files"])
        + _delete(
            ImportRowError.objects.filter(
                run__in=ImportRun.objects.filter(created_at__lt=cutoff["import_files"])
            )
        ),
        "exports": _remove_expired_exports(now),
    }
    RetentionRun.objects.filter(pk=run.pk).update(purged=purged, finished_at=timezone.now())
    run.refresh_from_db()
    return run


def _delete(queryset: models.QuerySet) -> int:
    """Delete in batches of primary keys, so a first run on a large table holds no lock for long."""
    removed = 0
    while True:
        batch = list(queryset.values_list("pk", flat=True)[:BATCH])
        if not batch:
            return removed
        with transaction.atomic():
            queryset.filter(pk__in=batch).delete()
        removed += len(batch)


def _remove_uploads(now: Any, days: int) -> int:
    root = uploads_dir()
    if not root.is_dir():
        return 0
    cutoff = now.timestamp() - days * 86400
    in_use = {
        Path(str(params.get("path", ""))).parent.name
        for params in Job.objects.filter(
            kind=IMPORT_JOB, state__in=[Job.State.QUEUED, Job.State.RUNNING]
        ).values_list("params", flat=True)
    }
    removed = 0
    for folder in root.iterdir():
        if folder.is_dir() and folder.name not in in_use and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _remove_expired_exports(now: Any) -> int:
    expired = PrivacyRequest.objects.filter(expires_at__lte=now).exclude(file="")
    paths = list(expired.values_list("file", flat=True))
    for path in paths:
        remove_export_file(path)
    expired.update(file="")
    return len(paths)
