from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class CoreConfig(AppConfig):
    name = "guanxi.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Each app declares its long-running job kinds in <app>/jobs.py.
        autodiscover_modules("jobs")
