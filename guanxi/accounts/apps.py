from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "guanxi.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from guanxi.accounts import signals  # noqa: F401  (audit of login/logout: infrastructure)
