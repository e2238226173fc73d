from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanxi.core.models import AuditEntry


class DateInput(forms.DateInput):
    input_type = "date"


class AuditSearchForm(forms.Form):
    """Filters for the audit log page; every field is optional."""

    actor = forms.CharField(label=_("Actor"), required=False, max_length=150)
    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", _("Any action")), *AuditEntry.Action.choices]
    )
    object_type = forms.CharField(label=_("Object type"), required=False, max_length=64)
    date_from = forms.DateField(label=pgettext_lazy("date range", "From"), required=False, widget=DateInput)
    date_to = forms.DateField(label=pgettext_lazy("date range", "To"), required=False, widget=DateInput)

    def filter(self, entries):
        """Narrow an already restricted queryset; dates are days in the current time zone, both included."""
        if not self.is_valid():
            return entries
        data = self.cleaned_data
        if data["actor"]:
            entries = entries.filter(actor_name__icontains=data["actor"])
        if data["action"]:
            entries = entries.filter(action=data["action"])
        if data["object_type"]:
            entries = entries.filter(object_type__icontains=data["object_type"])
        if data["date_from"]:
            entries = entries.filter(created_at__date__gte=data["date_from"])
        if data["date_to"]:
            entries = entries.filter(created_at__date__lte=data["date_to"])
        return entries
