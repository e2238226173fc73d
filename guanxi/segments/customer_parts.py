"""What segments hold about a customer: membership rows, which a merge leaves to be recomputed."""

from guanxi.customers.references import Recompute, register_reference
from guanxi.segments.models import SegmentMembership


def register() -> None:
    register_personal_data()
    register_reference(
        "segment_memberships",
        SegmentMembership,
        # Merging writes a timeline event on both customers, which notes them as changed.
        Recompute("the change feed re-evaluates both customers in every dynamic segment"),
    )


def register_personal_data() -> None:
    """Declare how erasure treats this app's personal fields (guanxi.privacy; a test keeps it complete)."""
    from guanxi.customers.references import NotPersonal, register_pii
    from guanxi.segments.models import Segment

    register_pii(Segment, ["name"], NotPersonal("A segment's name."))
