from django.contrib.auth import views as auth_views
from django.urls import path

from guanxi.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/code/", views.otp_verify, name="otp_verify"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),  # POST only
    path("two-factor/", views.otp_setup, name="otp_setup"),
    path("users/", views.user_list, name="user_list"),
    path("users/add/", views.user_add, name="user_add"),
    path("users/<int:pk>/", views.user_detail, name="user"),
    path("units/", views.unit_list, name="unit_list"),
    path("units/<int:pk>/", views.unit_detail, name="unit"),
    path("tokens/", views.token_list, name="token_list"),
    path("tokens/add/", views.token_add, name="token_add"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]
