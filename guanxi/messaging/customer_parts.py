"""What messaging adds to a customer: merges move their messages, suppressions, replies and
preferences; sent messages on the timeline; the messages section of the 360 page and API."""

from django.utils.translation import gettext as _

from guanxi.customers.models import TimelineEvent
from guanxi.customers.references import (
    ApiPart,
    Repoint,
    Section,
    register_reference,
    register_section,
    register_timeline_source,
)
from guanxi.customers.timeline import TimelineItem
from guanxi.messaging.fetch import customer_history, customer_messaging
from guanxi.messaging.models import ContactPreference, InboundMessage, Medium, Message, Suppression

MESSAGE_SENT = TimelineEvent.Kind.MESSAGE_SENT


def timeline_items(customer, user, limit: int) -> list[TimelineItem]:
    """Messages that went out (or may have), newest first."""
    rows = (
        Message.objects.restrict(user, "view")
        .filter(customer=customer, state__in=(*Message.ATTEMPTED_STATES, Message.State.FAILED))
        .exclude(started_at__isnull=True)
        .select_related("template")
        .order_by("-started_at", "-id")[:limit]
    )
    return [
        TimelineItem(
            occurred_at=row.started_at,
            kind=MESSAGE_SENT,
            summary=_("%(medium)s message %(state)s: %(subject)s")
            % {
                "medium": Medium(row.medium).label,
                "state": Message.State(row.state).label,
                "subject": row.subject or (row.template.name if row.template else row.source),
            },
            unit_id=row.unit_id,
            data={"medium": row.medium, "state": row.state, "purpose": row.purpose},
            source_type="messaging.message",
            source_id=str(row.pk),
        )
        for row in rows
        if row.started_at is not None
    ]


def history_for_api(user, customer) -> list[dict]:
    return [vars(view) for view in customer_history(user, customer, limit=20)]


def register() -> None:
    register_personal_data()
    from guanxi.messaging.api import MessageOut

    register_reference("messages", Message, Repoint())
    register_reference("suppressions", Suppression, Repoint())
    register_reference("inbound_messages", InboundMessage, Repoint())
    register_reference("contact_preferences", ContactPreference, Repoint(("name",), keep="-updated_at"))
    register_timeline_source("messaging", timeline_items)
    register_section(
        Section(
            key="messaging",
            template="messaging/customer_messages.html",
            fetch=customer_messaging,
            api=ApiPart(
                list[MessageOut], "The newest messages sent by units the caller may see.", history_for_api
            ),
        )
    )


def register_personal_data() -> None:
    """Declare how erasure treats this app's personal fields (guanxi.privacy; a test keeps it complete)."""
    from guanxi.customers.references import Blank, DeleteRows, NotPersonal, Retain, Scrub, register_pii
    from guanxi.messaging.models import (
        ChannelAccount,
        ContactPreference,
        InboundMessage,
        Message,
        Suppression,
        Template,
        TemplateVersion,
    )

    # The outbox is the queue: deleting the person's messages removes the payloads waiting to be sent.
    register_pii(
        Message, ["address", "address_hash", "subject", "body", "detail", "provider_message_id"], DeleteRows()
    )
    register_pii(Message, ["address", "subject", "body"], Scrub())
    register_pii(InboundMessage, ["address_hash", "masked_address", "text"], DeleteRows())
    register_pii(InboundMessage, ["text"], Scrub())
    register_pii(ContactPreference, ["value"], DeleteRows())
    register_pii(Suppression, ["masked_address"], Blank())
    register_pii(
        Suppression,
        ["address_hash"],
        Retain(
            "A peppered hash of the address keeps an erased or opted-out person from being messaged again."
        ),
    )
    register_pii(ChannelAccount, ["name"], NotPersonal("A channel's name."))
    register_pii(Template, ["name"], NotPersonal("A template's name."))
    register_pii(TemplateVersion, ["contents"], NotPersonal("A template's wording, with placeholders."))
