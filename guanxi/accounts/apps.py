from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "guanxi.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from guanxi.accounts import checks, signals  # noqa: F401  (checks: registered on import; signals: audit of login/logout)
