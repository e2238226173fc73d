"""What marketing keeps about a customer: enrolments in flows and campaign recipients follow a merge
to the survivor (of two enrolments for one trigger the older stays), and the 360 page shows the
customer's flows and campaigns (the "Marketing" section)."""

from guanxi.customers.references import Repoint, Section, register_reference, register_section
from guanxi.marketing import fetch
from guanxi.marketing.models import Enrolment, Recipient


def register() -> None:
    register_personal_data()
    register_reference(
        "marketing_enrolments", Enrolment, Repoint(unique_with=("flow", "trigger_key"), keep="id")
    )
    register_reference("marketing_recipients", Recipient, Repoint(unique_with=("campaign",), keep="id"))
    register_section(
        Section(key="marketing", template="marketing/customer_marketing.html", fetch=fetch.customer_marketing)
    )


def register_personal_data() -> None:
    """Declare how erasure treats this app's personal fields (guanxi.privacy; a test keeps it complete)."""
    from guanxi.customers.references import Blank, NotPersonal, Scrub, register_pii
    from guanxi.marketing.models import Campaign, Enrolment, Flow, StepRun

    register_pii(Enrolment, ["context"], Blank())
    register_pii(StepRun, ["detail"], Scrub())
    register_pii(Campaign, ["name"], NotPersonal("A campaign's name."))
    register_pii(Flow, ["name"], NotPersonal("A flow's name."))
