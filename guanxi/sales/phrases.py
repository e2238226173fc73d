"""What sales stores as codes, put into words when shown (guanxi.core.display): its audit messages."""

from django.utils.translation import gettext_lazy as _

from guanxi.core.display import Phrase
from guanxi.sales.models import Activity, Lead

CONTACT_ADDED = Phrase("sales.contact_added", _("Contact of account #%(account)s"))
STAGE_MOVED_EARLIER = Phrase("sales.stage_moved_earlier", _("Stage moved earlier"))
STAGE_MOVED_LATER = Phrase("sales.stage_moved_later", _("Stage moved later"))
QUOTA_SET = Phrase("sales.quota_set", _("Quota %(amount)s %(currency)s"))
PRODUCT_LINE_ADDED = Phrase("sales.product_line_added", _("Product line #%(line)s added"))
PRODUCT_LINE_REMOVED = Phrase("sales.product_line_removed", _("Product line removed"))
COMPETITOR_SET = Phrase("sales.competitor_set", _("Competitor #%(competitor)s recorded"))
COMPETITOR_REMOVED = Phrase("sales.competitor_removed", _("Competitor removed"))
LEAD_CAPTURED = Phrase("sales.lead_captured", _("Lead from %(source)s"), labels={"source": Lead.Source})
LEAD_CONVERTED = Phrase(
    "sales.lead_converted",
    _("Converted: account #%(account)s, contact #%(contact)s, opportunity #%(opportunity)s"),
)
LEAD_TRANSFERRED = Phrase("sales.lead_transferred", _("Transferred across units"))
FLAGGED_STALE = Phrase(
    "sales.flagged_stale", _("%(count)d flagged stale after %(days)d days without activity")
)
FLAGGED_STALE_TO_POOL = Phrase(
    "sales.flagged_stale_to_pool",
    _("%(count)d flagged stale after %(days)d days without activity, %(returned)d returned to the pool"),
)
ACTIVITY_LOGGED = Phrase("sales.activity_logged", _("%(kind)s logged"), labels={"kind": Activity.Kind})
