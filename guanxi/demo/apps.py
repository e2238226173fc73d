from django.apps import AppConfig


class DemoConfig(AppConfig):
    """No models: installed so the job runner finds the demo's job kind in jobs.py."""

    name = "guanxi.demo"
    label = "demo"
    verbose_name = "Demo shop"
