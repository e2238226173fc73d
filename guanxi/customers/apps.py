from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "guanxi.customers"
    label = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        from guanxi.customers import customer_parts

        customer_parts.register()
