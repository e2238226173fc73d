"""What loading the demo writes in the audit log, as codes put into words when shown."""

from django.utils.translation import gettext_lazy as _

from guanxi.core.display import Phrase

DEMO_LOADED = Phrase(
    "demo.loaded",
    _(
        "Demo shop loaded (seed %(seed)s): %(units)d business units, %(stores)d stores, %(customers)d "
        "customers, %(orders)d orders, %(order_lines)d order lines, %(events)d events, %(duplicates)d "
        "duplicate profiles (%(merges)d merged, %(merge_suggestions)d merge suggestions)"
    ),
)
# Progress of loading it.
SETTING_UP = Phrase("demo.setting_up", _("Creating the organisation, business units, stores and users"))
CUSTOMERS_CREATED = Phrase(
    "demo.customers_created", _("Created %(done)d of %(total)d customers with their orders")
)
MERGING = Phrase("demo.merging", _("Merging duplicate profiles and suggesting merges"))

# The object an entry about the demo names (object type "demo").
Phrase("object.demo", _("Demo shop"))
