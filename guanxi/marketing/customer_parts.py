"""What marketing keeps about a customer: enrolments in flows and campaign recipients follow a merge
to the survivor (of two enrolments for one trigger the older stays), and the 360 page shows the
customer's flows and campaigns (the "Marketing" section)."""

from guanxi.customers.references import Repoint, Section, register_reference, register_section
from guanxi.marketing import fetch
from guanxi.marketing.models import Enrolment, Recipient


def register() -> None:
    register_reference(
        "marketing_enrolments", Enrolment, Repoint(unique_with=("flow", "trigger_key"), keep="id")
    )
    register_reference("marketing_recipients", Recipient, Repoint(unique_with=("campaign",), keep="id"))
    register_section(
        Section(key="marketing", template="marketing/customer_marketing.html", fetch=fetch.customer_marketing)
    )
