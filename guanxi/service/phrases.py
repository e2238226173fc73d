"""What service stores as codes, put into words when shown (guanxi.core.display): its audit messages."""

from django.utils.translation import gettext_lazy as _

from guanxi.core.display import Phrase
from guanxi.service.models import (
    AssignmentMode,
    FollowUp,
    Priority,
    Status,
    Survey,
    TicketChannel,
    TicketType,
)

TICKET_OPENED = Phrase(
    "service.ticket_opened",
    _("%(type)s ticket opened by %(channel)s"),
    labels={"type": TicketType, "channel": TicketChannel},
)
TICKET_ASSIGNED = Phrase("service.ticket_assigned", _("Assigned to user #%(user)s"))
TICKET_UNASSIGNED = Phrase("service.ticket_unassigned", _("Put back in the queue"))
TICKET_STATUS = Phrase("service.ticket_status", _("%(old)s → %(new)s"), labels={"old": Status, "new": Status})
TICKET_PRIORITY = Phrase("service.ticket_priority", _("Priority %(priority)s"), labels={"priority": Priority})
TICKET_REPLIED = Phrase("service.ticket_replied", _("Reply sent to the customer"))
TICKET_NOTE = Phrase("service.ticket_note", _("Internal note added"))
TRANSFER_REQUESTED = Phrase("service.transfer_requested", _("Transfer to unit #%(unit)s requested"))
TRANSFER_APPROVED = Phrase("service.transfer_approved", _("Transfer approved for the %(side)s unit"))
TRANSFER_DONE = Phrase("service.transfer_done", _("Transferred from unit #%(source)s to unit #%(target)s"))
TRANSFER_REJECTED = Phrase("service.transfer_rejected", _("Transfer rejected"))
SETTINGS_SAVED = Phrase(
    "service.settings_saved", _("Service desk settings saved (%(mode)s)"), labels={"mode": AssignmentMode}
)
POLICY_SAVED = Phrase(
    "service.policy_saved",
    _("SLA %(type)s / %(priority)s: first response %(first)d min, resolution %(resolution)d min"),
    labels={"type": TicketType, "priority": Priority},
)
HOLIDAY_SET = Phrase("service.holiday_set", _("Calendar day %(day)s set"))
HOLIDAY_REMOVED = Phrase("service.holiday_removed", _("Calendar day %(day)s removed"))
HOLIDAYS_LOADED = Phrase("service.holidays_loaded", _("China's %(year)s holidays loaded: %(count)d days"))
SHIFT_CHANGED = Phrase("service.shift_changed", _("On shift: %(on)s"))
FOLLOW_UP_PLANNED = Phrase(
    "service.follow_up_planned", _("Follow-up planned (%(reason)s)"), labels={"reason": FollowUp.Reason}
)
FOLLOW_UP_DONE = Phrase(
    "service.follow_up_done", _("Follow-up done: %(outcome)s"), labels={"outcome": FollowUp.Outcome}
)
SURVEY_SENT = Phrase("service.survey_sent", _("%(kind)s survey sent"), labels={"kind": Survey.Kind})
CANNED_SAVED = Phrase("service.canned_saved", _("Canned reply saved"))
