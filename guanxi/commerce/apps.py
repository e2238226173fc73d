from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "guanxi.commerce"
    label = "commerce"
    verbose_name = "Commerce"

    def ready(self) -> None:
        from guanxi.commerce import customer_parts

        customer_parts.register()
