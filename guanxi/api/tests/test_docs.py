"""The OpenAPI document and the interactive docs page."""

import json
import re

from guanxi.api.openapi import OPENAPI_PATH, render_openapi


def test_committed_openapi_matches_the_code():
    committed = OPENAPI_PATH.read_text(encoding="utf-8") if OPENAPI_PATH.exists() else ""

    assert committed == render_openapi(), (
        "docs/api/openapi.json is out of date: run `guanxi manage export_openapi`, review the diff, "
        "log the change in docs/api/changelog.md and commit both."
    )


def test_openapi_json_is_served_without_login(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert (schema["info"]["title"], schema["info"]["version"]) == ("Guanxi API", "1")
    assert sorted(schema["paths"]) == [
        "/api/v1/analytics/model-quality",
        "/api/v1/custom-fields",
        "/api/v1/custom-fields/{field_id}",
        "/api/v1/customers",
        "/api/v1/customers/{customer_id}",
        "/api/v1/customers/{customer_id}/consent",
        "/api/v1/customers/{customer_id}/metrics",
        "/api/v1/customers/{customer_id}/owner",
        "/api/v1/customers/{customer_id}/timeline",
        "/api/v1/events",
        "/api/v1/jobs/{job_id}",
        "/api/v1/loyalty/coupon-templates",
        "/api/v1/loyalty/coupon-templates/{template_id}/codes",
        "/api/v1/loyalty/coupon-templates/{template_id}/issue",
        "/api/v1/loyalty/coupons/redeem",
        "/api/v1/loyalty/customers/{customer_id}",
        "/api/v1/loyalty/liability",
        "/api/v1/loyalty/members",
        "/api/v1/loyalty/members/{membership_id}",
        "/api/v1/loyalty/members/{membership_id}/adjust",
        "/api/v1/loyalty/members/{membership_id}/ledger",
        "/api/v1/loyalty/members/{membership_id}/redeem",
        "/api/v1/loyalty/programmes",
        "/api/v1/loyalty/programmes/{programme_id}",
        "/api/v1/loyalty/programmes/{programme_id}/members",
        "/api/v1/loyalty/programmes/{programme_id}/referrals",
        "/api/v1/loyalty/programmes/{programme_id}/rules",
        "/api/v1/loyalty/programmes/{programme_id}/tiers",
        "/api/v1/marketing/campaigns",
        "/api/v1/marketing/campaigns/{campaign_id}",
        "/api/v1/marketing/campaigns/{campaign_id}/approve",
        "/api/v1/marketing/campaigns/{campaign_id}/effect",
        "/api/v1/marketing/campaigns/{campaign_id}/submit",
        "/api/v1/marketing/flows",
        "/api/v1/marketing/flows/{flow_id}",
        "/api/v1/marketing/flows/{flow_id}/enrolments",
        "/api/v1/marketing/flows/{flow_id}/publish",
        "/api/v1/marketing/flows/{flow_id}/status",
        "/api/v1/me",
        "/api/v1/messaging/bulk-sends",
        "/api/v1/messaging/channels",
        "/api/v1/messaging/channels/{channel_id}/test",
        "/api/v1/messaging/customers/{customer_id}/messages",
        "/api/v1/messaging/messages",
        "/api/v1/messaging/messages/{message_id}",
        "/api/v1/messaging/messages/{message_id}/cancel",
        "/api/v1/messaging/opt-outs",
        "/api/v1/messaging/statistics",
        "/api/v1/messaging/templates",
        "/api/v1/messaging/templates/{template_id}/preview",
        "/api/v1/orders",
        "/api/v1/orders/{order_id}",
        "/api/v1/privacy/requests",
        "/api/v1/privacy/requests/{request_id}",
        "/api/v1/privacy/requests/{request_id}/approve",
        "/api/v1/privacy/requests/{request_id}/download",
        "/api/v1/privacy/requests/{request_id}/run",
        "/api/v1/sales/accounts",
        "/api/v1/sales/accounts/{account_id}",
        "/api/v1/sales/activities",
        "/api/v1/sales/activities/{activity_id}/complete",
        "/api/v1/sales/forecast",
        "/api/v1/sales/leads",
        "/api/v1/sales/leads/{lead_id}",
        "/api/v1/sales/leads/{lead_id}/assign",
        "/api/v1/sales/leads/{lead_id}/convert",
        "/api/v1/sales/leads/{lead_id}/disqualify",
        "/api/v1/sales/leads/{lead_id}/qualify",
        "/api/v1/sales/notifications",
        "/api/v1/sales/notifications/read",
        "/api/v1/sales/opportunities",
        "/api/v1/sales/opportunities/{opportunity_id}",
        "/api/v1/sales/opportunities/{opportunity_id}/stage",
        "/api/v1/sales/pipelines",
        "/api/v1/segments",
        "/api/v1/segments/preview",
        "/api/v1/segments/sample",
        "/api/v1/segments/{segment_id}",
        "/api/v1/segments/{segment_id}/export",
        "/api/v1/segments/{segment_id}/list",
        "/api/v1/segments/{segment_id}/members",
        "/api/v1/segments/{segment_id}/refresh",
        "/api/v1/segments/{segment_id}/tag",
        "/api/v1/service/holidays",
        "/api/v1/service/nps-surveys",
        "/api/v1/service/policies",
        "/api/v1/service/report",
        "/api/v1/service/tickets",
        "/api/v1/service/tickets/{ticket_id}",
        "/api/v1/service/tickets/{ticket_id}/assign",
        "/api/v1/service/tickets/{ticket_id}/attachments",
        "/api/v1/service/tickets/{ticket_id}/attachments/{attachment_id}",
        "/api/v1/service/tickets/{ticket_id}/events",
        "/api/v1/service/tickets/{ticket_id}/notes",
        "/api/v1/service/tickets/{ticket_id}/replies",
        "/api/v1/service/tickets/{ticket_id}/transfers",
        "/api/v1/service/tickets/{ticket_id}/transitions",
        "/api/v1/service/transfers/{transfer_id}/approve",
        "/api/v1/service/transfers/{transfer_id}/reject",
        "/api/v1/service/units/{unit_id}/policies",
        "/api/v1/stores",
        "/api/v1/stores/{store_id}",
        "/api/v1/stores/{store_id}/webhook-secret",
        "/api/v1/tag-groups",
        "/api/v1/tag-groups/{group_id}",
        "/api/v1/tags",
        "/api/v1/tags/{tag_id}",
        "/api/v1/tokens",
        "/api/v1/tokens/{token_id}",
        "/api/v1/units",
        "/api/v1/units/{unit_id}",
    ]
    assert json.loads(render_openapi())["paths"] == schema["paths"]


def test_docs_page_uses_only_local_assets(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/ninja/swagger-ui-bundle.js" in assets
    assert "/static/ninja/swagger-ui.css" in assets
    assert [url for url in assets if "//" in url] == []
    assert "cdn" not in html.lower()


def test_docs_assets_are_served(client):
    for asset in ("/static/ninja/swagger-ui-bundle.js", "/static/ninja/swagger-ui-init.js"):
        response = client.get(asset)
        assert response.status_code == 200, asset
