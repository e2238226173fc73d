"""Mounted at /s/: the satisfaction survey a customer answers from a signed link, without signing in."""

from django.urls import path

from guanxi.service import public_views

app_name = "service_public"
urlpatterns = [
    path("survey/<str:token>/", public_views.survey, name="survey"),
]
