from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarketingConfig(AppConfig):
    name = "guanxi.marketing"
    label = "marketing"
    verbose_name = _("Marketing")

    def ready(self) -> None:
        from guanxi.customers.changes import register_change_reader
        from guanxi.marketing import customer_parts, jobs, variables
        from guanxi.marketing.engine import CHANGE_READER

        del jobs  # registers its job kinds on import
        customer_parts.register()
        variables.register()
        register_change_reader(CHANGE_READER)
