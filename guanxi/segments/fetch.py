"""Read models of segments for pages, endpoints and exports."""

from django.utils.translation import gettext as _

from guanxi.core import exports
from guanxi.core.privacy import mask_value
from guanxi.segments.actions import current_members
from guanxi.segments.models import Segment


def members_table(user, segment: Segment) -> exports.Table:
    masked = not user.has_permission("pii.view")
    rows = (
        current_members(user, segment)
        .select_related("customer")
        .order_by("customer_id")
        .values_list(
            "customer_id",
            "customer__name",
            "customer__gender",
            "customer__province",
            "customer__city",
            "entered_at",
        )
    )
    return exports.Table(
        name=f"segment-{segment.pk}",
        title=segment.name,
        columns=(_("Customer"), _("Name"), _("Gender"), _("Province"), _("City"), _("Entered")),
        rows=tuple(
            (pk, mask_value(name, "name") if masked else name, gender, province, city, entered)
            for pk, name, gender, province, city, entered in rows
        ),
    )
