from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "guanxi.messaging"
    label = "messaging"
    verbose_name = _("Messaging")

    def ready(self) -> None:
        from guanxi.messaging import checks, customer_parts, variables

        del checks  # registered on import

        customer_parts.register()
        variables.register_builtin_variables()
