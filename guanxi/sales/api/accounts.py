"""Account endpoints: list, create, and one account with its contacts (customer profiles)."""

from ninja import Query
from ninja.responses import Status

from guanxi.api.pagination import CursorParams, paginate
from guanxi.core.access import require
from guanxi.customers.fetch import Masker
from guanxi.sales.actions import accounts as actions
from guanxi.sales.api.routing import acting, router, unit_of, visible
from guanxi.sales.api.schemas import AccountDetailOut, AccountIn, AccountOut, AccountPage
from guanxi.sales.models import Account, Contact


def account_out(account: Account) -> dict:
    return {name: getattr(account, name) for name in AccountOut.model_fields}


@router.get("/sales/accounts", response=AccountPage, summary="Accounts the caller may see")
def list_accounts(request, params: Query[CursorParams]):
    page = paginate(Account.objects.restrict(request.user, "view"), params, sort_field="id", descending=True)
    return {"items": [account_out(a) for a in page.items], "next_cursor": page.next_cursor}


@router.post("/sales/accounts", response={201: AccountOut}, summary="Create an account")
def create_account(request, payload: AccountIn):
    user = require(request, "sales.add")
    unit = unit_of(request, payload.unit)
    fields = payload.model_dump(exclude={"unit"})
    return acting(
        request, lambda: Status(201, account_out(actions.create_account(unit=unit, actor=user, **fields)))
    )


@router.get(
    "/sales/accounts/{account_id}", response=AccountDetailOut, summary="One account with its contacts"
)
def get_account(request, account_id: int):
    account = visible(Account, request, account_id)
    masker = Masker(request.user)
    contacts = (
        Contact.objects.restrict(request.user, "view").filter(account=account).select_related("customer")
    )
    return {
        **account_out(account),
        "contacts": [
            {
                "id": c.pk,
                "customer_id": c.customer_id,
                "name": masker(c.customer.name),
                "title": c.title,
                "role": c.role,
                "is_primary": c.is_primary,
            }
            for c in contacts
        ],
    }
