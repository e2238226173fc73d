from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "guanxi.segments"
    label = "segments"
    verbose_name = _("Segments")

    def ready(self) -> None:
        from guanxi.segments import customer_parts

        customer_parts.register()
