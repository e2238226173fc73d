from django.urls import path

from guanxi.reports import views

app_name = "reports"
urlpatterns = [
    path("", views.home, name="home"),
    path("target/", views.set_target, name="target"),
    path("<slug:slug>/", views.report, name="report"),
    path("<slug:slug>/drill/", views.drill_down, name="drill"),
    path("<slug:slug>/schedule/", views.schedule, name="schedule"),
    path("deliveries/<int:pk>/cancel/", views.delivery_cancel, name="delivery_cancel"),
]
