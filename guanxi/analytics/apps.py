from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "guanxi.analytics"
    label = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from guanxi.analytics import customer_parts, rollup
        from guanxi.analytics.engine import CHANGE_READER, engine_selected
        from guanxi.customers.changes import register_change_reader

        customer_parts.register()
        # The sales rollup rebuilds the days of orders changed in place (refunded, moved to another day).
        register_change_reader(rollup.CHANGE_READER)
        if engine_selected():
            # The engine's export follows in-place changes (ADR 0036); the embedded default does not
            # need the feed and writes no rows for it.
            register_change_reader(CHANGE_READER)
