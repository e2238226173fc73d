"""What customers writes as codes, put into words when shown (guanxi.core.display): its audit
messages and the reasons of merges."""

from django.utils.translation import gettext_lazy as _

from guanxi.core.display import Phrase, render
from guanxi.customers.models import ConsentChannel

CUSTOMERS_CREATED = Phrase("customers.created", _("%(count)d customers created from %(source)s"))
ON_CUSTOMER = Phrase("customers.on_customer", _("On customer #%(customer)s"))
TAG_ADDED = Phrase("customers.tag_added", _("Tag “%(tag)s” added"))
TAG_REMOVED = Phrase("customers.tag_removed", _("Tag “%(tag)s” removed"))
CUSTOM_FIELD_SET = Phrase("customers.custom_field_set", _("Custom field “%(field)s” set"))
CONSENT_RECORDED = Phrase(
    "customers.consent_recorded",
    _("Consent for %(channel)s on customer #%(customer)s"),
    labels={"channel": ConsentChannel},
)
OWNER_ASSIGNED = Phrase("customers.owner_assigned", _("Owner: %(owner)s"))
OWNER_REMOVED = Phrase("customers.owner_removed", _("Owner removed"))

# Why two customers were merged: MergeRecord.reason holds one of these codes, or a person's words.
MERGED_STRONG = Phrase("customers.merge_strong", _("Same strong identifier"))
MERGED_IDENTIFIER_ADDED = Phrase("customers.merge_identifier_added", _("A strong identifier was added"))
MERGED_SUGGESTION = Phrase("customers.merge_suggestion", _("Merge suggestion accepted"))


def reason_text(reason: str) -> str:
    """A merge's reason in the reader's language: its phrase, or the words a person gave."""
    return render(reason, fallback=reason)


MERGED = Phrase(
    "customers.merged",
    _("Customer #%(absorbed)s merged into #%(survivor)s (merge #%(merge)s): %(reason)s"),
    labels={"reason": reason_text},
)
UNMERGED = Phrase(
    "customers.unmerged", _("Merge #%(merge)s undone: customer #%(absorbed)s split from #%(survivor)s")
)
SUGGESTION_REJECTED = Phrase("customers.suggestion_rejected", _("Merge suggestion rejected: %(reason)s"))

# Progress of the merge jobs.
MERGES_DONE = Phrase("customers.merges_done", _("%(count)d merges"))
SUGGESTIONS_FOUND = Phrase("customers.suggestions_found", _("%(count)d new merge suggestions"))
