from django.urls import path

from guanxi.marketing import views

app_name = "marketing"

urlpatterns = [
    path("", views.flow_list, name="home"),
    path("flows/", views.flow_list, name="flow_list"),
    path("flows/new/", views.flow_new, name="flow_new"),
    path("settings/", views.settings_save, name="settings"),
    path("flows/<int:pk>/", views.flow_detail, name="flow"),
    path("flows/<int:pk>/steps/", views.flow_steps, name="flow_steps"),
    path("flows/<int:pk>/publish/", views.flow_publish, name="flow_publish"),
    path("flows/<int:pk>/status/", views.flow_status, name="flow_status"),
    path("flows/<int:pk>/counts/", views.flow_counts, name="flow_counts"),
    path("enrolments/<int:pk>/", views.enrolment_detail, name="enrolment"),
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/new/", views.campaign_new, name="campaign_new"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign"),
    path("campaigns/<int:pk>/submit/", views.campaign_submit, name="campaign_submit"),
    path("campaigns/<int:pk>/approve/", views.campaign_approve, name="campaign_approve"),
]
