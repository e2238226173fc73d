"""The demo's marketing: journeys installed and live on the demo's own orders, the Mother's Day
campaign sent with its holdout (nothing for the held out) and an effect report, a Double 11 A/B test."""

import pytest

from guanxi.demo.loader import REFERENCE_ANCHOR, load_demo
from guanxi.demo.marketing import LIVE, install_demo_marketing
from guanxi.loyalty.models import CouponCode
from guanxi.marketing import effect
from guanxi.marketing.models import Campaign, Enrolment, Flow, Recipient
from guanxi.messaging.models import Message
from guanxi.segments.actions import refresh_all_segments
from guanxi.segments.ready_made import install_ready_made_segments

pytestmark = pytest.mark.django_db


def test_the_demo_runs_journeys_and_reports_its_campaigns():
    load_demo(customers=300, anchor=REFERENCE_ANCHOR)
    install_ready_made_segments()
    refresh_all_segments(now=REFERENCE_ANCHOR)
    counts = install_demo_marketing()
    assert counts["flows"] == 11 * 2 and counts["live_flows"] == len(LIVE) * 2
    assert set(Flow.objects.filter(key__in=LIVE).values_list("status", flat=True)) == {"active"}
    assert Flow.objects.exclude(key__in=LIVE).filter(status="active").count() == 0
    mothers = Campaign.objects.filter(key="mothers-day").order_by("pk").first()
    assert mothers is not None and mothers.status == Campaign.Status.SENT
    held = Recipient.objects.filter(campaign=mothers, group="holdout").values("customer_id")
    assert (
        Recipient.objects.filter(campaign=mothers).count()
        > Recipient.objects.filter(campaign=mothers, group="holdout").count()
        > 0
    )
    assert not Message.objects.filter(source=f"campaign:{mothers.pk}", customer_id__in=held).exists()
    assert not CouponCode.objects.filter(customer_id__in=held, template=mothers.coupon).exists()
    report = effect.analyse(mothers)
    assert report is not None and report.treated.converted > 0
    ab = Campaign.objects.filter(key="double11-ab").order_by("pk").first()
    assert ab is not None and effect.analyse(ab).ab_test is not None
    assert Enrolment.objects.exists() or counts["enrolled"] == 0
