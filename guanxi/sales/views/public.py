"""The public web form that turns a merchant's site visitors into leads (web-to-lead).

Anyone may open and post it, from an iframe on the merchant's own site too, so it carries no CSRF
token (a cross-site iframe does not send the cookie it needs) and acts for no session. Spam is held
off instead: a trap field people never see, and a limit on submissions per address.
"""

from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from guanxi.core import audit
from guanxi.sales.actions.leads import capture_lead
from guanxi.sales.forms import PublicLeadForm, attach
from guanxi.sales.models import Lead, LeadForm

SUBMISSIONS_PER_ADDRESS = 5
WINDOW_SECONDS = 600


def _over_limit(request) -> bool:
    key = f"guanxi:sales-form:{audit.client_address(request) or '-'}"
    cache.add(key, 0, timeout=WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=WINDOW_SECONDS)
        count = 1
    return count > SUBMISSIONS_PER_ADDRESS


@login_not_required
@csrf_exempt
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def web_form(request, key):
    lead_form = (
        LeadForm.objects.select_related("unit").filter(key=key, is_active=True, unit__is_active=True).first()
    )
    if lead_form is None:
        raise Http404
    form = PublicLeadForm(request.POST or None, consent_text=lead_form.consent_text)
    context = {"lead_form": lead_form, "form": form, "done": False}
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["website"]:  # the trap: only robots fill it in; they are told nothing
            context["done"] = True
        elif _over_limit(request):
            form.add_error(None, _("Too many submissions from your network; please try again later."))
        else:
            data = form.cleaned_data
            try:
                capture_lead(
                    unit=lead_form.unit,
                    source=Lead.Source.WEB_FORM,
                    source_detail=lead_form.name,
                    consent_text=lead_form.consent_text if data["consent"] else "",
                    name=data["name"],
                    company=data["company"],
                    phone=data["phone"],
                    email=data["email"],
                    description=data["message"],
                )
            except ValidationError as error:
                attach(form, error)
            else:
                context["done"] = True  # a duplicate is thanked too: the visitor is already known
    return render(request, "sales/web_form.html", context, status=422 if form.errors else 200)
