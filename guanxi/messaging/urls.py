from django.urls import path

from guanxi.messaging import views

app_name = "messaging"
urlpatterns = [
    path("", views.outbox, name="outbox"),
    path("messages/<int:pk>/", views.message, name="message"),
    path("messages/<int:pk>/cancel/", views.message_cancel, name="message_cancel"),
    path("channels/", views.channel_list, name="channel_list"),
    path("channels/add/", views.channel_form, name="channel_add"),
    path("channels/<int:pk>/", views.channel_form, name="channel"),
    path("channels/<int:pk>/test/", views.channel_test, name="channel_test"),
    path("templates/", views.template_list, name="template_list"),
    path("templates/add/", views.template_form, name="template_add"),
    path("templates/<int:pk>/", views.template_form, name="template"),
    path("templates/preview/", views.template_preview, name="template_preview"),
    path("settings/", views.settings_form, name="settings"),
    path("statistics/", views.statistics, name="statistics"),
    path("customers/<int:pk>/preferences/", views.customer_preferences, name="customer_preferences"),
    path("customers/<int:pk>/opt-out/", views.customer_opt_out, name="customer_opt_out"),
]
