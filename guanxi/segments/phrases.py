"""What segments writes in the audit log, as codes put into words when shown (guanxi.core.display)."""

from django.utils.translation import gettext_lazy as _

from guanxi.core.display import Phrase

RULE_CHANGED = Phrase("segments.rule_changed", _("Rule changed"))
REFRESHED = Phrase("segments.refreshed", _("Refreshed: %(entered)d entered, %(exited)d left"))
MEMBERS_ADDED = Phrase("segments.members_added", _("%(count)d customers added to the list"))
MEMBERS_REMOVED = Phrase("segments.members_removed", _("%(count)d customers removed from the list"))
