from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "guanxi.privacy"
    label = "privacy"
    verbose_name = _("Privacy")

    def ready(self) -> None:
        from guanxi.privacy import customer_parts, jobs

        del jobs  # registers its job kinds on import
        customer_parts.register()
