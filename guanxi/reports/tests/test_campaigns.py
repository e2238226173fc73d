"""The campaign effect report on fixed campaigns: per campaign sent in the period, marketing's own
figures (recipients, holdout, conversion of each, incremental revenue and its coupon cost), scoped to
the viewer's units, and the drill-down to the customers of a campaign."""

from decimal import Decimal

from guanxi.reports.tests.data import PERIOD


def _table(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    result = response.context["result"]
    return [(row.label, *row.values) for row in result.rows], result.totals


def test_campaign_effect_per_campaign_of_a_unit(client, campaigns, unit_a_head):
    client.force_login(unit_a_head)

    rows, totals = _table(client, f"/reports/campaigns/?{PERIOD}")

    # (campaign, incremental after coupon cost, treated, holdout, conversion treated %, holdout %,
    #  incremental revenue, coupon cost). 母亲节: treated spent (300 + 0) / 2 = 150 each, the holdout
    # 100: (150 − 100) × 2 = 100, less the 20 of the redeemed coupon.
    assert rows == [
        (
            "母亲节",
            Decimal("80.00"),
            2,
            1,
            Decimal("50.00"),
            Decimal("100.00"),
            Decimal("100.00"),
            Decimal("20.00"),
        ),
        (
            "春节",
            Decimal("50.00"),
            1,
            1,
            Decimal("100.00"),
            Decimal("0.00"),
            Decimal("50.00"),
            Decimal("0.00"),
        ),
    ]
    assert totals == (Decimal("130.00"), 3, 2, None, None, Decimal("150.00"), Decimal("20.00"))


def test_campaign_effect_is_scoped_and_drills_to_the_campaign_s_customers(
    client, shop, campaigns, unit_b_head, unit_a_head
):
    client.force_login(unit_b_head)
    rows, _totals = _table(client, f"/reports/campaigns/?{PERIOD}")
    assert [row[:3] for row in rows] == [("美妆节", Decimal("0.00"), 1)]

    client.force_login(unit_a_head)
    drill = client.get(f"/reports/campaigns/drill/?value={campaigns.pk}&{PERIOD}")
    assert drill.status_code == 200
    assert [row[0] for row in drill.context["drilled"].table.rows] == sorted(
        [shop["zhang"].pk, shop["li"].pk, shop["wang"].pk]
    )
    march = client.get("/reports/campaigns/?start=2025-03&end=2025-03").context["result"]
    assert [row.label for row in march.rows] == ["母亲节"]
