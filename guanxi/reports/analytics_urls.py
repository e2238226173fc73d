"""The Analytics page keeps its address (/analytics/) and its URL names; the kit's reports render it."""

from django.urls import path

from guanxi.reports import analytics_page

app_name = "analytics"
urlpatterns = [
    path("", analytics_page.overview, name="overview"),
]
