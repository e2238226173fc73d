"""The customers app's own references to a customer, registered like every other app's."""

from guanxi.customers.models import (
    Address,
    Consent,
    Customer,
    CustomerTag,
    CustomerUnit,
    CustomFieldValue,
    Identity,
    IdentityHint,
    MergeRecord,
    MergeSuggestion,
    Note,
    TimelineEvent,
)
from guanxi.customers.references import Keep, Repoint, register_reference


def register() -> None:
    register_reference("identities", Identity, Repoint())
    register_reference(
        "identity_hints", IdentityHint, Repoint(("kind", "namespace", "value"), keep="created_at")
    )
    register_reference("tags", CustomerTag, Repoint(("tag_id",), keep="added_at"))
    register_reference("notes", Note, Repoint())
    register_reference("consents", Consent, Repoint())
    register_reference("addresses", Address, Repoint())
    # The most recently set value wins.
    register_reference("custom_values", CustomFieldValue, Repoint(("definition_id",), keep="-updated_at"))
    register_reference("unit_links", CustomerUnit, Repoint(("unit_id",), keep="first_seen_at"))
    register_reference("timeline", TimelineEvent, Repoint())
    register_reference(
        "merged_into",
        Customer,
        Keep("merging sets it on the absorbed customer; undo clears it"),
        field="merged_into",
    )
    for side in ("survivor", "absorbed"):
        register_reference(f"merge_record_{side}", MergeRecord, Keep("the merge's own record"), field=side)
    for side in ("customer_a", "customer_b"):
        register_reference(
            f"suggestion_{side}",
            MergeSuggestion,
            Keep("a merge supersedes the absorbed customer's open suggestions; undo re-opens them"),
            field=side,
        )
