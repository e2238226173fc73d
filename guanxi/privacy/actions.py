"""Privacy writes: requests and their workflow, the export and erasure they lead to, the replay after
a restore, and marking a re-imported erased address as not marketable. Each owns its transaction and audits."""

from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core import audit
from guanxi.core.background import start_job
from guanxi.core.models import AuditEntry
from guanxi.customers.identities import IdentityKey
from guanxi.customers.models import Consent, ConsentChannel, Customer, Identity
from guanxi.messaging.addresses import address_hash
from guanxi.messaging.models import Medium, Suppression
from guanxi.privacy import log
from guanxi.privacy.erasure import erase_files, erase_subject
from guanxi.privacy.exporting import build_zip, collect, exports_dir, remove_export_file, save_zip
from guanxi.privacy.models import PrivacyRequest, RetentionSetting
from guanxi.privacy.phrases import (
    CUSTOMER_ERASED,
    ERASURE_REPLAYED,
    ERASURE_REQUESTED,
    EXPORT_DOWNLOADED,
    EXPORT_REQUESTED,
    REQUEST_APPROVED,
    REQUEST_REJECTED,
    RETENTION_SET,
)
from guanxi.privacy.retention import DATA_CLASSES, horizons
from guanxi.privacy.subject import subject_for

REQUEST = "privacy.request"
APPROVE = "privacy.approve"
EXPORT_JOB = "privacy.export"
ERASE_JOB = "privacy.erase"
ERASED_SOURCE = "privacy: erased address"
MEDIUM_OF_KIND: dict[str, str] = {Identity.Kind.PHONE: Medium.SMS, Identity.Kind.EMAIL: Medium.EMAIL}


def _unit_of(actor: Any) -> Any:
    return actor.only_unit() if getattr(actor, "is_authenticated", False) else None


def request_export(customer: Customer, *, actor: Any, note: str = "") -> PrivacyRequest:
    """Record a subject access request and start the job that builds the zip."""
    with transaction.atomic():
        item = PrivacyRequest.objects.create(
            kind=PrivacyRequest.Kind.EXPORT,
            state=PrivacyRequest.State.RUNNING,
            customer=customer,
            note=note[:300],
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        item.job = start_job(EXPORT_JOB, params={"request": item.pk}, started_by=actor, unit=_unit_of(actor))
        item.save(update_fields=["job"])
        audit.record(
            AuditEntry.Action.CREATE,
            actor=actor,
            obj=item,
            unit=_unit_of(actor),
            message=EXPORT_REQUESTED(customer=customer.pk, request=item.pk),
        )
    return item


def request_erasure(customer: Customer, *, actor: Any, note: str = "") -> PrivacyRequest:
    with transaction.atomic():
        item = PrivacyRequest.objects.create(
            kind=PrivacyRequest.Kind.ERASURE,
            customer=customer,
            note=note[:300],
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit.record(
            AuditEntry.Action.CREATE,
            actor=actor,
            obj=item,
            unit=_unit_of(actor),
            message=ERASURE_REQUESTED(customer=customer.pk, request=item.pk),
        )
    return item


def approve(item: PrivacyRequest, *, actor: Any) -> PrivacyRequest:
    """Approve an erasure. With GUANXI_PRIVACY_TWO_PERSON (the default) the approver must not be the
    person who recorded the request."""
    if not actor.has_permission(APPROVE):
        raise PermissionDenied(APPROVE)
    with transaction.atomic():
        item = PrivacyRequest.objects.select_for_update().get(pk=item.pk)
        if item.kind != PrivacyRequest.Kind.ERASURE or item.state != PrivacyRequest.State.RECEIVED:
            raise ValidationError(_("Only a received erasure request can be approved."), code="state")
        if settings.GUANXI_PRIVACY_TWO_PERSON and item.requested_by_id == actor.pk:
            raise ValidationError(
                _("Another person must approve an erasure you requested (two-person rule)."),
                code="same_person",
            )
        item.state = PrivacyRequest.State.APPROVED
        item.approved_by = actor
        item.approved_at = timezone.now()
        item.save(update_fields=["state", "approved_by", "approved_at"])
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=item,
            unit=_unit_of(actor),
            message=REQUEST_APPROVED(request=item.pk),
        )
    return item


def reject(item: PrivacyRequest, *, actor: Any) -> PrivacyRequest:
    if not actor.has_permission(APPROVE):
        raise PermissionDenied(APPROVE)
    with transaction.atomic():
        item = PrivacyRequest.objects.select_for_update().get(pk=item.pk)
        if item.state not in (PrivacyRequest.State.RECEIVED, PrivacyRequest.State.APPROVED):
            raise ValidationError(_("This request can no longer be rejected."), code="state")
        item.state = PrivacyRequest.State.REJECTED
        item.finished_at = timezone.now()
        item.save(update_fields=["state", "finished_at"])
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=item,
            unit=_unit_of(actor),
            message=REQUEST_REJECTED(request=item.pk),
        )
    return item


def run_erasure(item: PrivacyRequest, *, actor: Any) -> PrivacyRequest:
    """Start the erasure of an approved request as a job."""
    if not actor.has_permission(APPROVE):
        raise PermissionDenied(APPROVE)
    with transaction.atomic():
        item = PrivacyRequest.objects.select_for_update().get(pk=item.pk)
        if item.kind != PrivacyRequest.Kind.ERASURE or item.state != PrivacyRequest.State.APPROVED:
            raise ValidationError(_("Only an approved erasure request can be run."), code="state")
        item.state = PrivacyRequest.State.RUNNING
        item.job = start_job(ERASE_JOB, params={"request": item.pk}, started_by=actor, unit=_unit_of(actor))
        item.save(update_fields=["state", "job"])
    return item


def perform_export(
    item: PrivacyRequest, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Build and store the request's zip (the export job's work); rows per table."""
    if item.customer is None:
        raise ValidationError(_("The customer of this request no longer exists."), code="gone")
    subject = subject_for(item.customer)
    data = collect(subject, progress)
    path = save_zip(build_zip(subject, data))
    counts = {label: len(rows) for label, rows in data.items()}
    PrivacyRequest.objects.filter(pk=item.pk).update(
        state=PrivacyRequest.State.DONE,
        file=path,
        counts=counts,
        finished_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=settings.GUANXI_PRIVACY_EXPORT_DAYS),
    )
    return counts


def perform_erasure(item: PrivacyRequest, *, actor: Any = None) -> dict[str, int]:
    """Erase the request's customer (the erasure job's work): logged first, so a crash or a restore
    afterwards is put right by `guanxi privacy replay`; rows per table."""
    if item.customer is None:
        raise ValidationError(_("The customer of this request no longer exists."), code="gone")
    subject = subject_for(item.customer)
    log.append(item.pk, subject, log.subject_hashes(subject))
    counts = _erase(subject, source=f"privacy request #{item.pk}")
    with transaction.atomic():
        PrivacyRequest.objects.filter(pk=item.pk).update(
            state=PrivacyRequest.State.DONE, counts=counts, finished_at=timezone.now(), note=""
        )
        audit.record(
            AuditEntry.Action.ERASE,
            actor=actor,
            object_type="customers.customer",
            object_id=str(item.customer_id),
            message=CUSTOMER_ERASED(customer=item.customer_id, request=item.pk),
        )
    return counts


def _erase(subject, *, source: str) -> dict[str, int]:
    counts = erase_subject(subject, source=source)
    exported = PrivacyRequest.objects.filter(customer_id__in=subject.customer_ids).exclude(file="")
    for path in exported.values_list("file", flat=True):
        remove_export_file(path)
    counts["exports removed"] = exported.update(file="", expires_at=None)
    counts["files"] = erase_files(subject)
    return {key: value for key, value in counts.items() if value}


def replay(*, actor: Any = None) -> list[tuple[int, int]]:
    """Erase again everyone the erasure log names who is back in the database (after a restore);
    (request, customer) pairs erased."""
    done = []
    for entry, customer_ids in log.customers_to_erase_again():
        for customer in Customer.objects.filter(pk__in=customer_ids).order_by("pk"):
            subject = subject_for(customer)
            if (
                not subject.tokens()
                and not Identity.objects.filter(customer_id__in=subject.customer_ids).exists()
            ):
                continue  # erased already
            _erase(subject, source=f"privacy request #{entry.request}")
            PrivacyRequest.objects.filter(pk=entry.request).update(state=PrivacyRequest.State.DONE, note="")
            audit.record(
                AuditEntry.Action.ERASE,
                actor=actor,
                object_type="customers.customer",
                object_id=str(customer.pk),
                message=ERASURE_REPLAYED(request=entry.request, customer=customer.pk),
            )
            done.append((entry.request, customer.pk))
    return done


def export_file(item: PrivacyRequest, *, actor: Any, request: Any = None) -> Path:
    """The zip of a finished, unexpired export, its download audited."""
    if (
        item.kind != PrivacyRequest.Kind.EXPORT
        or item.state != PrivacyRequest.State.DONE
        or not item.file
        or (item.expires_at is not None and item.expires_at <= timezone.now())
    ):
        raise ValidationError(_("This export is not available for download."), code="unavailable")
    path = exports_dir() / item.file
    if not path.resolve().is_relative_to(exports_dir().resolve()) or not path.is_file():
        raise ValidationError(_("This export is not available for download."), code="unavailable")
    audit.record(
        AuditEntry.Action.EXPORT,
        actor=actor,
        obj=item,
        unit=_unit_of(actor),
        ip_address=audit.client_address(request) if request is not None else None,
        message=EXPORT_DOWNLOADED(customer=item.customer_id, request=item.pk),
    )
    return path


def erased_identities(identities: Mapping[IdentityKey, int]) -> None:
    """Identity listener: a profile that receives an erased phone or e-mail (a re-import, a webhook)
    is not marketable: the address is suppressed by hash already; this records the withdrawal as
    consent evidence on the new profile, so pages and segments show it."""
    wanted: dict[tuple[str, str], set[int]] = {}
    for key, customer_id in identities.items():
        medium = MEDIUM_OF_KIND.get(key.kind)
        if medium is not None:
            wanted.setdefault((medium, address_hash(medium, key.value)), set()).add(customer_id)
    if not wanted:
        return
    hits = Suppression.objects.filter(
        reason=Suppression.Reason.ERASED, address_hash__in=[digest for _medium, digest in wanted]
    ).values_list("medium", "address_hash")
    customer_ids = sorted({pk for hit in hits for pk in wanted.get(hit, ())})
    if not customer_ids:
        return
    now = timezone.now()
    Consent.objects.bulk_create(
        [
            Consent(
                customer_id=pk,
                channel=channel,
                state=Consent.State.WITHDRAWN,
                recorded_at=now,
                method=Consent.Method.IMPORT,
                source=ERASED_SOURCE,
            )
            for pk in customer_ids
            for channel in ConsentChannel.values
        ]
    )


def set_retention(data_class: str, days: int, *, actor: Any) -> None:
    """Keep `data_class` for `days` (at least its minimum), overriding GUANXI_RETENTION_DAYS."""
    if not actor.has_permission(APPROVE):
        raise PermissionDenied(APPROVE)
    item = next(item for item in DATA_CLASSES if item.key == data_class)
    if days < item.minimum_days:
        raise ValidationError(
            _("%(what)s must be kept at least %(days)d days."),
            code="too_short",
            params={"what": item.label, "days": item.minimum_days},
        )
    if horizons()[data_class] == days:
        return
    with transaction.atomic():
        RetentionSetting.objects.update_or_create(
            data_class=data_class, defaults={"days": days, "updated_by": actor}
        )
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            object_type="privacy.retentionsetting",
            object_id=data_class,
            message=RETENTION_SET(data_class=data_class, days=days),
        )
