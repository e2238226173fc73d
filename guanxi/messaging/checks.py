"""`guanxi check --deploy`: production must not let channels reach private or loopback addresses."""

from django.conf import settings
from django.core.checks import Error, register


@register("messaging", deploy=True)
def private_gateways_in_production(app_configs, **kwargs):
    if settings.GUANXI_ALLOW_PRIVATE_GATEWAYS and getattr(settings, "PRODUCTION", False):
        return [
            Error(
                "GUANXI_ALLOW_PRIVATE_GATEWAYS is on: messaging channels may call loopback and private "
                "addresses (server-side request forgery). It is for tests and the demo only.",
                id="guanxi.messaging.E001",
            )
        ]
    return []
