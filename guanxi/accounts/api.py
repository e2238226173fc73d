"""Endpoints about the caller (who am I, my API tokens) and the business units: the ones a caller
sees, and for administrators creating and changing them."""

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from guanxi.accounts import actions
from guanxi.accounts.access import MANAGE, access_token_by_id, manageable_units, may_create_units, own_tokens
from guanxi.accounts.api_auth import session_only_auth
from guanxi.accounts.models import ApiToken, BusinessUnit
from guanxi.accounts.roles import ROLE_PERMISSIONS
from guanxi.core.access import deny, require
from guanxi.core.zones import DEFAULT_TIME_ZONE

router = Router(tags=["accounts"])


class UnitOut(Schema):
    id: int
    code: str
    name: str
    time_zone: str
    is_active: bool


class UnitIn(Schema):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[-a-zA-Z0-9_]+$", description="Permanent.")
    name: str = Field(min_length=1, max_length=100)
    time_zone: str = Field(DEFAULT_TIME_ZONE, max_length=64, description="An IANA name, e.g. Asia/Shanghai.")


class UnitPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    time_zone: str | None = Field(None, max_length=64)
    is_active: bool | None = None


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    role: str
    units: list[UnitOut] = Field(description="The units the user is a member of.")
    sees_all_units: bool
    can_view_pii: bool
    can_export: bool
    permissions: list[str] = Field(description="The role's permissions, as <app>.<action>.")
    auth: str = Field(description="How this call authenticated: token or session.")
    token_scope: str | None = Field(None, description="The token's scope when auth is token.")


class TokenOut(Schema):
    id: int
    name: str
    prefix: str = Field(description="The first characters of the secret, to recognise it.")
    scope: ApiToken.Scope
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    scope: ApiToken.Scope = ApiToken.Scope.READ


class IssuedTokenOut(TokenOut):
    secret: str = Field(description="The token itself. Shown once: only its digest is stored.")


def _visible_units(user) -> list[BusinessUnit]:
    return list(BusinessUnit.objects.restrict(user, "view").order_by("code"))


@router.get("/me", response=MeOut, summary="The calling user")
def me(request):
    user = request.user
    token = request.api_token
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.shown_name,
        "role": user.role,
        "units": list(user.units.order_by("code")),
        "sees_all_units": user.sees_all_units(),
        "can_view_pii": user.has_permission("pii.view"),
        "can_export": user.has_permission("data.export"),
        "permissions": sorted(ROLE_PERMISSIONS.get(user.role, ())) if user.is_active else [],
        "auth": "token" if token else "session",
        "token_scope": token.scope if token else None,
    }


@router.get("/units", response=list[UnitOut], summary="Business units the caller may see")
def list_units(request):
    return _visible_units(request.user)


@router.post("/units", response={201: UnitOut}, summary="Create a business unit (system administrators)")
def create_unit(request, payload: UnitIn):
    user = require(request, MANAGE)
    if not may_create_units(user):
        raise deny(request, MANAGE)
    unit = actions.create_business_unit(**payload.model_dump(), actor=user)
    return Status(201, unit)


@router.patch(
    "/units/{unit_id}", response=UnitOut, summary="Rename a business unit, set its time zone or activity"
)
def update_unit(request, unit_id: int, payload: UnitPatch):
    user = require(request, MANAGE)
    unit = get_object_or_404(manageable_units(user), pk=unit_id)
    return actions.update_business_unit(unit, actor=user, **payload.model_dump(exclude_none=True))


@router.get("/tokens", response=list[TokenOut], summary="The caller's API tokens")
def list_tokens(request):
    return list(own_tokens(request.user).order_by("-created_at", "-id"))


@router.post(
    "/tokens",
    response={201: IssuedTokenOut},
    auth=[session_only_auth],
    summary="Create an API token (signed-in session only; the secret is returned once)",
)
def create_token(request, payload: TokenIn):
    issued = actions.create_api_token(user=request.user, name=payload.name, scope=payload.scope)
    return Status(201, {**TokenOut.model_validate(issued.token).model_dump(), "secret": issued.secret})


@router.delete("/tokens/{token_id}", response={204: None}, summary="Revoke one of the caller's tokens")
def revoke_token(request, token_id: int):
    token = access_token_by_id(request.user, token_id)
    actions.revoke_api_token(token=token, actor=request.user)
    return Status(204, None)
