"""Endpoints about the caller: who am I, which units I see, my API tokens."""

from datetime import datetime

from ninja import Router, Schema
from ninja.responses import Status
from pydantic import Field

from guanxi.accounts import actions
from guanxi.accounts.access import access_token_by_id, own_tokens
from guanxi.accounts.api_auth import session_only_auth
from guanxi.accounts.models import ApiToken, BusinessUnit
from guanxi.accounts.roles import ROLE_PERMISSIONS

router = Router(tags=["accounts"])


class UnitOut(Schema):
    id: int
    code: str
    name: str
    time_zone: str
    is_active: bool


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
