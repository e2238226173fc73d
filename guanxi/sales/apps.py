from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "guanxi.sales"
    label = "sales"
    verbose_name = "Sales"

    def ready(self) -> None:
        from guanxi.sales import customer_parts, jobs  # noqa: F401 (jobs registers its job kinds)

        customer_parts.register()
