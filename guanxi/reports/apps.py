from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "guanxi.reports"
    label = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        from guanxi.reports import phrases

        del phrases  # registers its phrase codes on import
