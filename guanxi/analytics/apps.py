from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "guanxi.analytics"
    label = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from guanxi.analytics import customer_parts
        from guanxi.analytics.engine import CHANGE_READER, engine_selected

        customer_parts.register()
        if engine_selected():
            # The engine's export follows in-place changes (ADR 0036); the embedded default does not
            # need the feed and writes no rows for it.
            from guanxi.customers.changes import register_change_reader

            register_change_reader(CHANGE_READER)
