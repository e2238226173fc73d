from django.urls import path

from guanxi.commerce import views

app_name = "commerce"
urlpatterns = [
    path("", views.order_list, name="order_list"),
    path("<int:pk>/", views.order, name="order"),
]
