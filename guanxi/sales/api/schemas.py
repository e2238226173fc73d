"""Request and response bodies of the sales endpoints (and of the Sales part of the customer API)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field, StringConstraints

from guanxi.api.pagination import CursorParams
from guanxi.api.schemas import Amount, AwareDatetime
from guanxi.sales.models import Activity, ForecastCategory, Lead, Opportunity, Stage

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


# --- the customer 360 part ---------------------------------------------------------------------


class CustomerAccountOut(Schema):
    account_id: int
    account: str
    title: str
    is_primary: bool


class CustomerOpportunityOut(Schema):
    id: int
    name: str
    stage: str
    status: str
    amount: Amount
    currency: str
    expected_close: date | None
    order_id: int | None = Field(description="The order a won deal made in commerce.")


class CustomerActivityOut(Schema):
    id: int
    kind: str
    status: str
    subject: str
    due_at: datetime | None
    done_at: datetime | None


class CustomerSalesOut(Schema):
    accounts: list[CustomerAccountOut]
    opportunities: list[CustomerOpportunityOut]
    activities: list[CustomerActivityOut]


# --- pipelines ---------------------------------------------------------------------------------


class StageOut(Schema):
    id: int
    name: str
    position: int
    probability: int = Field(description="Win probability in percent.")
    kind: Stage.Kind
    forecast_category: ForecastCategory


class PipelineOut(Schema):
    id: int
    unit_id: int
    name: str
    currency: str
    is_default: bool
    stages: list[StageOut]


# --- leads -------------------------------------------------------------------------------------


class LeadIn(Schema):
    unit: int | None = Field(None, description="The business unit; required for users of several units.")
    name: Text = ""
    company: Text = ""
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = ""
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] = ""
    email: Text = ""
    source: Lead.Source = Lead.Source.API
    source_detail: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    external_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)] = Field(
        "", description="Your id of the lead: sending it again updates that lead instead of adding one."
    )
    description: Annotated[str, StringConstraints(max_length=5000)] = ""
    estimated_amount: Money = Decimal("0")
    owner: int | None = Field(
        None, description="A user of the unit; only sales managers may name someone else."
    )


class LeadPatch(Schema):
    name: Text | None = None
    company: Text | None = None
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
    email: Text | None = None
    source_detail: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    description: Annotated[str, StringConstraints(max_length=5000)] | None = None
    estimated_amount: Money | None = None


class LeadOut(Schema):
    id: int
    unit_id: int
    owner_id: int | None
    status: Lead.Status
    name: str = Field(description="Masked without pii.view.")
    company: str
    title: str
    phone: str = Field(description="Masked without pii.view.")
    email: str = Field(description="Masked without pii.view.")
    source: str
    source_detail: str
    external_id: str
    estimated_amount: Amount
    customer_id: int | None = Field(
        description="The known customer with this phone or e-mail (the contact once converted)."
    )
    disqualify_reason: str
    account_id: int | None
    opportunity_id: int | None
    last_activity_at: datetime
    stale_since: datetime | None
    created_at: datetime
    pii_masked: bool


class LeadCaptureOut(LeadOut):
    outcome: Literal["created", "updated", "unchanged", "duplicate"] = Field(
        description="`duplicate`: an open lead of the unit has this phone or e-mail (that lead is returned)."
    )


class LeadPage(Schema):
    items: list[LeadOut]
    next_cursor: str | None


class LeadListParams(CursorParams):
    status: Lead.Status | None = None
    owner: int | None = Field(None, description="Owner id; 0 for the unassigned pool.")
    stale: bool | None = Field(None, description="Only flagged (true) or unflagged (false) leads.")


# Bodies of endpoints about one record accept {}: the record is looked up (404 when the caller may not
# act on it) before the body's values are checked (422).


class DisqualifyIn(Schema):
    reason: Lead.DisqualifyReason | None = Field(None, description="Required.")
    note: Annotated[str, StringConstraints(max_length=300)] = ""


class AssignIn(Schema):
    owner: int | None = Field(None, description="The new owner; null or omitted for the unit's pool.")


class ConvertIn(Schema):
    account: int | None = Field(None, description="An existing account of the lead's unit.")
    account_name: Text = Field(
        "", description="Otherwise the account of this name (made if missing); the lead's company by default."
    )
    contact_title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = ""
    opportunity: bool = True
    opportunity_name: Text = ""
    amount: Money | None = None
    expected_close: date | None = None
    pipeline: int | None = None


class ConversionOut(Schema):
    account_id: int
    contact_id: int
    customer_id: int
    opportunity_id: int | None


# --- opportunities -----------------------------------------------------------------------------


class OpportunityIn(Schema):
    unit: int | None = None
    name: Text
    pipeline: int | None = None
    stage: int | None = None
    account: int | None = None
    contact: int | None = None
    amount: Money = Decimal("0")
    expected_close: date | None = None
    forecast_category: ForecastCategory | Literal[""] = ""
    owner: int | None = None


class OpportunityPatch(Schema):
    name: Text | None = None
    amount: Money | None = None
    expected_close: date | None = None
    forecast_category: ForecastCategory | Literal[""] | None = None
    next_step: Text | None = None


class OpportunityOut(Schema):
    id: int
    unit_id: int
    pipeline_id: int
    stage_id: int
    stage: str
    owner_id: int | None
    name: str
    account_id: int | None
    contact_id: int | None
    customer_id: int | None
    amount: Amount
    currency: str
    probability: int
    weighted_amount: Amount = Field(description="Amount × the stage's win probability.")
    expected_close: date | None
    forecast_category: str = Field(description="The deal's own category, else its stage's.")
    next_step: str
    status: Opportunity.Status
    lost_reason: str
    closed_at: datetime | None
    order_id: int | None
    last_activity_at: datetime
    stale_since: datetime | None
    created_at: datetime


class OpportunityPage(Schema):
    items: list[OpportunityOut]
    next_cursor: str | None


class OpportunityListParams(CursorParams):
    status: Opportunity.Status | None = None
    pipeline: int | None = None
    stage: int | None = None
    owner: int | None = Field(None, description="Owner id; 0 for the unassigned pool.")
    stale: bool | None = None


class StageMoveIn(Schema):
    stage: int | None = Field(None, description="Required: a stage of the opportunity's pipeline.")
    lost_reason: Opportunity.LostReason | Literal[""] = Field("", description="Required for the lost stage.")
    lost_note: Annotated[str, StringConstraints(max_length=300)] = ""


# --- activities --------------------------------------------------------------------------------


class ActivityIn(Schema):
    kind: Activity.Kind
    subject: Text
    notes: Annotated[str, StringConstraints(max_length=5000)] = ""
    done: bool = Field(
        True, description="Logged as done (at done_at, now by default); false plans it for due_at."
    )
    done_at: AwareDatetime | None = None
    due_at: AwareDatetime | None = None
    reminder_at: AwareDatetime | None = None
    lead: int | None = None
    opportunity: int | None = None
    account: int | None = None
    customer: int | None = None
    unit: int | None = Field(None, description="For an activity about a customer alone.")
    owner: int | None = Field(None, description="Assign it to someone (sales managers).")


class ActivityOut(Schema):
    id: int
    unit_id: int
    owner_id: int | None
    kind: Activity.Kind
    status: Activity.Status
    subject: str
    notes: str
    outcome: str
    due_at: datetime | None
    reminder_at: datetime | None
    done_at: datetime | None
    lead_id: int | None
    opportunity_id: int | None
    account_id: int | None
    customer_id: int | None
    created_at: datetime


class ActivityPage(Schema):
    items: list[ActivityOut]
    next_cursor: str | None


class ActivityListParams(CursorParams):
    status: Activity.Status | None = None
    mine: bool = Field(False, description="Only the caller's own activities.")
    due_before: AwareDatetime | None = None


class CompleteIn(Schema):
    outcome: Annotated[str, StringConstraints(max_length=300)] = ""
    done_at: AwareDatetime | None = None


# --- accounts ----------------------------------------------------------------------------------


class AccountIn(Schema):
    unit: int | None = None
    name: Text
    industry: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = ""
    website: Text = ""
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] = ""
    province: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] = ""
    city: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] = ""
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = ""
    description: Annotated[str, StringConstraints(max_length=5000)] = ""


class ContactOut(Schema):
    id: int
    customer_id: int
    name: str = Field(description="Masked without pii.view.")
    title: str
    role: str
    is_primary: bool


class AccountOut(Schema):
    id: int
    unit_id: int
    owner_id: int | None
    name: str
    industry: str
    website: str
    phone: str
    province: str
    city: str
    address: str
    created_at: datetime


class AccountDetailOut(AccountOut):
    contacts: list[ContactOut]


class AccountPage(Schema):
    items: list[AccountOut]
    next_cursor: str | None


# --- forecast and notifications ----------------------------------------------------------------


class ForecastRowOut(Schema):
    unit_id: int
    owner_id: int | None = Field(description="Null on unit totals and for unassigned deals.")
    owner: str
    currency: str
    quota: Amount
    won: Amount
    commit: Amount
    best_case: Amount
    pipeline: Amount
    weighted: Amount
    attainment: Amount | None = Field(description="Won as a percentage of quota; null without one.")
    commission: Amount


class ForecastOut(Schema):
    period: str
    start: date
    end: date = Field(description="Excluded.")
    reps: list[ForecastRowOut]
    units: list[ForecastRowOut]


class NotificationOut(Schema):
    id: int
    kind: str
    text: str
    subject_type: str
    subject_id: str
    created_at: datetime
    read_at: datetime | None


class NotificationPage(Schema):
    items: list[NotificationOut]
    next_cursor: str | None


class ReadIn(Schema):
    ids: list[int] | None = Field(None, max_length=1000, description="Omit to mark every notification read.")


class ReadOut(Schema):
    marked: int
