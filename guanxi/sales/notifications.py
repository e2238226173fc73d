"""Telling sales users what needs them: a lead assigned, an activity due, a record gone stale.

`notify()` is the one way the sales app notifies anyone. Today it writes the in-app list (the
Notifications page and "My day"); when the messaging app exists it is the single place to route
them on (e-mail, WeChat), so callers never change. Texts are made from the kind and its data when
shown, in the reader's language; `data` holds record names and numbers, never personal data.
"""

from typing import Any

from django.db import models
from django.utils.translation import gettext, ngettext

from guanxi.sales.models import Notification

Kind = Notification.Kind


def notify(
    user: Any,
    kind: str,
    *,
    unit: Any = None,
    subject: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> Notification | None:
    """Notify `user` (nobody for None or an inactive user) of `kind` about `subject`. Call inside the
    writing action's transaction: a rolled-back change notifies nobody."""
    if user is None or not user.is_active:
        return None
    return Notification.objects.create(
        user=user,
        unit=unit,
        kind=kind,
        data=data or {},
        subject_type=f"{subject._meta.app_label}.{subject._meta.model_name}" if subject is not None else "",
        subject_id=str(subject.pk) if subject is not None else "",
    )


def describe(notification: Notification) -> str:
    """The notification's text in the active language."""
    data = {"name": "", "days": 0, "unit": "", "due": "", **notification.data}
    texts: dict[str, str] = {
        Kind.LEAD_ASSIGNED: gettext("A lead was assigned to you: %(name)s"),
        Kind.ACTIVITY_ASSIGNED: gettext("An activity was assigned to you: %(name)s"),
        Kind.REMINDER: gettext("Reminder: %(name)s is due %(due)s"),
        Kind.STALE: gettext("%(name)s has had no activity for %(days)d days"),
        Kind.RETURNED_TO_POOL: gettext(
            "%(name)s had no activity for %(days)d days and went back to the pool"
        ),
        Kind.TRANSFER_REQUESTED: gettext("A lead transfer to %(unit)s waits for your decision: %(name)s"),
        Kind.TRANSFER_DECIDED: gettext("Your lead transfer to %(unit)s was %(decision)s: %(name)s"),
    }
    if "count" in data and notification.kind in (Kind.STALE, Kind.RETURNED_TO_POOL):
        text = (
            ngettext(
                "%(count)d record has had no activity for %(days)d days or more",
                "%(count)d records have had no activity for %(days)d days or more",
                data["count"],
            )
            if notification.kind == Kind.STALE
            else ngettext(
                "%(count)d record had no activity for %(days)d days or more and went back to the pool",
                "%(count)d records had no activity for %(days)d days or more and went back to the pool",
                data["count"],
            )
        )
        return text % data
    if notification.kind == Kind.TRANSFER_DECIDED:
        data["decision"] = gettext("approved") if data.get("approved") else gettext("rejected")
    return texts.get(notification.kind, notification.get_kind_display()) % data
