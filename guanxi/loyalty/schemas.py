"""The loyalty API's shapes, shared by its endpoints and the customer 360 API field."""

from datetime import datetime
from decimal import Decimal

from ninja import Schema
from pydantic import Field


class CustomerMembershipOut(Schema):
    programme_id: int
    programme: str
    membership_id: int
    tier: str
    tier_rank: int
    tier_since: datetime
    points: int = Field(description="The balance: what is left of the member's lots.")
    debt: int = Field(description="Points reversed beyond the balance, paid from the next earnings.")
    points_value: Decimal = Field(description="The balance at the programme's value of a point.")
    next_expiry_points: int
    next_expiry_at: datetime | None
