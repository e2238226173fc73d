"""Every write of the messaging app. Other apps send through `enqueue_message` / `enqueue_many` /
`start_bulk_send` and read with `guanxi.messaging.fetch.customer_history`.

Each function owns its transaction and audits what a person did; messages are woken on commit.
"""

import re
import secrets as random_secrets
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from guanxi.accounts.models import BusinessUnit
from guanxi.core import audit
from guanxi.core.background import start_job
from guanxi.core.models import AuditEntry, Job
from guanxi.core.outbound import BlockedError, NotSentError, check_url
from guanxi.customers import profile as customer_profile
from guanxi.customers.models import Consent, Customer
from guanxi.messaging import addresses, credentials, gates, phrases, rendering
from guanxi.messaging.channels.base import Outgoing, TestResult
from guanxi.messaging.channels.registry import KINDS, adapter_for
from guanxi.messaging.models import (
    MEDIUM_OF_KIND,
    ChannelAccount,
    ChannelKind,
    ContactPreference,
    DeliveryReport,
    InboundMessage,
    Medium,
    Message,
    MessagingPolicy,
    Purpose,
    Suppression,
    Template,
    TemplateVersion,
)
from guanxi.messaging.tasks import wake_senders
from guanxi.messaging.variables import load_variables

BEST = "best"
# The order "best channel" tries media in; a customer's preferred medium goes first.
BEST_ORDER = (Medium.WECHAT, Medium.SMS, Medium.EMAIL)
UNSUBSCRIBE_SALT = "guanxi.messaging.unsubscribe"
HOOK_SALT = "guanxi.messaging.hook"
ENQUEUE_BATCH = 1000
OPT_OUT_WORDS = frozenset({"TD", "T", "退订", "STOP", "UNSUBSCRIBE", "N"})
State = Message.State


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValidationError(message)


# --- channels ------------------------------------------------------------------------------------


def _clean_settings(kind: str, values: Mapping[str, Any], keep_secrets: dict[str, Any]) -> tuple[dict, dict]:
    """Split submitted values into settings and secrets, checking required ones and URLs."""
    spec = KINDS[kind]
    plain: dict[str, Any] = {}
    hidden: dict[str, Any] = dict(keep_secrets)
    for setting in spec.settings:
        value = values.get(setting.name, setting.default)
        if setting.kind == "bool":
            value = value in (True, "true", "on", "1", 1)
        elif setting.kind == "number" and value not in ("", None):
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise ValidationError(
                    _("%(setting)s must be a number.") % {"setting": setting.label}
                ) from None
        elif isinstance(value, str):
            value = value.strip()
        if setting.secret:
            if value:
                hidden[setting.name] = value
            elif setting.required and not hidden.get(setting.name):
                raise ValidationError(_("%(setting)s is required.") % {"setting": setting.label})
            continue
        if setting.required and value in ("", None):
            raise ValidationError(_("%(setting)s is required.") % {"setting": setting.label})
        if setting.kind == "choice" and value not in {choice for choice, _label in setting.choices}:
            raise ValidationError(_("Choose a valid %(setting)s.") % {"setting": setting.label})
        plain[setting.name] = value
    for name in spec.url_settings:
        if plain.get(name):
            try:
                check_url(plain[name])
            except BlockedError as error:
                raise ValidationError(str(error)) from None
            except NotSentError:
                pass  # not resolvable from here now: every send checks again
    return plain, hidden


@transaction.atomic
def save_channel(
    *,
    unit: BusinessUnit,
    name: str,
    kind: str,
    values: Mapping[str, Any],
    channel: ChannelAccount | None = None,
    is_active: bool = True,
    actor: Any = None,
) -> ChannelAccount:
    """Create or change a channel account; secrets left empty keep their stored value."""
    _check(kind in ChannelKind.values, _("Unknown channel kind."))
    name = name.strip()
    _check(bool(name), _("A channel needs a name."))
    kept = credentials.decrypt(channel.unit_id, channel.secrets) if channel and channel.kind == kind else {}
    plain, hidden = _clean_settings(kind, values, kept)
    if ChannelAccount.objects.filter(unit=unit, name=name).exclude(pk=channel.pk if channel else 0).exists():
        raise ValidationError(_("This unit already has a channel named “%(name)s”.") % {"name": name})
    created = channel is None
    channel = channel or ChannelAccount(unit=unit)
    channel.unit, channel.name, channel.kind, channel.is_active = unit, name, kind, is_active
    channel.settings = plain
    channel.secrets = credentials.encrypt(unit.pk, hidden)
    channel.updated_at = timezone.now()
    channel.save()
    audit.record(
        AuditEntry.Action.CREATE if created else AuditEntry.Action.UPDATE,
        actor=actor,
        obj=channel,
        unit=unit,
        message=phrases.CHANNEL_SAVED(kind=kind),
    )
    return channel


def test_channel(channel: ChannelAccount, address: str, *, actor: Any = None) -> TestResult:
    """Send one test message now, outside the outbox (nothing about a customer is involved)."""
    try:
        target = addresses.normalise(channel.medium, address) if channel.medium != Medium.WEBHOOK else address
    except ValidationError as error:
        return TestResult(False, " ".join(error.messages))
    if channel.kind == ChannelKind.WEBHOOK:
        target = channel.settings.get("url", "")
    policy = gates.policies([channel.unit_id])[channel.unit_id]
    body = _("This is a test message from Guanxi CRM.")
    message = Outgoing(
        send_key=f"test:{channel.pk}:{random_secrets.token_hex(8)}",
        address=target,
        subject=_("Guanxi test message"),
        body=rendering.sms_text(policy.sms_signature, body) if channel.medium == Medium.SMS else body,
        fields={"first": body, "thing1": body}
        if channel.kind == ChannelKind.WECHAT_TEMPLATE
        else {"content": body},
        provider_template=channel.settings.get("test_template", ""),
        purpose=Purpose.TRANSACTIONAL,
    )
    try:
        adapter = adapter_for(
            channel.kind, channel.settings, credentials.decrypt(channel.unit_id, channel.secrets)
        )
        try:
            result = adapter.send(message)
        finally:
            adapter.close()
    except Exception as error:  # a test send reports every failure to the person testing
        return TestResult(False, f"{type(error).__name__}: {error}")
    audit.record(
        AuditEntry.Action.UPDATE,
        actor=actor,
        obj=channel,
        unit=channel.unit,
        message=phrases.TEST_SENT(outcome=str(result.outcome)),
    )
    ok = result.outcome.value == "sent"
    return TestResult(
        ok, result.provider_id if ok else (result.detail or result.reason), {"outcome": result.outcome.value}
    )


# --- policy and preferences ---------------------------------------------------------------------


@transaction.atomic
def save_policy(
    unit: BusinessUnit,
    *,
    quiet_start: time,
    quiet_end: time,
    quiet_weekdays: Sequence[int] = (),
    daily_cap: int,
    weekly_cap: int,
    consent_max_age_days: int | None = None,
    sms_signature: str = "",
    actor: Any = None,
) -> MessagingPolicy:
    _check(
        all(1 <= day <= 7 for day in quiet_weekdays), _("Quiet days are weekdays 1 (Monday) to 7 (Sunday).")
    )
    _check(0 <= daily_cap <= weekly_cap, _("The daily budget cannot exceed the weekly one."))
    _check(
        len(sms_signature.strip()) <= 12 and "【" not in sms_signature,
        _("An SMS signature is up to 12 characters, without 【】."),
    )
    policy, _created = MessagingPolicy.objects.get_or_create(unit=unit)
    before = {
        field: getattr(policy, field) for field in ("quiet_start", "quiet_end", "daily_cap", "weekly_cap")
    }
    policy.quiet_start, policy.quiet_end = quiet_start, quiet_end
    policy.quiet_weekdays = sorted(set(quiet_weekdays))
    policy.daily_cap, policy.weekly_cap = daily_cap, weekly_cap
    policy.consent_max_age_days = consent_max_age_days
    policy.sms_signature = sms_signature.strip()
    policy.updated_at = timezone.now()
    policy.save()
    changes = {
        field: (before[field], getattr(policy, field))
        for field in before
        if before[field] != getattr(policy, field)
    }
    audit.record(
        AuditEntry.Action.UPDATE,
        actor=actor,
        unit=unit,
        object_type="messaging.policy",
        object_id=str(unit.pk),
        changes=changes,
    )
    return policy


@transaction.atomic
def set_contact_preferences(customer: Customer, *, actor: Any = None, **values: str) -> None:
    """time_zone (IANA), language (zh-hans/en) and medium (sms/email/wechat); "" clears one."""
    for name, value in values.items():
        _check(name in ContactPreference.Name.values, _("Unknown preference %(name)s.") % {"name": name})
        value = (value or "").strip()
        if name == ContactPreference.Name.TIME_ZONE and value:
            _check(
                gates.zone_of(value).key == value, _("“%(zone)s” is not an IANA time zone.") % {"zone": value}
            )
        if name == ContactPreference.Name.LANGUAGE and value:
            _check(value in rendering.LANGUAGES, _("Choose zh-hans or en."))
        if name == ContactPreference.Name.MEDIUM and value:
            _check(value in BEST_ORDER, _("Choose SMS, email or WeChat."))
        if value:
            ContactPreference.objects.update_or_create(
                customer=customer, name=name, defaults={"value": value, "updated_at": timezone.now()}
            )
        else:
            ContactPreference.objects.filter(customer=customer, name=name).delete()
    audit.record(
        AuditEntry.Action.UPDATE,
        actor=actor,
        obj=customer,
        message=phrases.PREFERENCES_SET(names=", ".join(sorted(values))),
    )


# --- templates -----------------------------------------------------------------------------------


class TemplateProblemsError(ValidationError):
    def __init__(self, problems: list[rendering.Problem]) -> None:
        super().__init__([problem.message for problem in problems])
        self.problems = problems


@transaction.atomic
def save_template(
    *,
    key: str,
    name: str,
    medium: str,
    purpose: str,
    contents: Mapping[str, Mapping[str, Any]],
    unit: BusinessUnit | None = None,
    provider_template: str = "",
    template: Template | None = None,
    actor: Any = None,
) -> Template:
    """Create a template or save a new version of it; refused (TemplateProblemsError) when any language has a
    problem, so a version that cannot render never exists."""
    _check(medium in Medium.values and purpose in Purpose.values, _("Unknown channel or purpose."))
    _check(
        bool(re.fullmatch(r"[-a-z0-9_]{1,64}", key or "")), _("A key is lowercase letters, digits, - and _.")
    )
    _check(bool(name.strip()), _("A template needs a name."))
    cleaned = {
        language: {
            "subject": str(values.get("subject") or ""),
            "body": str(values.get("body") or ""),
            "fields": {str(k): str(v) for k, v in (values.get("fields") or {}).items() if str(k).strip()},
        }
        for language, values in contents.items()
        if (values or {}).get("body")
    }
    problems = rendering.check(medium, purpose, cleaned, provider_template=provider_template)
    if problems:
        raise TemplateProblemsError(problems)
    clash = Template.objects.filter(unit=unit, key=key, medium=medium).exclude(
        pk=template.pk if template else 0
    )
    _check(not clash.exists(), _("A template with this key already exists for this channel."))
    created = template is None
    template = template or Template(unit=unit, key=key, medium=medium)
    template.key, template.name, template.medium, template.purpose = key, name.strip(), medium, purpose
    template.unit = unit
    template.updated_at = timezone.now()
    template.save()
    number = (template.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    version = TemplateVersion.objects.create(
        template=template,
        number=number,
        contents=cleaned,
        provider_template=provider_template.strip(),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    template.current_version = version
    template.save(update_fields=["current_version"])
    audit.record(
        AuditEntry.Action.CREATE if created else AuditEntry.Action.UPDATE,
        actor=actor,
        obj=template,
        unit=unit,
        message=phrases.TEMPLATE_VERSION(number=number),
    )
    return template


def find_template(unit: BusinessUnit, key: str, medium: str) -> Template | None:
    """The unit's template with this key and medium, else the organisation-wide one."""
    candidates = Template.objects.filter(Q(unit=unit) | Q(unit__isnull=True), key=key, medium=medium)
    found = {template.unit_id: template for template in candidates.select_related("current_version")}
    return found.get(unit.pk) or found.get(None)


# --- enqueueing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enqueued:
    message: Message
    created: bool


@dataclass(frozen=True)
class BulkResult:
    created: int
    existing: int
    dropped: int


def unsubscribe_url(send_key: str) -> str:
    token = signing.dumps(send_key, salt=UNSUBSCRIBE_SALT, compress=True)
    return settings.GUANXI_PUBLIC_URL.rstrip("/") + reverse("messaging_public:unsubscribe", args=[token])


def hook_token(channel: ChannelAccount) -> str:
    return signing.dumps(channel.pk, salt=HOOK_SALT)


def hook_url(channel: ChannelAccount, what: str) -> str:
    return settings.GUANXI_PUBLIC_URL.rstrip("/") + reverse(
        f"messaging_public:{what}", args=[hook_token(channel)]
    )


def _full_key(send_key: str, customer_id: int | None, user_id: int | None, channel: str) -> str:
    _check(bool(send_key) and len(send_key) <= 200, _("A send key of 1 to 200 characters is required."))
    recipient = f"c{customer_id}" if customer_id else (f"u{user_id}" if user_id else "-")
    return f"{send_key}:{recipient}:{channel}"


def _channels(unit: BusinessUnit) -> dict[str, ChannelAccount]:
    """The unit's first active channel account per medium."""
    chosen: dict[str, ChannelAccount] = {}
    for channel in ChannelAccount.objects.filter(unit=unit, is_active=True).order_by("name", "pk"):
        chosen.setdefault(channel.medium, channel)
    return chosen


def _preferences(customer_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    found: dict[int, dict[str, str]] = {}
    for customer_id, name, value in ContactPreference.objects.filter(
        customer_id__in=customer_ids
    ).values_list("customer_id", "name", "value"):
        found.setdefault(customer_id, {})[name] = value
    return found


@dataclass
class _Plan:
    """What is decided for one recipient before the row is written."""

    medium: str
    channel: ChannelAccount | None = None
    address: str = ""
    template: Template | None = None
    language: str = rendering.DEFAULT_LANGUAGE
    reason: str = ""
    subject: str = ""
    body: str = ""
    fields: dict | None = None


def _best_media(preferred: str, purpose: str) -> list[str]:
    order: list[str] = [
        medium for medium in BEST_ORDER if not (medium == Medium.WECHAT and purpose == Purpose.MARKETING)
    ]
    if preferred in order:
        order.remove(preferred)
        order.insert(0, preferred)
    return order


def _consenting(customer_ids: Sequence[int]) -> set[tuple[int, str]]:
    """(customer, consent channel) whose newest evidence grants consent."""
    newest: dict[tuple[int, str], str] = {}
    for customer_id, channel, state in (
        Consent.objects.filter(customer_id__in=customer_ids)
        .order_by("customer_id", "channel", "-recorded_at", "-id")
        .values_list("customer_id", "channel", "state")
    ):
        newest.setdefault((customer_id, channel), state)
    return {key for key, state in newest.items() if state == Consent.State.GRANTED}


def _plans(
    unit: BusinessUnit,
    customer_ids: Sequence[int],
    channel: str,
    purpose: str,
    template_key: str,
    language: str,
) -> dict[int, _Plan]:
    """Channel, address and template per customer (a dropped plan carries its reason)."""
    channels = _channels(unit)
    preferences = _preferences(customer_ids)
    media = list(BEST_ORDER) if channel == BEST else [channel]
    found = {
        medium: addresses.customer_addresses(
            customer_ids, medium, channels[medium].settings.get("appid", "") if medium in channels else ""
        )
        for medium in media
    }
    consenting = _consenting(customer_ids) if channel == BEST and purpose == Purpose.MARKETING else set()
    templates = (
        {medium: find_template(unit, template_key, medium) for medium in media} if template_key else {}
    )
    plans: dict[int, _Plan] = {}
    for customer_id in customer_ids:
        wanted = preferences.get(customer_id, {})
        candidates = _best_media(wanted.get("medium", ""), purpose) if channel == BEST else media
        plan = None
        for medium in candidates:
            usable = (
                medium in channels
                and customer_id in found[medium]
                and (not template_key or templates.get(medium))
            )
            if channel == BEST and purpose == Purpose.MARKETING:
                usable = usable and (customer_id, gates.CONSENT_CHANNEL[Medium(medium)]) in consenting
            if usable or channel != BEST:
                plan = _Plan(
                    medium=medium, channel=channels.get(medium), address=found[medium].get(customer_id, "")
                )
                break
        if plan is None:
            plan = _Plan(medium=candidates[0] if candidates else Medium.SMS, reason="no_channel")
        plan.template = templates.get(plan.medium) if template_key else None
        plan.language = language or wanted.get("language", "") or rendering.DEFAULT_LANGUAGE
        if not plan.reason:
            plan.reason = "no_channel" if plan.channel is None else ("no_address" if not plan.address else "")
        if (
            not plan.reason
            and template_key
            and (plan.template is None or plan.template.current_version is None)
        ):
            plan.reason = "no_template"
        plans[customer_id] = plan
    return plans


def _render(
    plans: Mapping[int | None, _Plan],
    context: Mapping[str, Any],
    unit: BusinessUnit,
    keys: Mapping[int | None, str],
) -> None:
    """Fill each plan's template in the recipient's language (variables are loaded in that language too:
    "女士" or "Ms")."""
    by_language: dict[str, list[int | None]] = {}
    for pk, plan in plans.items():
        if plan.template is not None and plan.template.current_version is not None and not plan.reason:
            plan.language = rendering.pick_language(plan.template.current_version.contents, plan.language)
            by_language.setdefault(plan.language, []).append(pk)
    for language, recipients in by_language.items():
        with translation.override(language):
            values = load_variables(recipients, context, unit)
        for pk in recipients:
            plan = plans[pk]
            assert plan.template is not None and plan.template.current_version is not None
            variables = values[pk]
            variables.setdefault("message", {})["unsubscribe_url"] = unsubscribe_url(keys[pk])
            try:
                rendered = rendering.render(plan.template.current_version.contents[language], variables)
            except rendering.RenderError as error:
                plan.reason, plan.body = "render_error", str(error)
                continue
            plan.subject, plan.body, plan.fields = rendered.subject, rendered.body, rendered.fields


def _row(
    *,
    unit: BusinessUnit,
    plan: _Plan,
    key: str,
    purpose: str,
    source: str,
    customer_id: int | None,
    user: Any,
    scheduled_at: datetime | None,
    expires_at: datetime | None,
    actor: Any,
    now: datetime,
) -> Message:
    dropped = bool(plan.reason)
    address_hash = addresses.address_hash(plan.medium, plan.address) if plan.address else ""
    return Message(
        unit=unit,
        channel=plan.channel,
        medium=plan.medium,
        customer_id=customer_id,
        user=user,
        address=plan.address,
        address_hash=address_hash,
        template=plan.template,
        template_version=plan.template.current_version if plan.template else None,
        language=plan.language,
        purpose=purpose,
        send_key=key,
        source=source[:100],
        subject=plan.subject[:300],
        body=plan.body if not dropped or plan.reason == "render_error" else "",
        fields=plan.fields or {},
        state=State.DROPPED if dropped else State.QUEUED,
        reason=plan.reason,
        scheduled_at=scheduled_at,
        expires_at=expires_at,
        created_at=now,
        finished_at=now if dropped else None,
        available_at=scheduled_at or now,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )


def enqueue_message(
    *,
    unit: BusinessUnit,
    purpose: str,
    send_key: str,
    customer: Customer | None = None,
    user: Any = None,
    address: str = "",
    channel: str = BEST,
    template: str = "",
    subject: str = "",
    body: str = "",
    context: Mapping[str, Any] | None = None,
    language: str = "",
    scheduled_at: datetime | None = None,
    expires_at: datetime | None = None,
    source: str = "",
    actor: Any = None,
) -> Enqueued:
    """Put one message in the outbox; the same send key gives back the message already there.

    Recipient: a `customer` (their address on the channel is looked up; `channel="best"` picks the
    first medium they can be reached on — their preferred one first — and, for marketing, have consented
    to), or a member of staff (`user`, with their email or an explicit `address`, e.g. a WeCom member
    id), or nobody for a webhook. Content: a `template` key (rendered now with the customer's profile,
    order and registered variables plus `context`) or, for transactional messages only, a `subject` and
    `body` as written. A message that cannot be sent (no channel, no address, no template) is still
    written, `dropped` with its reason. Gates run when it is sent, not here."""
    _check(purpose in Purpose.values, _("Purpose is transactional or marketing."))
    _check(channel == BEST or channel in Medium.values, _("Unknown channel."))
    _check(not (customer and user), _("A message goes to a customer or to a member of staff, not both."))
    _check(bool(template) != bool(body), _("Give a template or a body, not both."))
    _check(
        bool(template) or purpose == Purpose.TRANSACTIONAL, _("Marketing messages are sent from templates.")
    )
    if purpose == Purpose.MARKETING:
        _check(customer is not None, _("Marketing messages go to customers."))
        _check(
            channel not in (Medium.WEBHOOK, Medium.WECOM),
            _("Webhooks and WeCom carry transactional messages only."),
        )
    _check(channel != BEST or customer is not None, _("“best” chooses among a customer's channels."))
    if customer is not None and customer.is_merged:
        customer = Customer.objects.get(pk=customer.merged_into_id or customer.pk)
    key = _full_key(send_key, customer.pk if customer else None, user.pk if user else None, channel)
    existing = Message.objects.filter(send_key=key).first()
    if existing is not None:
        return Enqueued(existing, False)
    context = dict(context or {})
    if customer is not None:
        plan = _plans(unit, [customer.pk], channel, purpose, template, language)[customer.pk]
    else:
        channels = _channels(unit)
        plan = _Plan(
            medium=channel, channel=channels.get(channel), language=language or rendering.DEFAULT_LANGUAGE
        )
        plan.address = address or (user.email if user is not None and channel == Medium.EMAIL else "")
        if channel == Medium.WEBHOOK and plan.channel is not None:
            plan.address = plan.channel.settings.get("url", "")
        if template:
            plan.template = find_template(unit, template, channel)
        plan.reason = "no_channel" if plan.channel is None else ("no_address" if not plan.address else "")
        if not plan.reason and template and (plan.template is None or plan.template.current_version is None):
            plan.reason = "no_template"
    if address and customer is not None:
        plan.address = address
    if plan.address and plan.medium not in (Medium.WEBHOOK,):
        try:
            plan.address = addresses.normalise(plan.medium, plan.address)
        except ValidationError:
            plan.reason = plan.reason or "no_address"
    if template:
        _render(
            {customer.pk if customer else None: plan}, context, unit, {customer.pk if customer else None: key}
        )
    else:
        plan.subject, plan.body = subject, body
    now = timezone.now()
    row = _row(
        unit=unit,
        plan=plan,
        key=key,
        purpose=purpose,
        source=source,
        customer_id=customer.pk if customer else None,
        user=user,
        scheduled_at=scheduled_at,
        expires_at=expires_at,
        actor=actor,
        now=now,
    )
    try:
        with transaction.atomic():
            row.save()
            if actor is not None:
                audit.record(
                    AuditEntry.Action.CREATE,
                    actor=actor,
                    obj=row,
                    unit=unit,
                    message=phrases.MESSAGE_QUEUED(purpose=purpose, medium=plan.medium),
                )
            if row.state == State.QUEUED:
                wake_senders()
    except IntegrityError:
        existing = Message.objects.filter(send_key=key).first()
        if existing is None:
            raise
        return Enqueued(existing, False)
    return Enqueued(row, True)


def enqueue_many(
    *,
    unit: BusinessUnit,
    customer_ids: Iterable[int],
    purpose: str,
    send_key: str,
    template: str,
    channel: str = BEST,
    context: Mapping[str, Any] | None = None,
    scheduled_at: datetime | None = None,
    expires_at: datetime | None = None,
    source: str = "",
    actor: Any = None,
    progress: Any = None,
) -> BulkResult:
    """Queue one message per customer from a template, a thousand at a time; rows that exist already
    (same send key: a repeated or concurrent run) are left as they are, so running it twice sends once."""
    _check(
        purpose in Purpose.values and (channel == BEST or channel in Medium.values),
        _("Unknown channel or purpose."),
    )
    _check(bool(template), _("Bulk sends use a template."))
    ids = sorted(set(customer_ids))
    created = existing = dropped = 0
    for start in range(0, len(ids), ENQUEUE_BATCH):
        chunk = ids[start : start + ENQUEUE_BATCH]
        keys = {pk: _full_key(send_key, pk, None, channel) for pk in chunk}
        present = set(Message.objects.filter(send_key__in=keys.values()).values_list("send_key", flat=True))
        todo = [pk for pk in chunk if keys[pk] not in present]
        plans = _plans(unit, todo, channel, purpose, template, "")
        for plan in plans.values():
            if plan.address and not plan.reason:
                try:
                    plan.address = addresses.normalise(plan.medium, plan.address)
                except ValidationError:
                    plan.reason = "no_address"
        _render(plans, context or {}, unit, keys)  # type: ignore[arg-type]
        now = timezone.now()
        rows = [
            _row(
                unit=unit,
                plan=plans[pk],
                key=keys[pk],
                purpose=purpose,
                source=source,
                customer_id=pk,
                user=None,
                scheduled_at=scheduled_at,
                expires_at=expires_at,
                actor=actor,
                now=now,
            )
            for pk in todo
        ]
        with transaction.atomic():
            Message.objects.bulk_create(rows, ignore_conflicts=True)  # a concurrent run's rows win
            wake_senders()
        created += len(rows)
        existing += len(present)
        dropped += sum(1 for row in rows if row.state == State.DROPPED)
        if progress is not None:
            progress(len(chunk))
    audit.record(
        AuditEntry.Action.CREATE,
        actor=actor,
        unit=unit,
        object_type="messaging.bulk_send",
        object_id=send_key[:64],
        message=phrases.BULK_QUEUED(
            purpose=purpose, key=send_key[:100], created=created, existing=existing, dropped=dropped
        ),
    )
    return BulkResult(created=created, existing=existing, dropped=dropped)


def start_bulk_send(
    *,
    unit: BusinessUnit,
    customer_ids: Sequence[int],
    purpose: str,
    send_key: str,
    template: str,
    channel: str = BEST,
    context: Mapping[str, Any] | None = None,
    scheduled_at: datetime | None = None,
    source: str = "",
    actor: Any = None,
) -> Job:
    """`enqueue_many` as a background job (the job page shows its progress)."""
    from guanxi.messaging.jobs import BULK_SEND

    return start_job(
        BULK_SEND,
        params={
            "unit": unit.pk,
            "customer_ids": list(customer_ids),
            "purpose": purpose,
            "send_key": send_key,
            "template": template,
            "channel": channel,
            "context": dict(context or {}),
            "scheduled_at": scheduled_at.isoformat() if scheduled_at else None,
            "source": source,
        },
        started_by=actor,
        unit=unit,
    )


@transaction.atomic
def cancel_message(message: Message, *, actor: Any = None) -> bool:
    """Cancel a message that has not started sending; False when it is too late."""
    done = Message.objects.filter(pk=message.pk, state__in=[State.QUEUED, State.HELD]).update(
        state=State.CANCELLED,
        reason="cancelled",
        finished_at=timezone.now(),
        claim_token=None,
        lease_expires_at=None,
    )
    if done:
        audit.record(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=message,
            unit=message.unit,
            message=phrases.MESSAGE_CANCELLED(),
        )
    return bool(done)


# --- opt-outs, replies and delivery reports ------------------------------------------------------


@dataclass(frozen=True)
class OptOut:
    customers: tuple[int, ...]
    suppression: Suppression | None  # None when the customer has no address on the medium yet
    dropped: int


def _suppress(
    medium: str, address: str, *, scope: str, reason: str, customer_id: int | None, source: str
) -> Suppression:
    address_hash = addresses.address_hash(medium, address)
    row, created = Suppression.objects.get_or_create(
        medium=medium,
        address_hash=address_hash,
        defaults={
            "scope": scope,
            "reason": reason,
            "customer_id": customer_id,
            "source": source[:100],
            "masked_address": addresses.masked(medium, address),
        },
    )
    if not created and scope == Suppression.Scope.ALL and row.scope != scope:
        row.scope, row.reason = scope, reason
        row.save(update_fields=["scope", "reason"])
    return row


@transaction.atomic
def opt_out(
    *,
    medium: str,
    address: str = "",
    customer: Customer | None = None,
    method: str,
    source: str,
    evidence: str = "",
    scope: str = Suppression.Scope.MARKETING,
    unit: BusinessUnit | None = None,
    actor: Any = None,
) -> OptOut:
    """Stop messages to an address: consent evidence (withdrawn) for every customer who holds it, a
    suppression entry, and the pending marketing messages to it dropped. Once this commits no marketing
    send to it starts (the senders lock the same customer rows; see sending.py). `scope="all"` stops
    transactional messages too."""
    if not address and customer is not None:
        address = addresses.customer_addresses([customer.pk], medium).get(customer.pk, "")
    address = addresses.normalise(medium, address) if address else ""
    holders = addresses.customers_with_address(medium, address) if address else []
    if customer is not None and customer.pk not in holders:
        holders.append(customer.pk)
    consent_channel = gates.CONSENT_CHANNEL.get(Medium(medium))
    for holder in Customer.objects.filter(pk__in=holders, status=Customer.Status.ACTIVE).order_by("pk"):
        if consent_channel:
            customer_profile.record_consent(
                holder,
                consent_channel,
                Consent.State.WITHDRAWN,
                method,
                actor=actor,
                source=source,
                evidence=evidence,
                unit=unit,
            )
    _check(bool(address) or bool(holders), _("Nobody to opt out: no address and no customer."))
    suppression = None
    dropped = 0
    if address:
        suppression = _suppress(
            medium,
            address,
            scope=scope,
            reason=Suppression.Reason.OPT_OUT,
            customer_id=holders[0] if holders else None,
            source=source,
        )
        pending = Message.objects.filter(
            medium=medium,
            state__in=[State.QUEUED, State.HELD],
            claim_token__isnull=True,
            address_hash=suppression.address_hash,
        )
        if scope != Suppression.Scope.ALL:
            pending = pending.filter(purpose=Purpose.MARKETING)
        dropped = pending.update(state=State.DROPPED, reason="suppressed_opt_out", finished_at=timezone.now())
    audit.record(
        AuditEntry.Action.UPDATE,
        actor=actor,
        unit=unit,
        object_type="messaging.suppression",
        object_id=str(suppression.pk if suppression else ""),
        message=phrases.OPTED_OUT(medium=medium, method=method, scope=scope, count=len(holders)),
    )
    return OptOut(customers=tuple(sorted(holders)), suppression=suppression, dropped=dropped)


def is_opt_out_reply(text: str) -> bool:
    word = unicodedata.normalize("NFKC", text or "").strip().strip("。.!！ ").upper()
    return word in OPT_OUT_WORDS


@transaction.atomic
def record_inbound(
    channel: ChannelAccount, *, provider_id: str, sender: str, text: str, received_at: datetime | None = None
) -> InboundMessage:
    """A reply received by a channel; "TD", "T", "退订" or "STOP" opts the sender out of marketing."""
    medium = channel.medium
    try:
        address = addresses.normalise(medium, sender)
    except ValidationError:
        address = sender.strip()
    existing = InboundMessage.objects.filter(channel=channel, provider_id=provider_id[:128]).first()
    if existing is not None:
        return existing  # a gateway's redelivery changes nothing
    holders = addresses.customers_with_address(medium, address)
    inbound = InboundMessage.objects.create(
        channel=channel,
        provider_id=provider_id[:128],
        address_hash=addresses.address_hash(medium, address),
        masked_address=addresses.masked(medium, address),
        text=text[:500],
        customer_id=holders[0] if holders else None,
        is_opt_out=is_opt_out_reply(text),
        received_at=received_at or timezone.now(),
    )
    if inbound.is_opt_out:
        opt_out(
            medium=medium,
            address=address,
            method=Consent.Method.REPLY,
            unit=channel.unit,
            source=f"reply to {channel.name}",
            evidence=f"reply “{text[:20]}” received {inbound.received_at:%Y-%m-%d %H:%M:%S %Z}",
        )
    return inbound


REPORT_STATES: dict[str, tuple[str, str]] = {
    DeliveryReport.Kind.DELIVERED: (State.DELIVERED, ""),
    DeliveryReport.Kind.FAILED: (State.FAILED, "delivery_failed"),
    DeliveryReport.Kind.HARD_BOUNCE: (State.FAILED, "hard_bounce"),
    DeliveryReport.Kind.SOFT_BOUNCE: (State.FAILED, "soft_bounce"),
    DeliveryReport.Kind.COMPLAINT: (State.FAILED, "complaint"),
}


@transaction.atomic
def record_report(
    channel: ChannelAccount,
    *,
    kind: str,
    provider_id: str = "",
    send_key: str = "",
    provider_status: str = "",
    occurred_at: datetime | None = None,
) -> DeliveryReport | None:
    """A delivery report or bounce for a message of `channel` (found by the provider's id or our key, or
    the key's digest that Alibaba Cloud echoes as OutId); None when no such message. Hard bounces and
    complaints suppress the address for every later message."""
    messages = Message.objects.select_for_update().filter(channel=channel)
    message = None
    if provider_id:
        message = messages.filter(provider_message_id=provider_id).first()
    if message is None and send_key:
        # Our key, or its digest as Alibaba Cloud echoes it (OutId) for a send it took on a nonce replay.
        message = messages.filter(Q(send_key=send_key) | Q(provider_message_id=f"nonce:{send_key}")).first()
    if message is None or kind not in REPORT_STATES:
        return None
    report, created = DeliveryReport.objects.get_or_create(
        message=message,
        kind=kind,
        defaults={"provider_status": provider_status[:64], "occurred_at": occurred_at or timezone.now()},
    )
    if not created:
        return report
    state, reason = REPORT_STATES[kind]
    if message.state in (State.SENT, State.UNKNOWN, State.SENDING, State.DELIVERED):
        updates: dict[str, Any] = {
            "state": state,
            "reason": reason,
            "claim_token": None,
            "lease_expires_at": None,
        }
        if state == State.DELIVERED:
            updates["delivered_at"] = report.occurred_at
        else:
            updates["finished_at"] = report.occurred_at
            updates["detail"] = provider_status[:300]
        Message.objects.filter(pk=message.pk).update(**updates)
    if kind in (DeliveryReport.Kind.HARD_BOUNCE, DeliveryReport.Kind.COMPLAINT) and message.address:
        _suppress(
            message.medium,
            message.address,
            scope=Suppression.Scope.ALL,
            reason=Suppression.Reason.HARD_BOUNCE
            if kind == DeliveryReport.Kind.HARD_BOUNCE
            else Suppression.Reason.COMPLAINT,
            customer_id=message.customer_id,
            source=f"report from {channel.name}",
        )
    return report


def message_for_unsubscribe(token: str) -> Message | None:
    """The message an unsubscribe link was made for; None when the token is not ours."""
    try:
        send_key = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return Message.objects.filter(send_key=send_key).select_related("unit").first()


def unsubscribe(message: Message, *, one_click: bool, everything: bool = False) -> OptOut:
    """The recipient of `message` opted out from its link (RFC 8058 one-click POST, or the page)."""
    return opt_out(
        medium=message.medium,
        address=message.address,
        customer=Customer.objects.filter(pk=message.customer_id or 0).first(),
        method=Consent.Method.UNSUBSCRIBE_LINK,
        scope=Suppression.Scope.ALL if everything else Suppression.Scope.MARKETING,
        unit=message.unit,
        source="one-click unsubscribe (RFC 8058)" if one_click else "unsubscribe page",
        evidence=f"unsubscribe link of message #{message.pk} used {timezone.now():%Y-%m-%d %H:%M:%S %Z}",
    )


def channel_for_hook(token: str) -> ChannelAccount | None:
    try:
        pk = signing.loads(token, salt=HOOK_SALT)
    except signing.BadSignature:
        return None
    return ChannelAccount.objects.filter(pk=pk).select_related("unit").first()


def medium_of(kind: str) -> str:
    return MEDIUM_OF_KIND[ChannelKind(kind)]
