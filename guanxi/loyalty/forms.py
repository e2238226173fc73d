"""The loyalty pages' forms: they parse input; the actions decide what is allowed and write."""

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from guanxi.loyalty.models import CouponTemplate, EarnRule, Programme, Tier

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def attach(form: forms.BaseForm, error: ValidationError) -> None:
    """Show an action's refusal on the form: on its field when the form has it, else above it."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


class ProgrammeCreateForm(forms.Form):
    unit = forms.TypedChoiceField(label=_("Business unit"), coerce=int)
    name = forms.CharField(label=_("Name"), max_length=100)


class ProgrammeForm(forms.ModelForm):
    class Meta:
        model = Programme
        fields = [
            "name",
            "points_name",
            "point_value",
            "currency",
            "expiry",
            "expiry_months",
            "qualifying_days",
            "review_months",
            "grace_days",
            "referrer_points",
            "referee_points",
        ]


class MultipliersField(forms.CharField):
    """Multipliers written one per line as `name=number` (category or store id)."""

    def to_python(self, value: Any) -> dict[str, str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        result: dict[str, str] = {}
        for line in text.splitlines():
            if not line.strip():
                continue
            name, sep, number = line.partition("=")
            if not sep or not name.strip() or not number.strip():
                raise ValidationError(_("Write one multiplier a line as name=number."))
            result[name.strip()] = number.strip()
        return result

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return "\n".join(f"{key}={number}" for key, number in value.items())
        if isinstance(value, str) and value.startswith("{"):
            return self.prepare_value(json.loads(value))
        return value


class EarnRuleForm(forms.ModelForm):
    effective_from = forms.DateTimeField(label=_("Effective from"), required=False, widget=DATETIME)
    category_multipliers = MultipliersField(
        label=_("Category multipliers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One a line: category=multiplier, e.g. 床品=2"),
    )
    store_multipliers = MultipliersField(
        label=_("Store multipliers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One a line: store number=multiplier, e.g. 3=1.5"),
    )

    class Meta:
        model = EarnRule
        fields = [
            "points_per_yuan",
            "rounding",
            "on_status",
            "delay_days",
            "max_points_per_order",
            "category_multipliers",
            "store_multipliers",
        ]


class TierForm(forms.ModelForm):
    class Meta:
        model = Tier
        fields = [
            "name",
            "min_spend",
            "min_orders",
            "min_points",
            "match",
            "discount_percent",
            "free_shipping",
            "birthday_points",
            "points_multiplier",
            "exclusive_coupon",
        ]

    def __init__(self, *args: Any, programme: Programme, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["exclusive_coupon"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = CouponTemplate.objects.filter(programme=programme)


class AdjustForm(forms.Form):
    points = forms.IntegerField(label=_("Points (negative to deduct)"))
    reason = forms.CharField(label=_("Reason"), max_length=200)


class RedeemForm(forms.Form):
    points = forms.IntegerField(label=_("Points to redeem"), min_value=1)
    reason = forms.CharField(label=_("For"), max_length=200, required=False)


class ReferralForm(forms.Form):
    referee = forms.CharField(
        label=_("Referred friend (phone or customer number)"),
        max_length=40,
        help_text=_("The friend's mobile number, or the number on their customer page."),
    )
    device = forms.CharField(label=_("Device"), max_length=200, required=False)


class CouponTemplateForm(forms.ModelForm):
    categories = forms.CharField(
        label=_("Categories"), required=False, help_text=_("Comma-separated; empty for every category.")
    )
    valid_from = forms.DateTimeField(label=_("Valid from"), required=False, widget=DATETIME)
    valid_until = forms.DateTimeField(label=_("Valid until"), required=False, widget=DATETIME)

    class Meta:
        model = CouponTemplate
        fields = [
            "name",
            "kind",
            "min_spend",
            "amount_off",
            "percent_off",
            "buy_quantity",
            "free_quantity",
            "cashback_points",
            "categories",
            "stackable",
            "valid_from",
            "valid_until",
            "valid_days",
            "active",
        ]

    def clean_categories(self) -> list[str]:
        text = self.cleaned_data.get("categories") or ""
        return [part.strip() for part in text.replace("，", ",").split(",") if part.strip()]


class GenerateForm(forms.Form):
    count = forms.IntegerField(label=_("Number of codes"), min_value=1, max_value=5_000_000, initial=1000)


class IssueForm(forms.Form):
    customers = forms.CharField(
        label=_("Customer numbers"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One or more customer numbers, separated by spaces, commas or lines."),
    )

    def clean_customers(self) -> list[int]:
        text = self.cleaned_data["customers"].replace(",", " ").replace("，", " ")
        try:
            ids = [int(part) for part in text.split()]
        except ValueError:
            raise ValidationError(_("Customer numbers are whole numbers.")) from None
        if not ids or len(ids) > 100_000:
            raise ValidationError(_("Give between 1 and 100,000 customer numbers."))
        return ids
