"""Forms of the reports pages."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _


class TargetForm(forms.Form):
    """The annual sales target that the seasonal index spreads over the months (the Analytics page and
    the dashboards)."""

    target = forms.DecimalField(
        label=_("Annual sales target"),
        required=False,
        min_value=Decimal("0.01"),  # a target to spread is positive
        max_digits=14,
        decimal_places=2,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "1200000"}),
    )


class RevenueTargetForm(forms.Form):
    """A business unit's stored annual sales target for a year (the Reports home)."""

    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2999)
    amount = forms.DecimalField(
        label=_("Annual sales target"),
        help_text=_("Leave it empty to remove the year's target."),
        required=False,  # empty: the stored target is removed
        min_value=Decimal("0.01"),
        max_digits=14,
        decimal_places=2,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "1200000"}),
    )
