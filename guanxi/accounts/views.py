"""Sign-in, two-factor set-up, user management and API token pages. Writes go through actions."""

import math
from base64 import b32encode
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from guanxi.accounts import access, actions, signin
from guanxi.accounts.forms import (
    CodeForm,
    LoginForm,
    TokenForm,
    UnitAddForm,
    UnitEditForm,
    UserAddForm,
    UserEditForm,
)
from guanxi.accounts.models import User
from guanxi.core.access import deny, require

THROTTLED_STATUS = 429


class SignedInRequest(HttpRequest):
    """For type checking only: behind LoginRequiredMiddleware, request.user is always a User."""

    user: User


def _safe_next(request: HttpRequest) -> str:
    """The `next` the user came with, only if it points back into this site."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


def _next_url(request: HttpRequest) -> str:
    return _safe_next(request) or resolve_url(settings.LOGIN_REDIRECT_URL)


def _throttled_message(wait_seconds: int) -> str:
    minutes = max(1, math.ceil(wait_seconds / 60))
    return ngettext(
        "Too many failed attempts. Try again in %(minutes)d minute.",
        "Too many failed attempts. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


@login_not_required
@sensitive_post_parameters("password")
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_next_url(request))
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        result = signin.sign_in_with_password(
            request, form.cleaned_data["username"], form.cleaned_data["password"]
        )
        if result.outcome == signin.Outcome.SIGNED_IN:
            return redirect(_next_url(request))
        if result.outcome == signin.Outcome.NEEDS_CODE:
            verify_url = reverse("accounts:otp_verify")
            next_url = _safe_next(request)
            return redirect(f"{verify_url}?{urlencode({'next': next_url})}" if next_url else verify_url)
        if result.outcome == signin.Outcome.THROTTLED:
            form.add_error(None, _throttled_message(result.wait_seconds))
            status = THROTTLED_STATUS
        else:
            form.add_error(None, _("Wrong username or password."))
    return render(request, "accounts/login.html", {"form": form, "next": _safe_next(request)}, status=status)


@login_not_required
@never_cache
def otp_verify(request: HttpRequest) -> HttpResponse:
    if signin.pending_user(request) is None:
        return redirect("accounts:login")
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        result = signin.sign_in_with_code(request, form.cleaned_data["token"])
        if result.outcome == signin.Outcome.SIGNED_IN:
            return redirect(_next_url(request))
        if result.outcome == signin.Outcome.EXPIRED:
            return redirect("accounts:login")
        if result.outcome == signin.Outcome.THROTTLED:
            form.add_error(None, _throttled_message(result.wait_seconds))
            status = THROTTLED_STATUS
        else:
            form.add_error(None, _("That code is not valid. Use the current code from your app."))
    return render(
        request, "accounts/otp_verify.html", {"form": form, "next": _safe_next(request)}, status=status
    )


@never_cache
def otp_setup(request: SignedInRequest) -> HttpResponse:
    if signin.confirmed_device(request.user) is not None:
        return render(request, "accounts/otp_setup.html", {"enabled": True})
    device = actions.start_totp_setup(user=request.user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if actions.confirm_totp_device(device=device, token=form.cleaned_data["token"], actor=request.user):
            device.refresh_from_db()
            otp_login(request, device)
            messages.success(request, _("Two-factor sign-in is on. You will be asked for a code at sign-in."))
            return redirect("accounts:otp_setup")
        form.add_error("token", _("That code is not valid. Use the current code from your app."))
    # The SVG holds only the QR code's paths, drawn here; no user input is embedded as markup.
    qr_svg = mark_safe(segno.make(device.config_url).svg_inline(scale=5, border=2))
    context = {"enabled": False, "form": form, "qr_svg": qr_svg, "secret": b32encode(device.bin_key).decode()}
    return render(request, "accounts/otp_setup.html", context)


def user_list(request: SignedInRequest) -> HttpResponse:
    require(request, access.MANAGE)
    users = access.manageable_users(request.user).prefetch_related("units").order_by("username")
    return render(request, "accounts/user_list.html", {"users": users})


@sensitive_post_parameters("password")
def user_add(request: SignedInRequest) -> HttpResponse:
    require(request, access.MANAGE)
    form = UserAddForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = actions.create_user(
            username=data["username"],
            password=data["password"],
            role=data["role"],
            units=data["units"],
            display_name=data["display_name"],
            email=data["email"],
            can_view_pii=data["can_view_pii"],
            can_export=data["can_export"],
            actor=request.user,
        )
        messages.success(request, _("User %(username)s was created.") % {"username": user.username})
        return redirect("accounts:user", pk=user.pk)
    return render(request, "accounts/user_add.html", {"form": form})


def user_detail(request: SignedInRequest, pk: int) -> HttpResponse:
    target = access.access_user_by_id(request, pk)
    initial = {
        "role": target.role,
        "units": list(target.units.all()),
        "can_view_pii": target.can_view_pii,
        "can_export": target.can_export,
        "is_active": target.is_active,
    }
    form = UserEditForm(request.POST or None, initial=initial, actor=request.user, target=target)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if "role" in form.changed_data or "units" in form.changed_data:
            actions.change_role(user=target, role=data["role"], units=data["units"], actor=request.user)
        if "can_view_pii" in form.changed_data or "can_export" in form.changed_data:
            actions.set_data_permissions(
                user=target,
                can_view_pii=data["can_view_pii"],
                can_export=data["can_export"],
                actor=request.user,
            )
        if "is_active" in form.changed_data:
            actions.set_user_active(user=target, is_active=data["is_active"], actor=request.user)
        messages.success(request, _("Changes to %(username)s were saved.") % {"username": target.username})
        return redirect("accounts:user", pk=target.pk)
    return render(request, "accounts/user.html", {"target": target, "form": form})


def unit_list(request: SignedInRequest) -> HttpResponse:
    """The units the user manages; a system administrator also creates units here."""
    user = require(request, access.MANAGE)
    may_add = access.may_create_units(user)
    form = UnitAddForm(request.POST or None) if may_add else None
    if request.method == "POST":
        if form is None:
            raise deny(request, access.MANAGE)
        if form.is_valid():
            unit = actions.create_business_unit(**form.cleaned_data, actor=user)
            messages.success(request, _("Business unit %(name)s was created.") % {"name": unit.name})
            return redirect("accounts:unit", pk=unit.pk)
    units = access.manageable_units(user).annotate(
        store_count=Count("stores", distinct=True), member_count=Count("members", distinct=True)
    )
    return render(request, "accounts/unit_list.html", {"units": units.order_by("code"), "form": form})


def unit_detail(request: SignedInRequest, pk: int) -> HttpResponse:
    user = require(request, access.MANAGE)
    unit = get_object_or_404(access.manageable_units(user), pk=pk)
    initial = {"name": unit.name, "time_zone": unit.time_zone, "is_active": unit.is_active}
    form = UnitEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        actions.update_business_unit(unit, actor=user, **changed)
        messages.success(request, _("Changes to %(name)s were saved.") % {"name": form.cleaned_data["name"]})
        return redirect("accounts:unit", pk=unit.pk)
    return render(request, "accounts/unit.html", {"unit": unit, "form": form})


def token_list(request: SignedInRequest) -> HttpResponse:
    tokens = access.own_tokens(request.user)
    return render(request, "accounts/token_list.html", {"tokens": tokens})


@never_cache
def token_add(request: SignedInRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        issued = actions.create_api_token(
            user=request.user,
            name=form.cleaned_data["name"],
            scope=form.cleaned_data["scope"],
            actor=request.user,
        )
        # Rendered, not redirected: the secret exists only in this one response.
        return render(
            request, "accounts/token_created.html", {"token": issued.token, "secret": issued.secret}
        )
    return render(request, "accounts/token_add.html", {"form": form})


@require_POST
def token_revoke(request: SignedInRequest, pk: int) -> HttpResponse:
    token = access.access_token_by_id(request.user, pk)
    actions.revoke_api_token(token=token, actor=request.user)
    messages.success(request, _("The token %(name)s was revoked.") % {"name": token.name})
    return redirect("accounts:token_list")
