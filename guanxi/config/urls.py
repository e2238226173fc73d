from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

# Audits refusals raised below the views (actions), which have no request to audit with.
handler403 = "guanxi.web.views.permission_denied"

urlpatterns = [
    # Signed-out visitors switch language on the login page too.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("accounts/", include("guanxi.accounts.urls")),
    path("api/v1/", include("guanxi.api.urls")),
    # Platform webhooks: authenticated by their signature, not by a session.
    path("webhooks/", include("guanxi.commerce.webhook_urls")),
    # Before the web app, whose placeholder page for the analytics area this replaces.
    path("analytics/", include("guanxi.reports.analytics_urls")),
    path("customers/", include("guanxi.customers.urls")),
    # Orders, imports and stores: /orders/, /imports/, /stores/.
    path("", include("guanxi.commerce.urls")),
    path("segments/", include("guanxi.segments.urls")),
    path("messaging/", include("guanxi.messaging.urls")),
    # Before the web app, whose placeholder page for the loyalty area this replaces.
    path("loyalty/", include("guanxi.loyalty.urls")),
    # Unsubscribe links and gateway callbacks: authenticated by signed tokens, not by a session.
    path("m/", include("guanxi.messaging.public_urls")),
    path("s/", include("guanxi.service.public_urls")),
    # Before the web app, whose placeholder page for the marketing area this replaces.
    path("marketing/", include("guanxi.marketing.urls")),
    # Before the web app, whose placeholder page for the sales area this replaces.
    path("sales/", include("guanxi.sales.urls")),
    path("service/", include("guanxi.service.urls")),
    path("privacy/", include("guanxi.privacy.urls")),
    # Before the web app, whose placeholder page for the reports area this replaces.
    path("reports/", include("guanxi.reports.urls")),
    path("", include("guanxi.web.urls")),
]
