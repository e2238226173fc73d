from django.apps import AppConfig


class ServiceConfig(AppConfig):
    name = "guanxi.service"
    label = "service"
    verbose_name = "Service"

    def ready(self) -> None:
        from guanxi.service import customer_parts, jobs, phrases  # noqa: F401 (jobs registers its job kinds)

        customer_parts.register()
