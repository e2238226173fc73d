"""Marketing work off the request, scheduled in guanxi/config/schedules.py: following the customer
change feed, running due flow steps (and resuming what a dead worker left), the trigger scan, and
sending scheduled campaigns and the winners of their A/B tests."""

from guanxi.marketing import engine


def follow_changes() -> None:
    engine.follow_changes()
    engine.run_due()


def tick() -> None:
    """Every minute: the triggers the feed does not carry, due steps, due campaigns."""
    from guanxi.marketing import campaigns

    engine.scan()
    engine.run_due()
    campaigns.send_due()
    campaigns.send_winners()
