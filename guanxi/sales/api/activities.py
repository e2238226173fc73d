"""Activity and notification endpoints: log or plan an activity, complete one, list them; read and
mark notifications."""

from ninja import Query
from ninja.responses import Status

from guanxi.api.pagination import CursorParams, paginate
from guanxi.core.access import require
from guanxi.customers.models import Customer
from guanxi.sales.actions import activities as actions
from guanxi.sales.api.routing import acting, owner_of, router, unit_of, visible
from guanxi.sales.api.schemas import (
    ActivityIn,
    ActivityListParams,
    ActivityOut,
    ActivityPage,
    CompleteIn,
    NotificationPage,
    ReadIn,
    ReadOut,
)
from guanxi.sales.models import Account, Activity, Lead, Notification, Opportunity
from guanxi.sales.notifications import describe


def activity_out(activity: Activity) -> dict:
    return {name: getattr(activity, name) for name in ActivityOut.model_fields}


@router.get("/sales/activities", response=ActivityPage, summary="Activities the caller may see, newest first")
def list_activities(request, params: Query[ActivityListParams]):
    rows = Activity.objects.restrict(request.user, "view")
    if params.status:
        rows = rows.filter(status=params.status)
    if params.mine:
        rows = rows.filter(owner=request.user)
    if params.due_before is not None:
        rows = rows.filter(due_at__lt=params.due_before)
    page = paginate(rows, params, sort_field="created_at", descending=True)
    return {"items": [activity_out(a) for a in page.items], "next_cursor": page.next_cursor}


@router.post("/sales/activities", response={201: ActivityOut}, summary="Log or plan an activity")
def create_activity(request, payload: ActivityIn):
    user = require(request, "sales.add")
    lead = visible(Lead, request, payload.lead, "change")
    opportunity = visible(Opportunity, request, payload.opportunity, "change", related=("unit", "account"))
    account = visible(Account, request, payload.account, "change")
    customer = visible(Customer, request, payload.customer)
    unit = None
    if not (lead or opportunity or account):
        unit = unit_of(request, payload.unit)
    record_unit = unit or getattr(lead or opportunity or account, "unit", None)
    owner = owner_of(record_unit, payload.owner)
    return acting(
        request,
        lambda: Status(
            201,
            activity_out(
                actions.log_activity(
                    actor=user,
                    kind=payload.kind,
                    subject=payload.subject,
                    notes=payload.notes,
                    done=payload.done,
                    done_at=payload.done_at,
                    due_at=payload.due_at,
                    reminder_at=payload.reminder_at,
                    owner=owner,
                    lead=lead,
                    opportunity=opportunity,
                    account=account,
                    customer=customer,
                    unit=unit,
                )
            ),
        ),
    )


@router.post(
    "/sales/activities/{activity_id}/complete", response=ActivityOut, summary="Mark a planned activity done"
)
def complete_activity(request, activity_id: int, payload: CompleteIn):
    activity = visible(Activity, request, activity_id, "change")
    return acting(
        request,
        lambda: activity_out(
            actions.complete_activity(
                activity, actor=request.user, outcome=payload.outcome, done_at=payload.done_at
            )
        ),
    )


@router.get(
    "/sales/notifications", response=NotificationPage, summary="The caller's notifications, newest first"
)
def list_notifications(request, params: Query[CursorParams]):
    rows = Notification.objects.restrict(request.user, "view").filter(user=request.user)
    page = paginate(rows, params, sort_field="created_at", descending=True)
    return {
        "items": [
            {
                **{
                    name: getattr(n, name)
                    for name in ("id", "kind", "subject_type", "subject_id", "created_at", "read_at")
                },
                "text": describe(n),
            }
            for n in page.items
        ],
        "next_cursor": page.next_cursor,
    }


@router.post("/sales/notifications/read", response=ReadOut, summary="Mark notifications read")
def read_notifications(request, payload: ReadIn):
    require(request, "sales.view")
    return {"marked": actions.mark_notifications_read(request.user, payload.ids)}
