"""Mounted at /m/: the unsubscribe page and the gateways' callbacks, reached without signing in."""

from django.urls import path

from guanxi.messaging import public_views

app_name = "messaging_public"
urlpatterns = [
    path("unsubscribe/<str:token>/", public_views.unsubscribe, name="unsubscribe"),
    path("hooks/<str:token>/reports", public_views.reports, name="reports"),
    path("hooks/<str:token>/inbound", public_views.inbound, name="inbound"),
]
