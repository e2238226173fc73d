from django.urls import path

from guanxi.segments import views

app_name = "segments"
urlpatterns = [
    path("", views.segment_list, name="segment_list"),
    path("add/", views.segment_form, name="segment_add"),
    path("builder/", views.builder_partial, name="builder"),
    path("preview/", views.preview, name="preview"),
    path("<int:pk>/", views.segment, name="segment"),
    path("<int:pk>/edit/", views.segment_form, name="segment_edit"),
    path("<int:pk>/delete/", views.segment_delete, name="segment_delete"),
    path("<int:pk>/refresh/", views.segment_refresh, name="segment_refresh"),
    path("<int:pk>/tag/", views.segment_tag, name="segment_tag"),
    path("<int:pk>/nps/", views.segment_nps, name="segment_nps"),
    path("<int:pk>/coupons/", views.segment_coupons, name="segment_coupons"),
    path("<int:pk>/list/", views.segment_upload, name="segment_upload"),
    path("<int:pk>/export/", views.segment_export, name="segment_export"),
]
