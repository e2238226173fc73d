"""Forms of the marketing pages: a flow's name, a step card, the trigger, a campaign."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from guanxi.commerce.models import Event
from guanxi.marketing import steps


def attach(form: forms.BaseForm, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


class KindFieldsForm(forms.Form):
    """A form whose `kind` select decides which other fields apply: each such field is marked with
    the kinds it serves (`data-for`), and web/forms.js shows it only when one of them is chosen.
    Fields not named in FIELDS_BY_KIND apply to every kind."""

    FIELDS_BY_KIND: dict[str, tuple[str, ...]] = {}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].widget.attrs["data-controls"] = ""
        kinds_of: dict[str, list[str]] = {}
        for kind, names in self.FIELDS_BY_KIND.items():
            for name in names:
                kinds_of.setdefault(name, []).append(kind)
        for name, kinds in kinds_of.items():
            self.fields[name].widget.attrs["data-for"] = " ".join(kinds)


class FlowForm(forms.Form):
    unit = forms.TypedChoiceField(label=_("Business unit"), coerce=int)
    name = forms.CharField(label=_("Name"), max_length=120)


class TriggerForm(KindFieldsForm):
    FIELDS_BY_KIND = {
        "order_placed": ("unpaid_only",),
        "event": ("event_kind",),
        "segment_entered": ("segment",),
        "segment_exited": ("segment",),
        "birthday": ("offset_days",),
        "fixed_date": ("month_day", "segment"),
    }
    kind = forms.ChoiceField(label=_("Trigger"), choices=list(steps.TRIGGERS.items()))
    segment = forms.TypedChoiceField(label=_("Segment"), coerce=int, required=False, empty_value=None)
    unpaid_only = forms.BooleanField(label=_("Only orders not yet paid"), required=False)
    event_kind = forms.CharField(label=_("Event kind"), max_length=32, required=False)
    offset_days = forms.IntegerField(label=_("Days before the date"), required=False, initial=0)
    month_day = forms.CharField(label=_("Date (MM-DD)"), max_length=5, required=False)
    exit_paid = forms.BooleanField(label=_("Leave when the order is paid"), required=False)
    exit_ordered = forms.BooleanField(label=_("Leave when a new order is placed"), required=False)
    exit_refunded = forms.BooleanField(label=_("Leave when the order is refunded"), required=False)


class StepForm(KindFieldsForm):
    FIELDS_BY_KIND = {
        "wait": ("minutes", "days", "at"),
        "send": ("template", "purpose"),
        "coupon": ("coupon_template",),
        "tag": ("tag", "remove"),
        "points": ("points",),
        "ticket": ("subject", "priority"),
        "follow_up": ("subject",),
        "webhook": ("event",),
        "wait_event": ("event_kind", "hours"),
        "condition": ("segment",),
        "split": ("percent_b",),
    }
    kind = forms.ChoiceField(label=_("Step"), choices=list(steps.STEP_KINDS.items()))
    minutes = forms.IntegerField(label=_("Wait minutes"), required=False, min_value=0)
    days = forms.IntegerField(label=_("Wait days"), required=False, min_value=0)
    at = forms.CharField(label=_("Until time of day (HH:MM)"), required=False, max_length=5)
    template = forms.CharField(label=_("Message template key"), required=False, max_length=64)
    purpose = forms.ChoiceField(
        label=_("Purpose"),
        choices=[("marketing", _("Marketing")), ("transactional", _("Transactional"))],
        required=False,
    )
    coupon_template = forms.TypedChoiceField(label=_("Coupon"), coerce=int, required=False, empty_value=None)
    tag = forms.TypedChoiceField(label=_("Tag"), coerce=int, required=False, empty_value=None)
    remove = forms.BooleanField(label=_("Remove the tag instead"), required=False)
    points = forms.IntegerField(label=_("Points"), required=False)
    segment = forms.TypedChoiceField(
        label=_("Condition: in segment"), coerce=int, required=False, empty_value=None
    )
    percent_b = forms.IntegerField(label=_("Path B share (%)"), required=False, min_value=1, max_value=99)
    subject = forms.CharField(label=_("Ticket or call subject"), required=False, max_length=200)
    priority = forms.ChoiceField(
        label=_("Ticket priority"),
        choices=[("normal", _("Normal")), ("high", _("High")), ("urgent", _("Urgent")), ("low", _("Low"))],
        required=False,
    )
    event = forms.SlugField(label=_("Webhook event name"), required=False, max_length=64)
    event_kind = forms.ChoiceField(
        label=_("Event to wait for"), choices=[("", "—"), *Event.Kind.choices], required=False
    )
    hours = forms.IntegerField(
        label=_("Give up after (hours)"), required=False, min_value=1, max_value=24 * 90
    )

    def step(self, step_id: str) -> dict:
        data = self.cleaned_data
        step: dict = {"id": step_id, "kind": data["kind"]}
        for name in (
            "minutes",
            "days",
            "at",
            "template",
            "purpose",
            "coupon_template",
            "tag",
            "points",
            "segment",
            "percent_b",
            "subject",
            "priority",
            "event",
            "event_kind",
            "hours",
        ):
            value = data.get(name)
            if value not in (None, ""):
                step[name] = value
        if data["kind"] == "tag" and data.get("remove"):
            step["remove"] = True
        if data["kind"] != "send":
            step.pop("purpose", None)
        if data["kind"] != "ticket":
            step.pop("priority", None)
        return step


class CampaignForm(forms.Form):
    unit = forms.TypedChoiceField(label=_("Business unit"), coerce=int)
    name = forms.CharField(label=_("Name"), max_length=120)
    segment = forms.TypedChoiceField(label=_("Segment"), coerce=int)
    template = forms.CharField(label=_("Message template key"), max_length=64)
    coupon = forms.TypedChoiceField(label=_("Coupon"), coerce=int, required=False, empty_value=None)
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[
            ("best", _("Best for each customer")),
            ("sms", _("SMS")),
            ("email", _("Email")),
            ("wechat", _("WeChat")),
        ],
    )
    holdout_percent = forms.DecimalField(label=_("Holdout (%)"), initial=10, min_value=0, max_value=90)
    template_b = forms.CharField(label=_("Variant B template key"), max_length=64, required=False)
    b_percent = forms.DecimalField(
        label=_("Variant B share of the treated (%)"), initial=0, min_value=0, max_value=99
    )
    auto_send_winner = forms.BooleanField(
        label=_("Test on a share first, then send the winner to the rest"), required=False
    )
    test_percent = forms.DecimalField(
        label=_("Share of the treated in the test (%)"), initial=20, min_value=1, max_value=99, required=False
    )
    attribution_days = forms.IntegerField(
        label=_("Attribution window (days)"), initial=7, min_value=1, max_value=90
    )
    scheduled_at = forms.DateTimeField(
        label=_("Send at"), required=False, help_text=_("Empty: as soon as approved.")
    )
