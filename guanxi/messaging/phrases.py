"""What messaging stores as codes, put into words when shown (guanxi.core.display): its audit
messages."""

from django.utils.translation import gettext_lazy as _

from guanxi.core.display import Phrase
from guanxi.customers.models import Consent
from guanxi.messaging.models import ChannelKind, Medium, Purpose, Suppression

CHANNEL_SAVED = Phrase(
    "messaging.channel_saved",
    _("%(kind)s channel saved (credentials not logged)"),
    labels={"kind": ChannelKind},
)
TEST_SENT = Phrase("messaging.test_sent", _("Test send: %(outcome)s"))
PREFERENCES_SET = Phrase("messaging.preferences_set", _("Messaging preferences: %(names)s"))
TEMPLATE_VERSION = Phrase("messaging.template_version", _("Version %(number)s"))
MESSAGE_QUEUED = Phrase(
    "messaging.message_queued",
    _("%(purpose)s %(medium)s message queued"),
    labels={"purpose": Purpose, "medium": Medium},
)
BULK_QUEUED = Phrase(
    "messaging.bulk_queued",
    _("%(purpose)s send: %(created)d queued, %(existing)d already queued, %(dropped)d dropped"),
    labels={"purpose": Purpose},
)
MESSAGE_CANCELLED = Phrase("messaging.message_cancelled", _("Cancelled"))
OPTED_OUT = Phrase(
    "messaging.opted_out",
    _("%(medium)s opt-out (%(method)s, %(scope)s) for %(count)d customers"),
    labels={"medium": Medium, "method": Consent.Method, "scope": Suppression.Scope},
)

# The object kind of a bulk send's audit entry (no model): audit.object_type_label shows it.
Phrase("object.messaging.bulk_send", _("Bulk send"))
