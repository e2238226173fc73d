from django.urls import path

from guanxi.customers import views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="customer_list"),
    path("<int:pk>/", views.customer, name="customer"),
    path("<int:pk>/timeline/", views.customer_timeline, name="customer_timeline"),
    path("<int:pk>/tags/", views.customer_tag_add, name="customer_tag_add"),
    path("<int:pk>/tags/<int:tag_pk>/remove/", views.customer_tag_remove, name="customer_tag_remove"),
    path("<int:pk>/notes/", views.customer_note_add, name="customer_note_add"),
]
