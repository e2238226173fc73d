"""The sales pages' forms: they parse input; the actions decide what is allowed and write."""

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from guanxi.sales.models import (
    Activity,
    Contact,
    ForecastCategory,
    Lead,
    Opportunity,
    OpportunityCompetitor,
    Quote,
    SalesRules,
)

DATE = forms.DateInput(attrs={"type": "date"})
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
TEXTAREA = forms.Textarea(attrs={"rows": 3})


def choose(form: forms.Form, field: str, options: Any, empty: Any = None) -> None:
    """Fill a choice field from (value, label) pairs, with an optional empty choice first."""
    choices = [(value, label) for value, label in options]
    cast(forms.ChoiceField, form.fields[field]).choices = (
        [("", empty), *choices] if empty is not None else choices
    )


def attach(form: forms.Form, error: ValidationError) -> None:
    """Show an action's refusal on the form: on its field when the form has it, else above it."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


class UnitField(forms.TypedChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(label=_("Business unit"), coerce=int, empty_value=None, **kwargs)


class LeadForm(forms.Form):
    unit = UnitField(required=False)
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    title = forms.CharField(label=_("Title"), max_length=64, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    email = forms.CharField(label=_("E-mail"), max_length=200, required=False)
    source = forms.ChoiceField(label=_("Source"), choices=Lead.Source.choices, initial=Lead.Source.MANUAL)
    source_detail = forms.CharField(label=_("Source detail"), max_length=100, required=False)
    estimated_amount = forms.DecimalField(
        label=_("Estimated amount"), min_value=0, max_digits=14, decimal_places=2, required=False
    )
    description = forms.CharField(label=_("Description"), required=False, widget=TEXTAREA)
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int, empty_value=None, required=False)


class LeadEditForm(LeadForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in ("unit", "source", "owner"):
            del self.fields[field]


class DisqualifyForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=Lead.DisqualifyReason.choices)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)


class AssignForm(forms.Form):
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int, empty_value=None, required=False)


class TransferForm(forms.Form):
    to_unit = forms.TypedChoiceField(label=_("To business unit"), coerce=int)
    reason = forms.CharField(label=_("Why"), max_length=300)


class DecisionForm(forms.Form):
    approve = forms.BooleanField(required=False)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)


class ConvertForm(forms.Form):
    account = forms.TypedChoiceField(
        label=_("Existing account"), coerce=int, empty_value=None, required=False
    )
    account_name = forms.CharField(label=_("Or a new account named"), max_length=200, required=False)
    contact_title = forms.CharField(label=_("Contact's title"), max_length=64, required=False)
    with_opportunity = forms.BooleanField(label=_("Open an opportunity"), required=False, initial=True)
    opportunity_name = forms.CharField(label=_("Opportunity name"), max_length=200, required=False)
    amount = forms.DecimalField(
        label=_("Amount"), min_value=0, max_digits=14, decimal_places=2, required=False
    )
    expected_close = forms.DateField(label=_("Expected close"), required=False, widget=DATE)
    pipeline = forms.TypedChoiceField(label=_("Pipeline"), coerce=int, empty_value=None, required=False)


class OpportunityForm(forms.Form):
    unit = UnitField(required=False)
    name = forms.CharField(label=_("Name"), max_length=200)
    pipeline = forms.TypedChoiceField(label=_("Pipeline"), coerce=int, empty_value=None, required=False)
    account = forms.TypedChoiceField(label=_("Account"), coerce=int, empty_value=None, required=False)
    amount = forms.DecimalField(
        label=_("Amount"), min_value=0, max_digits=14, decimal_places=2, required=False
    )
    expected_close = forms.DateField(label=_("Expected close"), required=False, widget=DATE)
    forecast_category = forms.ChoiceField(
        label=_("Forecast category"),
        required=False,
        choices=[("", _("As its stage")), *ForecastCategory.choices],
    )
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int, empty_value=None, required=False)


class OpportunityEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    amount = forms.DecimalField(
        label=_("Amount"), min_value=0, max_digits=14, decimal_places=2, required=False
    )
    expected_close = forms.DateField(label=_("Expected close"), required=False, widget=DATE)
    forecast_category = forms.ChoiceField(
        label=_("Forecast category"),
        required=False,
        choices=[("", _("As its stage")), *ForecastCategory.choices],
    )
    next_step = forms.CharField(label=_("Next step"), max_length=200, required=False)
    contact = forms.TypedChoiceField(label=_("Contact"), coerce=int, empty_value=None, required=False)


class MoveForm(forms.Form):
    stage = forms.TypedChoiceField(label=_("Stage"), coerce=int)
    lost_reason = forms.ChoiceField(
        label=_("Why was it lost?"), required=False, choices=[("", "—"), *Opportunity.LostReason.choices]
    )
    lost_note = forms.CharField(label=_("Note"), max_length=300, required=False)


class LineForm(forms.Form):
    product = forms.TypedChoiceField(label=_("Product"), coerce=int, empty_value=None, required=False)
    name = forms.CharField(label=_("Or a product named"), max_length=200, required=False)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, initial=1)
    unit_price = forms.DecimalField(
        label=_("Unit price"),
        min_value=0,
        max_digits=14,
        decimal_places=2,
        required=False,
        help_text=_("Empty: the product's list price."),
    )


class CompetitorLinkForm(forms.Form):
    competitor = forms.TypedChoiceField(label=_("Competitor"), coerce=int, empty_value=None, required=False)
    new_competitor = forms.CharField(label=_("Or a new competitor named"), max_length=200, required=False)
    threat = forms.ChoiceField(
        label=_("Threat"), choices=OpportunityCompetitor.Threat.choices, initial="medium"
    )
    their_price = forms.DecimalField(
        label=_("Their price"), min_value=0, max_digits=14, decimal_places=2, required=False
    )
    notes = forms.CharField(label=_("Notes"), max_length=300, required=False)


class QuoteForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Quote.Kind.choices)
    amount = forms.DecimalField(
        label=_("Amount"), min_value=0, max_digits=14, decimal_places=2, required=False
    )
    valid_until = forms.DateField(label=_("Valid until"), required=False, widget=DATE)
    terms = forms.CharField(label=_("Terms"), required=False, widget=TEXTAREA)


class QuoteStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Quote.Status.choices)


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Activity.Kind.choices)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    notes = forms.CharField(label=_("Notes"), required=False, widget=TEXTAREA)
    done = forms.BooleanField(label=_("Already done"), required=False, initial=True)
    done_at = forms.DateTimeField(label=_("Done at"), required=False, widget=DATETIME)
    due_at = forms.DateTimeField(label=_("Due"), required=False, widget=DATETIME)
    reminder_at = forms.DateTimeField(label=_("Remind me at"), required=False, widget=DATETIME)
    owner = forms.TypedChoiceField(label=_("Assign to"), coerce=int, empty_value=None, required=False)
    lead = forms.IntegerField(required=False, widget=forms.HiddenInput)
    opportunity = forms.IntegerField(required=False, widget=forms.HiddenInput)
    account = forms.IntegerField(required=False, widget=forms.HiddenInput)
    customer = forms.IntegerField(required=False, widget=forms.HiddenInput)
    unit = forms.IntegerField(required=False, widget=forms.HiddenInput)


class CompleteForm(forms.Form):
    outcome = forms.CharField(label=_("Outcome"), max_length=300, required=False)


class AccountForm(forms.Form):
    unit = UnitField(required=False)
    name = forms.CharField(label=_("Company name"), max_length=200)
    industry = forms.CharField(label=_("Industry"), max_length=64, required=False)
    website = forms.CharField(label=_("Website"), max_length=200, required=False)
    phone = forms.CharField(label=_("Switchboard"), max_length=32, required=False)
    province = forms.CharField(label=_("Province"), max_length=32, required=False)
    city = forms.CharField(label=_("City"), max_length=32, required=False)
    address = forms.CharField(label=_("Address"), max_length=300, required=False)
    description = forms.CharField(label=_("Description"), required=False, widget=TEXTAREA)
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int, empty_value=None, required=False)


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    email = forms.CharField(label=_("E-mail"), max_length=200, required=False)
    title = forms.CharField(label=_("Title"), max_length=64, required=False)
    role = forms.ChoiceField(
        label=_("Role in buying"), required=False, choices=[("", "—"), *Contact.Role.choices]
    )


class QuotaForm(forms.Form):
    user = forms.TypedChoiceField(label=_("Sales user"), coerce=int)
    month = forms.DateField(
        label=_("Month"), widget=forms.DateInput(attrs={"type": "month"}), input_formats=["%Y-%m", "%Y-%m-%d"]
    )
    amount = forms.DecimalField(label=_("Quota"), min_value=0, max_digits=14, decimal_places=2)
    commission_rate = forms.DecimalField(
        label=_("Commission rate"),
        min_value=0,
        max_value=1,
        max_digits=5,
        decimal_places=4,
        required=False,
        help_text=_("Empty: the unit's rate."),
    )


class PlanForm(forms.Form):
    user = forms.TypedChoiceField(label=_("Sales user"), coerce=int)
    month = forms.DateField(
        label=_("Month"), widget=forms.DateInput(attrs={"type": "month"}), input_formats=["%Y-%m", "%Y-%m-%d"]
    )
    planned_calls = forms.IntegerField(label=_("Calls"), min_value=0, initial=0)
    planned_visits = forms.IntegerField(label=_("Visits"), min_value=0, initial=0)
    planned_meetings = forms.IntegerField(label=_("Meetings"), min_value=0, initial=0)
    planned_opportunities = forms.IntegerField(label=_("New opportunities"), min_value=0, initial=0)
    notes = forms.CharField(label=_("Plan"), required=False, widget=TEXTAREA)


class RulesForm(forms.Form):
    stale_after_days = forms.IntegerField(
        label=_("Flag open leads and opportunities after days without activity"), min_value=1, max_value=365
    )
    return_stale_to_pool = forms.BooleanField(label=_("Return them to the unit's pool"), required=False)
    inactive_after_days = forms.IntegerField(
        label=_("Report sales users inactive after days without an activity"), min_value=1, max_value=365
    )
    assignment = forms.ChoiceField(label=_("Assign new leads"), choices=SalesRules.Assignment.choices)
    commission_rate = forms.DecimalField(
        label=_("Commission rate"), min_value=0, max_value=1, max_digits=5, decimal_places=4
    )


class PipelineForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    currency = forms.CharField(label=_("Currency"), max_length=3, initial="CNY")


class PipelineEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    store = forms.TypedChoiceField(
        label=_("Store for won orders"), coerce=int, empty_value=None, required=False
    )
    is_default = forms.BooleanField(label=_("Default pipeline"), required=False)


class StageForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=64)
    probability = forms.IntegerField(label=_("Win probability (%)"), min_value=0, max_value=100)
    forecast_category = forms.ChoiceField(label=_("Forecast category"), choices=ForecastCategory.choices)


class WebFormForm(forms.Form):
    unit = UnitField(required=False)
    name = forms.CharField(label=_("Name"), max_length=100)
    heading = forms.CharField(label=_("Heading"), max_length=200)
    introduction = forms.CharField(label=_("Introduction"), required=False, widget=TEXTAREA)
    consent_text = forms.CharField(label=_("Consent wording"), max_length=300, required=False)
    thank_you = forms.CharField(label=_("Thank-you message"), max_length=300, required=False)


class CompetitorForm(forms.Form):
    unit = UnitField(required=False)
    name = forms.CharField(label=_("Name"), max_length=200)
    website = forms.CharField(label=_("Website"), max_length=200, required=False)
    strengths = forms.CharField(label=_("Strengths"), required=False, widget=TEXTAREA)
    weaknesses = forms.CharField(label=_("Weaknesses"), required=False, widget=TEXTAREA)


class PublicLeadForm(forms.Form):
    """The web form a visitor fills in; `website` is a trap field that people never see."""

    name = forms.CharField(label=_("Your name"), max_length=100)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    phone = forms.CharField(label=_("Mobile phone"), max_length=32, required=False)
    email = forms.EmailField(label=_("E-mail"), max_length=200, required=False)
    message = forms.CharField(
        label=_("What can we help with?"), required=False, max_length=2000, widget=TEXTAREA
    )
    consent = forms.BooleanField(required=False)
    website = forms.CharField(required=False, max_length=200)

    def __init__(self, *args: Any, consent_text: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["consent"].label = consent_text
        self.fields["consent"].required = bool(consent_text)
