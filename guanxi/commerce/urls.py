from django.urls import path

from guanxi.commerce import import_views, store_views, views

app_name = "commerce"
urlpatterns = [
    path("orders/", views.order_list, name="order_list"),
    path("orders/<int:pk>/", views.order, name="order"),
    path("imports/", import_views.import_list, name="import_list"),
    path("imports/add/", import_views.import_add, name="import_add"),
    path("imports/started/<int:pk>/", import_views.import_job, name="import_job"),
    path("imports/<int:pk>/", import_views.import_run, name="import"),
    path("imports/<int:pk>/confirm/", import_views.import_confirm, name="import_confirm"),
    path("imports/<int:pk>/errors.csv", import_views.import_errors, name="import_errors"),
    path("stores/", store_views.store_list, name="store_list"),
    path("stores/<int:pk>/", store_views.store, name="store"),
    path("stores/<int:pk>/webhook-secret/", store_views.store_webhook_secret, name="store_webhook_secret"),
    path("stores/<int:pk>/api/", store_views.store_api, name="store_api"),
]
