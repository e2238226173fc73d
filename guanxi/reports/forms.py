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
