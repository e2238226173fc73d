"""Why a message was held, dropped, failed or left unknown: stored as a code, shown in words."""

from django.utils.translation import gettext_lazy as _

HELD = {
    "quiet_hours": _("Quiet hours in the recipient's time zone"),
    "quiet_day": _("A quiet day in the recipient's time zone"),
    "channel_paused": _("The channel is paused"),
    "transient_error": _("The provider failed for now; trying again"),
}
DROPPED = {
    "no_consent": _("No consent for this channel (no reply is refusal)"),
    "consent_withdrawn": _("Consent withdrawn"),
    "consent_expired": _("Consent evidence too old"),
    "suppressed_opt_out": _("Opted out"),
    "suppressed_hard_bounce": _("Address bounced"),
    "suppressed_complaint": _("Recipient complained"),
    "suppressed_erased": _("Personal data erased"),
    "suppressed_manual": _("Address blocked by staff"),
    "frequency_cap_day": _("Daily marketing budget used up"),
    "frequency_cap_week": _("Weekly marketing budget used up"),
    "expired": _("Not sent before it expired"),
    "no_address": _("No address for this channel"),
    "no_channel": _("No active channel for this message"),
    "no_template": _("No template for this channel"),
    "render_error": _("The template could not be rendered"),
    "customer_merged": _("The customer was merged into another profile"),
}
FAILED = {
    "provider_rejected": _("Rejected by the provider"),
    "invalid_address": _("The provider refused the address"),
    "retries_exhausted": _("The provider kept failing"),
    "delivery_failed": _("Not delivered (delivery report)"),
    "hard_bounce": _("Hard bounce"),
    "soft_bounce": _("Soft bounce"),
    "complaint": _("Recipient complained"),
    "configuration": _("The channel is not set up correctly"),
}
UNKNOWN = {
    "ambiguous_timeout": _("No answer from the provider after sending; not resent"),
    "ambiguous_crash": _("The worker stopped while sending; not resent"),
}
CANCELLED = {"cancelled": _("Cancelled")}

LABELS = {**HELD, **DROPPED, **FAILED, **UNKNOWN, **CANCELLED}


def describe(code: str) -> str:
    """The reason in the active language; an unknown code as it is."""
    return str(LABELS.get(code, code))
