from django.urls import path

from guanxi.customers import merge_views, setting_views, views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="customer_list"),
    path("<int:pk>/", views.customer, name="customer"),
    path("<int:pk>/timeline/", views.customer_timeline, name="customer_timeline"),
    path("<int:pk>/tags/", views.customer_tag_add, name="customer_tag_add"),
    path("<int:pk>/tags/<int:tag_pk>/remove/", views.customer_tag_remove, name="customer_tag_remove"),
    path("<int:pk>/notes/", views.customer_note_add, name="customer_note_add"),
    path("<int:pk>/consent/", views.customer_consent, name="customer_consent"),
    path("<int:pk>/owner/", views.customer_owner, name="customer_owner"),
    path("tags/", setting_views.tag_list, name="tag_list"),
    path("tags/<int:pk>/", setting_views.tag, name="tag"),
    path("tag-groups/<int:pk>/", setting_views.tag_group, name="tag_group"),
    path("fields/", setting_views.custom_field_list, name="custom_field_list"),
    path("fields/<int:pk>/", setting_views.custom_field, name="custom_field"),
    path("merges/", merge_views.merge_list, name="merge_list"),
    path("merges/scan/", merge_views.merge_scan, name="merge_scan"),
    path("merges/<int:pk>/undo/", merge_views.merge_undo, name="merge_undo"),
    path("merges/suggestions/<int:pk>/accept/", merge_views.merge_accept, name="merge_accept"),
    path("merges/suggestions/<int:pk>/reject/", merge_views.merge_reject, name="merge_reject"),
]
