"""What marketing stores as codes, put into words when shown (guanxi.core.display): its audit messages."""

from django.utils.translation import gettext_lazy as _

from guanxi.core.display import Phrase

FLOW_SAVED = Phrase("marketing.flow_saved", _("Flow saved"))
FLOW_PUBLISHED = Phrase("marketing.flow_published", _("Flow version %(version)d published"))
FLOW_SWITCHED_ON = Phrase("marketing.flow_switched_on", _("Flow switched on"))
FLOW_PAUSED = Phrase("marketing.flow_paused", _("Flow paused"))
FLOW_DRAFTED = Phrase("marketing.flow_drafted", _("Flow set back to draft"))
JOURNEYS_INSTALLED = Phrase("marketing.journeys_installed", _("%(count)d built-in journeys installed"))
CAMPAIGN_SAVED = Phrase("marketing.campaign_saved", _("Campaign saved"))
CAMPAIGN_SUBMITTED = Phrase("marketing.campaign_submitted", _("Campaign submitted for approval"))
CAMPAIGN_APPROVED = Phrase("marketing.campaign_approved", _("Campaign approved and scheduled"))
CAMPAIGN_SENT = Phrase(
    "marketing.campaign_sent", _("Campaign sent: %(messages)d messages, %(coupons)d coupons")
)
SETTINGS_SAVED = Phrase(
    "marketing.settings_saved", _("Marketing settings saved: global holdout %(percent)s %%")
)
