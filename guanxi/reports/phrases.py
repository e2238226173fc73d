"""What the reports app stores as codes, put into words when shown (guanxi.core.display): its audit messages."""

from django.utils.translation import gettext_lazy as _

from guanxi.core.display import Phrase
from guanxi.reports.models import Frequency


def _report(slug: str) -> str:
    from guanxi.reports.catalogue import BY_SLUG

    report = BY_SLUG.get(slug)
    return str(report.title) if report else slug


DELIVERY_SCHEDULED = Phrase(
    "reports.delivery_scheduled",
    _("Report “%(report)s” scheduled: %(frequency)s"),
    labels={"report": _report, "frequency": Frequency},
)
DELIVERY_CANCELLED = Phrase(
    "reports.delivery_cancelled", _("Scheduled report “%(report)s” cancelled"), labels={"report": _report}
)
DELIVERY_SENT = Phrase(
    "reports.delivery_sent",
    _("Report “%(report)s” sent to %(recipients)d people"),
    labels={"report": _report},
)
TARGET_SET = Phrase("reports.target_set", _("Annual sales target for %(year)s set to %(amount)s"))
TARGET_REMOVED = Phrase("reports.target_removed", _("Annual sales target for %(year)s removed"))
