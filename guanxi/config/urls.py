from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("guanxi.accounts.urls")),
    path("api/v1/", include("guanxi.api.urls")),
    path("", include("guanxi.web.urls")),
]
