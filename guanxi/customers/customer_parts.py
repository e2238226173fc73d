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
    register_personal_data()
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


def register_personal_data() -> None:
    """Declare how erasure treats this app's personal fields (guanxi.privacy; a test keeps it complete)."""
    from guanxi.customers.models import (
        Address,
        Consent,
        Customer,
        CustomFieldDefinition,
        CustomFieldValue,
        Identity,
        IdentityHint,
        MergeRecord,
        MergeSuggestion,
        Note,
        Tag,
        TagGroup,
        TimelineEvent,
    )
    from guanxi.customers.references import Blank, DeleteRows, NotPersonal, Scrub, register_pii

    register_pii(
        Customer,
        [
            "name",
            "notes",
            "gender",
            "birthday",
            "province",
            "city",
            "district",
            "occupation",
            "source_channel",
        ],
        Blank(customer="pk"),
    )
    register_pii(Identity, ["value", "namespace"], DeleteRows())
    register_pii(IdentityHint, ["value", "namespace"], DeleteRows())
    register_pii(Address, ["receiver", "phone", "street"], DeleteRows())
    register_pii(Consent, ["evidence", "text_version", "purpose", "source"], DeleteRows())
    register_pii(CustomFieldValue, ["value"], DeleteRows())
    register_pii(Note, ["body"], DeleteRows())
    register_pii(TimelineEvent, ["data"], DeleteRows())
    # A merge keeps copies of the absorbed profile's rows (for undo), a suggestion its evidence.
    register_pii(MergeRecord, ["snapshot", "evidence"], Scrub())
    register_pii(MergeSuggestion, ["evidence"], Scrub())
    register_pii(CustomFieldDefinition, ["label"], NotPersonal("A custom field's label."))
    register_pii(Tag, ["name"], NotPersonal("A tag's name."))
    register_pii(TagGroup, ["name"], NotPersonal("A tag group's name."))
