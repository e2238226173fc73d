"""Lead endpoints: list, capture (idempotent on `external_id`, deduplicated on phone and e-mail),
read, correct, qualify, disqualify, assign and convert."""

from django.utils.translation import gettext as _
from ninja import Query
from ninja.responses import Status

from guanxi.api.errors import ApiError
from guanxi.api.pagination import paginate
from guanxi.core.access import require
from guanxi.customers.fetch import Masker
from guanxi.sales.actions import leads as actions
from guanxi.sales.api.routing import acting, owner_of, router, unit_of, visible
from guanxi.sales.api.schemas import (
    AssignIn,
    ConversionOut,
    ConvertIn,
    DisqualifyIn,
    LeadCaptureOut,
    LeadIn,
    LeadListParams,
    LeadOut,
    LeadPage,
    LeadPatch,
)
from guanxi.sales.models import Account, Lead, Pipeline


def lead_out(lead: Lead, masker: Masker) -> dict:
    return {
        **{name: getattr(lead, name) for name in LeadOut.model_fields if hasattr(lead, name)},
        "name": masker(lead.name),
        "phone": masker(lead.phone, "phone"),
        "email": masker(lead.email, "email"),
        "pii_masked": masker.masked,
    }


@router.get("/sales/leads", response=LeadPage, summary="Leads the caller may see, newest first")
def list_leads(request, params: Query[LeadListParams]):
    leads = Lead.objects.restrict(request.user, "view")
    if params.status:
        leads = leads.filter(status=params.status)
    if params.owner is not None:
        leads = leads.filter(owner_id=params.owner or None)
    if params.stale is not None:
        leads = leads.filter(stale_since__isnull=not params.stale)
    page = paginate(leads, params, sort_field="created_at", descending=True)
    masker = Masker(request.user)
    return {"items": [lead_out(lead, masker) for lead in page.items], "next_cursor": page.next_cursor}


@router.post(
    "/sales/leads",
    response={200: LeadCaptureOut, 201: LeadCaptureOut},
    summary="Capture a lead (201 when created; 200 when it updated or repeated one, or duplicates one of "
    "yours; 409 when it duplicates someone else's)",
)
def create_lead(request, payload: LeadIn):
    user = require(request, "sales.add")
    unit = unit_of(request, payload.unit)
    owner = owner_of(unit, payload.owner)
    fields = payload.model_dump(
        include={
            "name",
            "company",
            "title",
            "phone",
            "email",
            "source_detail",
            "description",
            "estimated_amount",
        }
    )

    def capture():
        captured = actions.capture_lead(
            unit=unit,
            actor=user,
            source=payload.source,
            external_id=payload.external_id,
            owner=owner,
            **fields,
        )
        if not Lead.objects.restrict(user, "view").filter(pk=captured.lead.pk).exists():
            # Someone else's lead: that it exists, nothing about it.
            raise ApiError(409, _("An open lead of the unit already has this phone or e-mail."))
        body = lead_out(captured.lead, Masker(user))
        return Status(201 if captured.outcome == "created" else 200, {**body, "outcome": captured.outcome})

    return acting(request, capture)


@router.get("/sales/leads/{lead_id}", response=LeadOut, summary="One lead")
def get_lead(request, lead_id: int):
    return lead_out(visible(Lead, request, lead_id), Masker(request.user))


@router.patch("/sales/leads/{lead_id}", response=LeadOut, summary="Correct a lead's details")
def update_lead(request, lead_id: int, payload: LeadPatch):
    lead = visible(Lead, request, lead_id, "change")
    changes = payload.model_dump(exclude_none=True)
    return acting(
        request,
        lambda: lead_out(actions.update_lead(lead, actor=request.user, **changes), Masker(request.user)),
    )


@router.post("/sales/leads/{lead_id}/qualify", response=LeadOut, summary="Qualify a lead")
def qualify_lead(request, lead_id: int):
    lead = visible(Lead, request, lead_id, "change")
    return acting(
        request, lambda: lead_out(actions.qualify_lead(lead, actor=request.user), Masker(request.user))
    )


@router.post(
    "/sales/leads/{lead_id}/disqualify", response=LeadOut, summary="Disqualify a lead, with the reason"
)
def disqualify_lead(request, lead_id: int, payload: DisqualifyIn):
    lead = visible(Lead, request, lead_id, "change")
    return acting(
        request,
        lambda: lead_out(
            actions.disqualify_lead(lead, actor=request.user, reason=payload.reason or "", note=payload.note),
            Masker(request.user),
        ),
    )


@router.post("/sales/leads/{lead_id}/assign", response=LeadOut, summary="Give a lead to a user or the pool")
def assign_lead(request, lead_id: int, payload: AssignIn):
    lead = visible(Lead, request, lead_id, "change")
    owner = owner_of(lead.unit, payload.owner)
    return acting(
        request, lambda: lead_out(actions.assign_lead(lead, owner, actor=request.user), Masker(request.user))
    )


@router.post(
    "/sales/leads/{lead_id}/convert",
    response=ConversionOut,
    summary="Convert a lead into an account, a contact (a customer) and an opportunity, all or nothing",
)
def convert_lead(request, lead_id: int, payload: ConvertIn):
    lead = visible(Lead, request, lead_id, "change")
    account = visible(Account, request, payload.account)
    pipeline = visible(Pipeline, request, payload.pipeline)

    def convert():
        done = actions.convert_lead(
            lead,
            actor=request.user,
            account=account,
            account_name=payload.account_name,
            contact_title=payload.contact_title,
            with_opportunity=payload.opportunity,
            opportunity_name=payload.opportunity_name,
            amount=payload.amount,
            expected_close=payload.expected_close,
            pipeline=pipeline,
        )
        return {
            "account_id": done.account.pk,
            "contact_id": done.contact.pk,
            "customer_id": done.contact.customer_id,
            "opportunity_id": done.opportunity.pk if done.opportunity else None,
        }

    return acting(request, convert)
