from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "guanxi.loyalty"
    label = "loyalty"
    verbose_name = _("Loyalty")

    def ready(self) -> None:
        from guanxi.customers.changes import register_change_reader
        from guanxi.loyalty import customer_parts, jobs
        from guanxi.loyalty.earning import CHANGE_READER

        del jobs  # registers its job kinds on import
        customer_parts.register()
        register_change_reader(CHANGE_READER)
