from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class CoreConfig(AppConfig):
    name = "guanxi.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Each app declares its long-running job kinds in <app>/jobs.py, and the phrases it stores
        # as codes (audit messages, import reasons) in <app>/phrases.py.
        autodiscover_modules("jobs")
        autodiscover_modules("phrases")
