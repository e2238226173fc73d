from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from guanxi.core.access import deny, permission_required, require
from guanxi.core.models import AuditEntry, Job
from guanxi.web.dashboard import build_dashboard, chart_data
from guanxi.web.forms import AuditSearchForm
from guanxi.web.navigation import AREAS
from guanxi.web.settings_pages import SETTINGS_PERMISSIONS, pages_for

AUDIT_PAGE_SIZE = 50
JOB_PAGE_SIZE = 50


def permission_denied(request, exception=None):
    """handler403: every refusal that reaches Django is audited here unless deny() already did."""
    deny(request, exception if exception is not None else PermissionDenied())
    return render(request, "403.html", status=403)


def dashboard(request):
    figures = build_dashboard(request.user)
    return render(request, "web/dashboard.html", {"dashboard": figures, "charts": chart_data(figures)})


def area(request, slug):
    """The page of an area whose features are not built yet: what it will do, and no fake data."""
    if slug not in AREAS:
        raise Http404
    shown = AREAS[slug]
    require(request, shown.permission)
    return render(request, "web/area.html", {"area": shown})


def job_list(request):
    jobs = Job.objects.restrict(request.user, "view").select_related("started_by", "unit")
    page = Paginator(jobs, JOB_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "web/job_list.html", {"page": page})


def job(request, pk):
    """The job page; htmx polling gets only the progress fragment."""
    shown = get_object_or_404(Job.objects.restrict(request.user, "view").select_related("started_by"), pk=pk)
    template = "web/partials/_job_progress.html" if request.htmx else "web/job.html"
    return render(request, template, {"job": shown})


def job_progress(request, pk):
    shown = get_object_or_404(Job.objects.restrict(request.user, "view"), pk=pk)
    return render(request, "web/partials/_job_progress.html", {"job": shown})


def settings_index(request):
    """The Settings area: the set-up pages this user may open."""
    pages = pages_for(request.user)
    if not pages:
        raise deny(request, SETTINGS_PERMISSIONS[0])
    return render(request, "web/settings.html", {"pages": pages})


@permission_required("core.audit")
def audit_list(request):
    form = AuditSearchForm(request.GET or None)
    entries = form.filter(AuditEntry.objects.restrict(request.user, "audit").select_related("unit"))
    page = Paginator(entries.order_by("-created_at", "-id"), AUDIT_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "web/audit_list.html", {"form": form, "page": page, "query": query.urlencode()})
