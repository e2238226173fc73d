"""The service pages' forms."""

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from guanxi.service.models import (
    AssignmentMode,
    ComplaintReason,
    FollowUp,
    Priority,
    Status,
    Survey,
    TicketChannel,
    TicketType,
)

ANY = [("", _("Any"))]


class TicketFilterForm(forms.Form):
    q = forms.CharField(label=_("Subject or #number"), required=False, max_length=100)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[*ANY, ("open", _("Open")), *Status.choices]
    )
    ticket_type = forms.ChoiceField(label=_("Type"), required=False, choices=[*ANY, *TicketType.choices])
    priority = forms.ChoiceField(label=_("Priority"), required=False, choices=[*ANY, *Priority.choices])
    channel = forms.ChoiceField(label=_("Channel"), required=False, choices=[*ANY, *TicketChannel.choices])
    assignee = forms.ChoiceField(
        label=_("Assignee"), required=False, choices=[*ANY, ("me", _("Me")), ("none", _("Nobody (queue)"))]
    )
    breached = forms.BooleanField(label=_("SLA breached"), required=False)


class TicketForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200)
    ticket_type = forms.ChoiceField(label=_("Type"), choices=TicketType.choices, initial=TicketType.INQUIRY)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL)
    channel = forms.ChoiceField(
        label=_("Channel"), choices=TicketChannel.choices, initial=TicketChannel.PHONE
    )
    complaint_reason = forms.ChoiceField(
        label=_("Complaint reason"),
        required=False,
        choices=[("", _("Not a complaint")), *ComplaintReason.choices],
    )
    unit = forms.TypedChoiceField(label=_("Unit"), coerce=int, required=False)
    orders = forms.MultipleChoiceField(label=_("Orders"), required=False, widget=forms.CheckboxSelectMultiple)
    body = forms.CharField(
        label=_("What the customer said"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Reply to the customer"), widget=forms.Textarea(attrs={"rows": 5}))
    wait = forms.BooleanField(label=_("Then wait on the customer"), required=False)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field; each is checked by the action (kind, content, size)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list:
        if not data:
            return []
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items]


class NoteForm(forms.Form):
    body = forms.CharField(label=_("Internal note"), widget=forms.Textarea(attrs={"rows": 3}), required=False)
    attachments = MultipleFileField(
        label=_("Attach files"),
        required=False,
        help_text=_("Pictures, PDF, Word, Excel or text; at most 5 files at a time."),
    )


class AssignForm(forms.Form):
    assignee = forms.TypedChoiceField(label=_("Assignee"), coerce=int, required=False, empty_value=None)


class PriorityForm(forms.Form):
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)


class TransferForm(forms.Form):
    to_unit = forms.TypedChoiceField(label=_("To unit"), coerce=int)
    reason = forms.CharField(label=_("Why"), max_length=300, required=False)


class DeskForm(forms.Form):
    assignment = forms.ChoiceField(label=_("New tickets go to"), choices=AssignmentMode.choices)
    support_address = forms.EmailField(label=_("Support e-mail address"), required=False)
    opens = forms.TimeField(label=_("Opens"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    closes = forms.TimeField(
        label=_("Closes"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    weekdays = forms.MultipleChoiceField(
        label=_("Working weekdays"),
        widget=forms.CheckboxSelectMultiple,
        choices=[
            ("0", _("Monday")),
            ("1", _("Tuesday")),
            ("2", _("Wednesday")),
            ("3", _("Thursday")),
            ("4", _("Friday")),
            ("5", _("Saturday")),
            ("6", _("Sunday")),
        ],
    )
    warn_minutes = forms.IntegerField(
        label=_("Warn this many business minutes before a deadline"), min_value=0, max_value=10_000
    )


class PolicyForm(forms.Form):
    ticket_type = forms.ChoiceField(label=_("Type"), choices=TicketType.choices)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    first_response = forms.IntegerField(
        label=_("First response (business minutes)"), min_value=1, max_value=525_600
    )
    resolution = forms.IntegerField(label=_("Resolution (business minutes)"), min_value=1, max_value=525_600)


class HolidayForm(forms.Form):
    day = forms.DateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}))
    is_day_off = forms.TypedChoiceField(
        label=_("Kind"),
        coerce=lambda value: value == "1",
        choices=[("1", _("Day off (放假)")), ("0", _("Adjusted working day (调休上班)"))],
    )
    name = forms.CharField(label=_("Name"), max_length=60, required=False)


class LoadHolidaysForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)


class CannedForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=100)
    body_zh = forms.CharField(label=_("Text (Chinese)"), widget=forms.Textarea(attrs={"rows": 3}))
    body_en = forms.CharField(
        label=_("Text (English)"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )


class FollowUpForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=FollowUp.Outcome.choices)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class SurveyAnswerForm(forms.Form):
    score = forms.TypedChoiceField(label=_("Score"), coerce=int, widget=forms.RadioSelect)
    comment = forms.CharField(
        label=_("Anything you would like to tell us"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )

    def __init__(self, *args, kind: str = Survey.Kind.CSAT, **kwargs):
        super().__init__(*args, **kwargs)
        scores = range(1, 6) if kind == Survey.Kind.CSAT else range(0, 11)
        cast(forms.ChoiceField, self.fields["score"]).choices = [(str(n), str(n)) for n in scores]
