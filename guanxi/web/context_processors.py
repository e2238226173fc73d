from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from guanxi.web.navigation import NAVIGATION, NavItem


@dataclass(frozen=True)
class ShownLink:
    label: str
    icon: str
    url: str
    active: bool


def navigation(request):
    """The sidebar for the signed-in user: links they may follow, to routes that exist."""
    user = getattr(request, "user", None)
    context: dict[str, Any] = {"site_name": settings.GUANXI_SITE_NAME}
    if user is None or not user.is_authenticated:
        return context
    sections = []
    for section in NAVIGATION:
        links = [link for item in section.items if (link := _link(item, user, request.path))]
        if links:
            sections.append({"label": section.label, "links": links})
    context["nav_sections"] = sections
    return context


def _link(item: NavItem, user, path: str) -> ShownLink | None:
    wanted = (item.permission,) if isinstance(item.permission, str) else item.permission or ()
    if wanted and not any(user.has_permission(permission) for permission in wanted):
        return None
    for route in item.routes:
        try:
            url = reverse(route.url_name, kwargs=route.kwargs or None)
        except NoReverseMatch:
            continue
        active = path == url or (url != "/" and path.startswith(url))
        return ShownLink(str(item.label), item.icon, url, active)
    return None
