"""What privacy adds to a customer: its requests on the 360 page, the personal-data declarations of
the apps below customers (core, accounts) and its own, and the suppression check on new identities."""

from guanxi.accounts.models import ApiToken, BusinessUnit, Organisation, User
from guanxi.core.models import AuditEntry, Job
from guanxi.customers.references import (
    NotPersonal,
    Repoint,
    Retain,
    Scrub,
    Section,
    register_identity_listener,
    register_pii,
    register_reference,
    register_section,
)
from guanxi.privacy.models import PrivacyRequest, RetentionSetting


def customer_requests(user, customer) -> dict:
    """The customer's privacy requests the user may see, and what the user may start."""
    may_request = user.has_permission("privacy.request")
    rows = list(
        PrivacyRequest.objects.restrict(user, "request")
        .filter(customer=customer)
        .select_related("requested_by")[:10]
    )
    return {"requests": rows, "can_request": may_request}


def register() -> None:
    from guanxi.privacy.actions import erased_identities

    register_reference("privacy_requests", PrivacyRequest, Repoint())
    register_identity_listener("privacy", erased_identities)
    register_section(
        Section(key="privacy", template="privacy/customer_privacy.html", fetch=customer_requests)
    )
    register_pii(PrivacyRequest, ["note"], Scrub())
    register_pii(Job, ["params", "message"], Scrub())
    register_pii(Job, ["message_params"], Scrub())
    register_pii(
        AuditEntry,
        ["object_label", "message", "message_params", "changes"],
        Retain(
            "The audit log is append-only and never holds personal data: labels are ids, changed values "
            "of personal fields are written as [redacted], messages are phrase codes with ids."
        ),
    )
    register_pii(AuditEntry, ["actor_name"], NotPersonal("The staff member who acted, not a customer."))
    register_pii(AuditEntry, ["message_code"], NotPersonal("A phrase code."))
    register_pii(RetentionSetting, ["data_class"], NotPersonal("The name of a data class."))
    register_pii(
        User, ["username", "first_name", "last_name", "email", "display_name"], NotPersonal("Staff accounts.")
    )
    register_pii(ApiToken, ["name"], NotPersonal("A token's label chosen by staff."))
    register_pii(Organisation, ["name"], NotPersonal("The merchant's own name."))
    register_pii(BusinessUnit, ["name"], NotPersonal("A business unit's name."))
