"""What commerce stores as codes, put into words when shown (guanxi.core.display): the reasons an
import gives for a row it rejected, skipped or imported with a warning, and its audit messages.

A reason's code is the row's `code` in the report and in the run's counts, so codes never change.
"""

from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _

from guanxi.commerce.models import Channel, Order
from guanxi.core.display import Phrase
from guanxi.customers.models import Identity

# --- import reasons ----------------------------------------------------------------------------

EMPTY_ROW = Phrase("empty_row", _("Empty row"))
UNDECODABLE_ROW = Phrase("undecodable", _("Characters that are not valid in the file's encoding"))
MISSING_ID = Phrase("missing_id", _("The order has no id"))
MISSING_DATE = Phrase("missing_date", _("The order has no creation time"))
BAD_DATE = Phrase("bad_date", _("Not a date and time (YYYY-MM-DD HH:MM:SS)"))
BAD_BIRTHDAY = Phrase("bad_birthday", _("Not a date (YYYY-MM-DD)"))
BAD_GENDER = Phrase("bad_gender", _("Not a gender (男/女, M/F)"))
MISSING_AMOUNT = Phrase("missing_amount", _("Amount is empty"))
BAD_AMOUNT = Phrase("bad_amount", _("Not an amount"))
UNKNOWN_STATUS = Phrase("unknown_status", _("Unknown order status %(status)s"))
DUPLICATE_ORDER = Phrase("duplicate_order", _("The same order appears earlier in the file"))
NO_IDENTITY = Phrase(
    "no_identity", _("No usable identity: empty, masked or placeholder values identify nobody")
)
BAD_JSON = Phrase("bad_json", _("Not a JSON object"))
ORDER_ID_SCIENTIFIC = Phrase(
    "order_id_scientific",
    _("The order number was turned into a rounded number by a spreadsheet; export it as text"),
)
BAD_ORDER_ID = Phrase("bad_order_id", _("Not an order number"))
# The Online Retail log's own columns.
MISSING_INVOICE = Phrase("missing_invoice", _("InvoiceNo is empty"))
BAD_QUANTITY = Phrase("bad_quantity", _("Quantity is not a whole number"))
BAD_PRICE = Phrase("bad_price", _("UnitPrice is not a number"))
BAD_CUSTOMER = Phrase("bad_customer", _("CustomerID is masked or not an identifier"))
RETURN_QUANTITY_NOT_NEGATIVE = Phrase(
    "return_quantity_not_negative", _("A cancellation row must have a negative quantity")
)
BAD_DEBT_INVOICE = Phrase("bad_debt_invoice", _("Bad-debt adjustment invoice, not a sale"))
NON_POSITIVE_QUANTITY = Phrase("non_positive_quantity", _("Quantity is zero or negative on a sales invoice"))
NON_POSITIVE_PRICE = Phrase("non_positive_price", _("UnitPrice is zero or negative on a sales invoice"))
# The optional cost column (the merchant's cost of one unit) of a line file.
BAD_COST = Phrase("bad_cost", _("The unit cost is not a number"))
NEGATIVE_COST = Phrase("negative_cost", _("The unit cost is negative"))
# Stock codes that are charges, fees or corrections rather than goods: slug → words.
ADJUSTMENTS = {
    "postage": _("postage"),
    "dotcom_postage": _("dotcom postage"),
    "carriage": _("carriage"),
    "manual": _("manual adjustment"),
    "discount": _("discount"),
    "samples": _("samples"),
    "bad_debt": _("bad debt adjustment"),
    "bank_charges": _("bank charges"),
    "amazon_fee": _("Amazon fee"),
    "cruk_commission": _("CRUK commission"),
    "packing_pads": _("packing pads"),
}


def _adjustment(slug: str) -> str:
    return str(ADJUSTMENTS.get(slug, slug))


ADJUSTMENT_ROW = {
    slug: Phrase(
        f"adjustment_{slug}", _("Adjustment row (%(kind)s), not goods"), labels={"kind": _adjustment}
    )
    for slug in ADJUSTMENTS
}
# A value that identifies nobody (not-an-email, 00000000000): the row is imported without it.
DROPPED_VALUE = {
    kind: Phrase(
        f"dropped_{kind}",
        _("Not a valid %(kind)s, or a placeholder: the row was imported without it"),
        labels={"kind": Identity.Kind},
    )
    for kind in Identity.Kind.values
}

# --- audit messages ----------------------------------------------------------------------------

ORDERS_APPLIED = Phrase(
    "commerce.orders_applied", _("%(source)s: %(created)d orders created, %(updated)d updated")
)
EVENTS_RECORDED = Phrase("commerce.events_recorded", _("%(source)s: %(events)d events recorded"))
IMPORT_FINISHED = Phrase("commerce.import_finished", _("%(file)s: %(imported)d of %(rows)d rows imported"))
ROWS_DONE = Phrase("commerce.rows_done", _("%(done)s of %(total)s rows"))
IMPORT_REPORT = Phrase("commerce.import_report", _("Import report of %(rows)d rows"))
STORE_CREATED = Phrase(
    "commerce.store_created",
    _("%(channel)s store %(source)s, %(currency)s, time zone %(time_zone)s"),
    labels={"channel": Channel},
)
WEBHOOK_SECRET_SET = Phrase("commerce.webhook_secret_set", _("Webhook signing secret set"))


def _local_minute(iso: str) -> str:
    moment = parse_datetime(iso)
    return date_format(localtime(moment), "Y-m-d H:i") if moment else iso


WEBHOOK_SECRET_ROTATED = Phrase(
    "commerce.webhook_secret_rotated",
    _("Webhook signing secret rotated; the old one is accepted until %(until)s"),
    labels={"until": _local_minute},
)
WEBHOOK_SECRET_REMOVED = Phrase("commerce.webhook_secret_removed", _("Webhook signing secret removed"))
API_CREDENTIALS_SET = Phrase(
    "commerce.api_credentials_set", _("Reconciliation API set to %(address)s; access secret changed")
)
API_ADDRESS_SET = Phrase("commerce.api_address_set", _("Reconciliation API set to %(address)s"))
API_CREDENTIALS_REMOVED = Phrase("commerce.api_credentials_removed", _("Reconciliation API removed"))
SALES_ORDER = Phrase("commerce.sales_order", _("Sales order, %(status)s"), labels={"status": Order.Status})
