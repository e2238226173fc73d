from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "guanxi.segments"
    label = "segments"
    verbose_name = _("Segments")

    def ready(self) -> None:
        from guanxi.customers.changes import register_change_reader
        from guanxi.segments import customer_parts
        from guanxi.segments.actions import CHANGE_READER

        customer_parts.register()
        register_change_reader(CHANGE_READER)
