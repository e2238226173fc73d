"""Every cookie-authenticated unsafe route refuses a request without the CSRF token (reliability.md
AC-8): each registered page route is POSTed, and each API operation sent its unsafe method, by a
signed-in administrator through a client that enforces CSRF checks as a browser's server would.

The only routes exempt are those no cookie authenticates: platform webhooks and gateway callbacks
(signed with a shared secret or a token in the path), the public web form and the one-click
unsubscribe link (RFC 8058 POSTs from mail clients, authorised by the token in the link).
"""

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from guanxi.accounts.roles import Role
from guanxi.api.main import api

CSRF_EXEMPT = {
    "guanxi.commerce.webhooks.shopify",
    "guanxi.commerce.webhooks.woocommerce",
    "guanxi.messaging.public_views.unsubscribe",
    "guanxi.messaging.public_views.reports",
    "guanxi.messaging.public_views.inbound",
    "guanxi.sales.views.public.web_form",
}
API_PREFIX = "api/v1/"
UNSAFE = ("post", "put", "patch", "delete")


def _pages() -> list[tuple[str, URLPattern]]:
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern

    return [
        (route, pattern)
        for route, pattern in walk(get_resolver().url_patterns)
        if not route.startswith(API_PREFIX)
    ]


def _name(view) -> str:
    view = getattr(view, "view_class", view)
    return f"{view.__module__}.{view.__qualname__}"


def _concrete(route: str) -> str:
    """A path the route matches: every parameter filled with 1 (an object that need not exist: the
    CSRF check runs before the view looks anything up)."""
    route = re.sub(r"\(\?P<\w+>(\w+)[^)]*\)", r"\1", route)  # a regex group: its first alternative
    return "/" + re.sub(r"<(?:\w+:)?\w+>", "1", route).replace("^", "").replace("$", "")


@pytest.fixture
def signed_in(make_user):
    client = Client(enforce_csrf_checks=True)
    # The browser holds the CSRF cookie (as after any page view); a forged request cannot read it
    # to send it back as the token.
    client.cookies[settings.CSRF_COOKIE_NAME] = "a" * 32
    client.force_login(make_user("csrf-admin", role=Role.SYSTEM_ADMIN))
    return client


def test_only_the_cookieless_routes_are_exempt():
    exempt = {
        _name(pattern.callback)
        for _route, pattern in _pages()
        if getattr(pattern.callback, "csrf_exempt", False)
    }
    assert exempt == CSRF_EXEMPT


def test_every_page_post_without_the_token_is_refused(signed_in):
    answered = {}
    for route, pattern in _pages():
        if _name(pattern.callback) in CSRF_EXEMPT:
            continue
        response = signed_in.post(_concrete(route), {"name": "x"})
        answered[route] = (response.status_code, b"CSRF verification failed" in response.content)
    assert len(answered) > 100
    assert {route: answer for route, answer in answered.items() if answer != (403, True)} == {}


def test_every_unsafe_api_operation_with_the_session_cookie_and_no_token_is_refused(signed_in):
    schema = api.get_openapi_schema()
    answered = {}
    for path, operations in schema["paths"].items():
        for method in UNSAFE:
            if method not in operations:
                continue
            url = re.sub(r"\{\w+\}", "1", path)
            response = getattr(signed_in, method)(url, data="{}", content_type="application/json")
            answered[f"{method.upper()} {path}"] = (response.status_code, response.json().get("detail", ""))
    assert len(answered) > 40
    refused = (403, "CSRF check failed: send the X-CSRFToken header with the session.")
    assert {operation: answer for operation, answer in answered.items() if answer != refused} == {}
