from django.urls import path

from guanxi.privacy import views

app_name = "privacy"
urlpatterns = [
    path("", views.request_list, name="request_list"),
    path("retention/", views.retention, name="retention"),
    path("customers/<int:pk>/export/", views.request_export, name="request_export"),
    path("customers/<int:pk>/erasure/", views.request_erasure, name="request_erasure"),
    path("<int:pk>/", views.request_detail, name="request"),
    path("<int:pk>/approve/", views.approve, name="approve"),
    path("<int:pk>/reject/", views.reject, name="reject"),
    path("<int:pk>/run/", views.run, name="run"),
    path("<int:pk>/download/", views.download, name="download"),
]
