"""URL patterns for /api/v1/: ninja's patterns, wrapped for the whole-site middleware.

Every API view is exempt from LoginRequiredMiddleware (API clients get a 401 problem, never
a redirect to the login page), and responses produced outside ninja's operations (unknown
path, wrong method, the bare root) are problem+json too.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, path, re_path
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt

from guanxi.api import ratelimit
from guanxi.api.errors import not_found_response, problem_response
from guanxi.api.main import api


def _api_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)  # keeps ninja's csrf_exempt flag; ninja checks CSRF itself for session auth
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return not_found_response(request)
        if isinstance(response, HttpResponseNotAllowed):
            return problem_response(
                request,
                405,
                _("This path does not accept %(method)s.") % {"method": request.method},
                headers={"Allow": response["Allow"]},
            )
        for name, value in ratelimit.headers_for(request).items():
            response.setdefault(name, value)
        return response

    return login_not_required(wrapped)


@login_not_required
@csrf_exempt
def unknown_path(request: HttpRequest) -> HttpResponse:
    return not_found_response(request)


_patterns, _app_name, _namespace = api.urls
# ninja yields only URLPatterns (no nested resolvers) for an API without versioned sub-APIs.
_wrapped = [
    URLPattern(p.pattern, _api_view(p.callback), p.default_args, p.name)
    for p in _patterns
    if isinstance(p, URLPattern)
]
urlpatterns = [
    path("", (_wrapped, _app_name, _namespace)),
    re_path(r"", unknown_path),
]
