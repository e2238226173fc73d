from django.urls import path, re_path

from guanxi.web import views
from guanxi.web.navigation import AREAS

app_name = "web"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/<int:pk>/", views.job, name="job"),
    path("jobs/<int:pk>/progress/", views.job_progress, name="job_progress"),
    path("audit/", views.audit_list, name="audit_list"),
    path("settings/", views.settings_index, name="settings"),
    # Only the announced areas, so these paths never shadow another app's routes.
    re_path(rf"^(?P<slug>{'|'.join(sorted(AREAS))})/$", views.area, name="area"),
]
