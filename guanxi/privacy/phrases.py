"""What privacy writes as codes, put into words when shown (guanxi.core.display)."""

from django.utils.translation import gettext_lazy as _

from guanxi.core.display import Phrase

EXPORT_REQUESTED = Phrase(
    "privacy.export_requested",
    _("Copy of the data of customer #%(customer)s requested (request #%(request)s)"),
)
ERASURE_REQUESTED = Phrase(
    "privacy.erasure_requested", _("Erasure of customer #%(customer)s requested (request #%(request)s)")
)
REQUEST_APPROVED = Phrase("privacy.approved", _("Privacy request #%(request)s approved"))
REQUEST_REJECTED = Phrase("privacy.rejected", _("Privacy request #%(request)s rejected"))
EXPORT_DOWNLOADED = Phrase(
    "privacy.downloaded", _("Copy of the data of customer #%(customer)s downloaded (request #%(request)s)")
)
CUSTOMER_ERASED = Phrase(
    "privacy.erased", _("Personal data of customer #%(customer)s erased (request #%(request)s)")
)
ERASURE_REPLAYED = Phrase(
    "privacy.replayed", _("Erasure of request #%(request)s replayed on customer #%(customer)s")
)
RETENTION_SET = Phrase("privacy.retention_set", _("Retention of %(data_class)s set to %(days)d days"))
RETENTION_PURGED = Phrase("privacy.retention_purged", _("Retention removed %(count)d records and files"))
EXPORT_READING = Phrase("privacy.export_reading", _("Reading %(table)s"))
ERASING = Phrase("privacy.erasing", _("Erasing"))
