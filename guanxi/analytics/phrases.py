"""What analytics writes in the audit log, as codes put into words when shown (guanxi.core.display)."""

from django.utils.translation import gettext_lazy as _

from guanxi.core.display import Phrase

FULL_REFRESH = Phrase("analytics.full_refresh", _("Analytics refresh of every customer"))
INCREMENTAL_REFRESH = Phrase("analytics.incremental_refresh", _("Analytics refresh of changed customers"))

# Progress of a refresh, shown on the job's page while it runs.
READING_ORDERS = Phrase("analytics.reading_orders", _("Reading orders"))
ORDERS_READ = Phrase("analytics.orders_read", _("Orders read"))
ORGANISATION_COMPUTED = Phrase("analytics.organisation_computed", _("Computed the whole organisation"))
UNIT_COMPUTED = Phrase("analytics.unit_computed", _("Computed %(unit)s"))
ORGANISATION_SAVED = Phrase("analytics.organisation_saved", _("Saved the whole organisation"))
UNIT_SAVED = Phrase("analytics.unit_saved", _("Saved %(unit)s"))
ENGINE_EXPORTED = Phrase(
    "analytics.engine_exported", _("Copied new orders and customers to the analytics engine")
)
ENGINE_METRICS_WRITTEN = Phrase(
    "analytics.engine_metrics_written", _("Copied the metrics to the analytics engine")
)
