"""Every page and API route, walked as a unit-A user: no unit-B record may appear.

Every registered route must be classified in ROUTES; a new route without a classification fails
`test_every_route_is_classified`, so scoping cannot be forgotten. Every detail route is sent its
own method and also PATCH and PUT with a unit-B id; each must answer 403, 404 or 405. Unit-B data carry the marker
MARKER in names, numbers and messages; a response that contains it (raw or JSON-escaped) leaks.
"""

import re
from dataclasses import dataclass
from typing import Literal

import pytest
from django.urls import URLResolver, get_resolver

from guanxi.accounts import actions as account_actions
from guanxi.accounts.roles import Role
from guanxi.api.main import api
from guanxi.commerce.models import ImportRun
from guanxi.commerce.phrases import IMPORT_FINISHED
from guanxi.commerce.tests.factories import make_customer, make_order, make_store
from guanxi.core import audit
from guanxi.core.models import AuditEntry
from guanxi.customers import profile
from guanxi.customers.merging.merge import merge_customers
from guanxi.customers.models import MergeSuggestion
from guanxi.privacy import actions as privacy_actions
from guanxi.reports.catalogue import REPORTS
from guanxi.reports.models import Delivery
from guanxi.sales.actions import configuration as sales_configuration
from guanxi.sales.actions import leads as sales_leads
from guanxi.sales.actions import opportunities as sales_deals
from guanxi.sales.actions.accounts import create_account
from guanxi.sales.actions.activities import log_activity
from guanxi.segments import actions as segment_actions

MARKER = "BETAUNITSECRET"
EVERYONE = {"version": 1, "root": {"all": []}}
UNIT_ROLES = [
    Role.UNIT_HEAD,
    Role.UNIT_ADMIN,
    Role.MARKETER,
    Role.SERVICE_AGENT,
    Role.SALES_REP,
    Role.SALES_MANAGER,
    Role.ANALYST,
]
AREAS = [
    "loyalty",
    "marketing",
    "messaging",
    "reports",
    "service",
]

REPORT_SLUGS = [report.slug for report in REPORTS]

Kind = Literal["public", "page", "detail", "shared", "self"]


@dataclass(frozen=True)
class Route:
    """How the walk treats a route: public (no data), page (list, scoped), detail (object id
    filled in: unit-B ids must be refused), shared (an organisation-wide row, such as a tag, which
    every unit uses: its id is filled in and no unit-B data may show), self (only the user's own
    records)."""

    kind: Kind
    method: str = "get"
    object: str = ""  # for detail routes: which of the world's objects fills the id
    api: bool = False
    # For an API write whose body has required fields: a valid body, so the object lookup (not the
    # body's validation) decides the answer. Others are sent an empty JSON object.
    body: dict | None = None


ROUTES: dict[tuple[str, str | None], Route] = {
    ("i18n/setlang/", "set_language"): Route("public"),
    ("accounts/login/", "login"): Route("public"),
    ("accounts/login/code/", "otp_verify"): Route("public"),
    ("accounts/logout/", "logout"): Route("public"),
    ("accounts/two-factor/", "otp_setup"): Route("self"),
    ("accounts/users/", "user_list"): Route("page"),
    ("accounts/users/add/", "user_add"): Route("page"),
    ("accounts/users/<int:pk>/", "user"): Route("detail", object="user"),
    ("accounts/tokens/", "token_list"): Route("self"),
    ("accounts/tokens/add/", "token_add"): Route("self"),
    ("accounts/tokens/<int:pk>/revoke/", "token_revoke"): Route("detail", method="post", object="token"),
    ("api/v1/openapi.json", "openapi-json"): Route("public", api=True),
    ("api/v1/docs", "openapi-view"): Route("public", api=True),
    ("api/v1/", "api-root"): Route("public", api=True),
    ("api/v1/", None): Route("public", api=True),
    ("api/v1/me", "me"): Route("self", api=True),
    ("api/v1/units", "list_units"): Route("page", api=True),
    ("api/v1/units", "create_unit"): Route("page", method="post", api=True),
    ("api/v1/units/<unit_id>", "update_unit"): Route("detail", method="patch", object="unit", api=True),
    ("accounts/units/", "unit_list"): Route("page"),
    ("accounts/units/<int:pk>/", "unit"): Route("detail", object="unit"),
    ("settings/", "settings"): Route("page"),
    ("api/v1/stores", "list_stores"): Route("page", api=True),
    ("api/v1/stores", "create_store"): Route("page", method="post", api=True),
    ("api/v1/stores/<store_id>", "get_store"): Route("detail", object="store", api=True),
    ("api/v1/stores/<store_id>", "update_store"): Route("detail", method="patch", object="store", api=True),
    ("api/v1/stores/<store_id>/webhook-secret", "set_webhook_secret"): Route(
        "detail", method="post", object="store", api=True
    ),
    ("api/v1/customers/<customer_id>/consent", "record_consent"): Route(
        "detail",
        method="post",
        object="customer",
        api=True,
        body={"channel": "sms", "state": "granted", "method": "verbal", "purpose": "walk"},
    ),
    ("api/v1/customers/<customer_id>/owner", "assign_owner"): Route(
        "detail", method="put", object="customer", api=True, body={"owner_id": None}
    ),
    ("api/v1/tag-groups", "list_tag_groups"): Route("page", api=True),
    ("api/v1/tag-groups", "create_tag_group"): Route("page", method="post", api=True),
    ("api/v1/tag-groups/<group_id>", "update_tag_group"): Route(
        "shared", method="patch", object="tag_group", api=True
    ),
    ("api/v1/tags", "list_tags"): Route("page", api=True),
    ("api/v1/tags", "create_tag"): Route("page", method="post", api=True),
    ("api/v1/tags/<tag_id>", "update_tag"): Route("shared", method="patch", object="tag", api=True),
    ("api/v1/custom-fields", "list_custom_fields"): Route("page", api=True),
    ("api/v1/custom-fields", "create_custom_field"): Route("page", method="post", api=True),
    ("api/v1/custom-fields/<field_id>", "update_custom_field"): Route(
        "shared", method="patch", object="custom_field", api=True
    ),
    ("customers/tags/", "tag_list"): Route("page"),
    ("customers/tags/<int:pk>/", "tag"): Route("shared", object="tag"),
    ("customers/tag-groups/<int:pk>/", "tag_group"): Route("shared", object="tag_group"),
    ("customers/fields/", "custom_field_list"): Route("page"),
    ("customers/fields/<int:pk>/", "custom_field"): Route("shared", object="custom_field"),
    ("customers/<int:pk>/consent/", "customer_consent"): Route("detail", method="post", object="customer"),
    ("customers/<int:pk>/owner/", "customer_owner"): Route("detail", method="post", object="customer"),
    ("api/v1/tokens", "list_tokens"): Route("self", api=True),
    ("api/v1/tokens", "create_token"): Route("self", method="post", api=True),
    ("api/v1/tokens/<token_id>", "revoke_token"): Route("detail", method="delete", object="token", api=True),
    ("api/v1/customers", "list_customers"): Route("page", api=True),
    ("api/v1/customers/<customer_id>", "get_customer"): Route("detail", object="customer", api=True),
    ("api/v1/orders", "list_orders"): Route("page", api=True),
    ("api/v1/orders/<order_id>", "get_order"): Route("detail", object="order", api=True),
    # Ingestion writes; items for stores outside the caller's units are rejected per item
    # (guanxi/commerce/tests/test_ingestion.py::test_unit_a_token_cannot_ingest_into_a_unit_b_store).
    ("api/v1/orders", "ingest_orders"): Route("self", method="post", api=True),
    ("api/v1/events", "ingest_events"): Route("self", method="post", api=True),
    # Signature-authenticated, no session; they answer with a status, never with data.
    ("webhooks/shopify/<str:source>", "shopify"): Route("public"),
    ("webhooks/woocommerce/<str:source>", "woocommerce"): Route("public"),
    ("webhooks/health", "health"): Route("public"),
    ("api/v1/jobs/<job_id>", "get_job"): Route("detail", object="job", api=True),
    ("api/v1/customers/<customer_id>/timeline", "get_customer_timeline"): Route(
        "detail", object="customer", api=True
    ),
    ("api/v1/customers/<customer_id>/metrics", "get_customer_metrics"): Route(
        "detail", object="customer", api=True
    ),
    ("api/v1/analytics/model-quality", "get_model_quality"): Route("page", api=True),
    ("", "dashboard"): Route("page"),
    ("jobs/", "job_list"): Route("page"),
    ("jobs/<int:pk>/", "job"): Route("detail", object="job"),
    ("jobs/<int:pk>/progress/", "job_progress"): Route("detail", object="job"),
    ("audit/", "audit_list"): Route("page"),
    ("analytics/", "overview"): Route("page"),
    ("segments/", "segment_list"): Route("page"),
    ("segments/add/", "segment_add"): Route("page"),
    ("segments/builder/", "builder"): Route("page", method="post"),
    ("segments/preview/", "preview"): Route("page", method="post"),
    ("segments/<int:pk>/", "segment"): Route("detail", object="segment"),
    ("segments/<int:pk>/edit/", "segment_edit"): Route("detail", object="segment"),
    ("segments/<int:pk>/delete/", "segment_delete"): Route("detail", method="post", object="segment"),
    ("segments/<int:pk>/refresh/", "segment_refresh"): Route("detail", method="post", object="segment"),
    ("segments/<int:pk>/tag/", "segment_tag"): Route("detail", method="post", object="segment"),
    ("segments/<int:pk>/nps/", "segment_nps"): Route("detail", method="post", object="segment"),
    ("segments/<int:pk>/coupons/", "segment_coupons"): Route("detail", method="post", object="segment"),
    ("segments/<int:pk>/list/", "segment_upload"): Route("detail", method="post", object="segment"),
    ("segments/<int:pk>/export/", "segment_export"): Route("detail", object="segment"),
    ("api/v1/segments/preview", "preview_segment"): Route("page", method="post", api=True),
    ("api/v1/segments/sample", "sample_segment"): Route("page", method="post", api=True),
    ("api/v1/segments", "list_segments"): Route("page", api=True),
    ("api/v1/segments", "create_segment"): Route("page", method="post", api=True),
    ("api/v1/segments/<segment_id>", "get_segment"): Route("detail", object="segment", api=True),
    ("api/v1/segments/<segment_id>", "update_segment"): Route(
        "detail", method="patch", object="segment", api=True
    ),
    ("api/v1/segments/<segment_id>", "delete_segment"): Route(
        "detail", method="delete", object="segment", api=True
    ),
    ("api/v1/segments/<segment_id>/members", "list_members"): Route("detail", object="segment", api=True),
    ("api/v1/segments/<segment_id>/members", "change_members"): Route(
        "detail", method="post", object="segment", api=True
    ),
    ("api/v1/segments/<segment_id>/refresh", "refresh_segment"): Route(
        "detail", method="post", object="segment", api=True
    ),
    ("api/v1/segments/<segment_id>/list", "upload_list"): Route(
        "detail", method="post", object="segment", api=True
    ),
    ("api/v1/segments/<segment_id>/tag", "tag_members"): Route(
        "detail", method="post", object="segment", api=True
    ),
    ("api/v1/segments/<segment_id>/export", "export_members"): Route("detail", object="segment", api=True),
    ("customers/", "customer_list"): Route("page"),
    ("customers/<int:pk>/", "customer"): Route("detail", object="customer"),
    ("customers/<int:pk>/timeline/", "customer_timeline"): Route("detail", object="customer"),
    ("customers/<int:pk>/tags/", "customer_tag_add"): Route("detail", method="post", object="customer"),
    ("customers/<int:pk>/tags/<int:tag_pk>/remove/", "customer_tag_remove"): Route(
        "detail", method="post", object="customer"
    ),
    ("customers/<int:pk>/notes/", "customer_note_add"): Route("detail", method="post", object="customer"),
    ("orders/", "order_list"): Route("page"),
    ("orders/<int:pk>/", "order"): Route("detail", object="order"),
    ("imports/", "import_list"): Route("page"),
    ("imports/add/", "import_add"): Route("page"),
    ("imports/started/<int:pk>/", "import_job"): Route("detail", object="job"),
    ("imports/<int:pk>/", "import"): Route("detail", object="import_run"),
    ("imports/<int:pk>/confirm/", "import_confirm"): Route("detail", method="post", object="import_run"),
    ("imports/<int:pk>/errors.csv", "import_errors"): Route("detail", object="import_run"),
    ("stores/", "store_list"): Route("page"),
    ("stores/<int:pk>/", "store"): Route("detail", object="store"),
    ("stores/<int:pk>/webhook-secret/", "store_webhook_secret"): Route(
        "detail", method="post", object="store"
    ),
    ("stores/<int:pk>/api/", "store_api"): Route("detail", method="post", object="store"),
    ("customers/merges/", "merge_list"): Route("page"),
    # Starts an organisation-wide duplicate scan; the scan's suggestions are scoped when listed.
    ("customers/merges/scan/", "merge_scan"): Route("page", method="post"),
    ("customers/merges/<int:pk>/undo/", "merge_undo"): Route("detail", method="post", object="merge"),
    ("customers/merges/suggestions/<int:pk>/accept/", "merge_accept"): Route(
        "detail", method="post", object="suggestion"
    ),
    ("customers/merges/suggestions/<int:pk>/reject/", "merge_reject"): Route(
        "detail", method="post", object="suggestion"
    ),
    (f"^(?P<slug>{'|'.join(AREAS)})/$", "area"): Route("page"),
    ("reports/", "home"): Route("page"),
    # Stores the annual sales target of a unit the user sees; another unit's code is not found.
    ("reports/target/", "target"): Route("page", method="post"),
    # Walked once per report; a drill-down without a value lists every row behind the report's total.
    ("reports/<slug:slug>/", "report"): Route("page"),
    ("reports/<slug:slug>/drill/", "drill"): Route("page"),
    ("reports/<slug:slug>/schedule/", "schedule"): Route("page", method="post"),
    ("reports/deliveries/<int:pk>/cancel/", "delivery_cancel"): Route(
        "detail", method="post", object="delivery"
    ),
    ("messaging/", "outbox"): Route("page"),
    ("messaging/messages/<int:pk>/", "message"): Route("detail", object="message"),
    ("messaging/messages/<int:pk>/cancel/", "message_cancel"): Route(
        "detail", method="post", object="message"
    ),
    ("messaging/channels/", "channel_list"): Route("page"),
    ("messaging/channels/add/", "channel_add"): Route("page"),
    ("messaging/channels/<int:pk>/", "channel"): Route("detail", object="channel"),
    ("messaging/channels/<int:pk>/test/", "channel_test"): Route("detail", method="post", object="channel"),
    ("messaging/templates/", "template_list"): Route("page"),
    ("messaging/templates/add/", "template_add"): Route("page"),
    ("messaging/templates/<int:pk>/", "template"): Route("detail", object="template"),
    ("messaging/templates/preview/", "template_preview"): Route("page", method="post"),
    ("messaging/settings/", "settings"): Route("page"),
    ("messaging/statistics/", "statistics"): Route("page"),
    ("messaging/customers/<int:pk>/preferences/", "customer_preferences"): Route(
        "detail", method="post", object="customer"
    ),
    ("messaging/customers/<int:pk>/opt-out/", "customer_opt_out"): Route(
        "detail", method="post", object="customer"
    ),
    # Signed-token links and gateway callbacks: no session; they answer with a status or a bare page.
    ("m/unsubscribe/<str:token>/", "unsubscribe"): Route("public"),
    ("m/hooks/<str:token>/reports", "reports"): Route("public"),
    ("m/hooks/<str:token>/inbound", "inbound"): Route("public"),
    ("api/v1/messaging/messages", "list_messages"): Route("page", api=True),
    ("api/v1/messaging/messages", "enqueue_message"): Route("self", method="post", api=True),
    ("api/v1/messaging/messages/<message_id>", "get_message"): Route("detail", object="message", api=True),
    ("api/v1/messaging/messages/<message_id>/cancel", "cancel_message"): Route(
        "detail", method="post", object="message", api=True
    ),
    ("api/v1/messaging/bulk-sends", "bulk_send"): Route("self", method="post", api=True),
    ("api/v1/messaging/customers/<customer_id>/messages", "customer_messages"): Route(
        "detail", object="customer", api=True
    ),
    ("api/v1/messaging/channels", "list_channels"): Route("page", api=True),
    ("api/v1/messaging/channels/<channel_id>/test", "test_channel"): Route(
        "detail", method="post", object="channel", api=True
    ),
    ("api/v1/messaging/templates", "list_templates"): Route("page", api=True),
    ("api/v1/messaging/templates", "create_template"): Route("self", method="post", api=True),
    ("api/v1/messaging/templates/<template_id>/preview", "preview_template"): Route(
        "detail", method="post", object="template", api=True
    ),
    ("api/v1/messaging/opt-outs", "record_opt_out"): Route("self", method="post", api=True),
    ("api/v1/messaging/statistics", "statistics"): Route("page", api=True),
    ("sales/", "home"): Route("page"),
    ("sales/notifications/", "notification_list"): Route("self"),
    ("sales/notifications/read/", "notifications_read"): Route("self", method="post"),
    ("sales/pipeline/", "board"): Route("page"),
    ("sales/pipeline/stages/<int:stage>/cards/", "board_column"): Route("detail", object="stage"),
    ("sales/opportunities/", "opportunity_list"): Route("page"),
    ("sales/opportunities/add/", "opportunity_add"): Route("page"),
    ("sales/opportunities/<int:pk>/", "opportunity"): Route("detail", object="opportunity"),
    ("sales/opportunities/<int:pk>/edit/", "opportunity_edit"): Route("detail", object="opportunity"),
    ("sales/opportunities/<int:pk>/move/", "opportunity_move"): Route(
        "detail", method="post", object="opportunity"
    ),
    ("sales/opportunities/<int:pk>/assign/", "opportunity_assign"): Route(
        "detail", method="post", object="opportunity"
    ),
    ("sales/opportunities/<int:pk>/products/", "line_add"): Route(
        "detail", method="post", object="opportunity"
    ),
    ("sales/opportunities/<int:pk>/products/<int:line>/remove/", "line_remove"): Route(
        "detail", method="post", object="opportunity"
    ),
    ("sales/opportunities/<int:pk>/competitors/", "competitor_link"): Route(
        "detail", method="post", object="opportunity"
    ),
    ("sales/opportunities/<int:pk>/competitors/<int:link>/remove/", "competitor_unlink"): Route(
        "detail", method="post", object="opportunity"
    ),
    ("sales/opportunities/<int:pk>/quotes/", "quote_add"): Route(
        "detail", method="post", object="opportunity"
    ),
    ("sales/quotes/<int:pk>/status/", "quote_status"): Route("detail", method="post", object="quote"),
    ("sales/leads/", "lead_list"): Route("page"),
    ("sales/leads/add/", "lead_add"): Route("page"),
    ("sales/leads/import/", "lead_import"): Route("page"),
    ("sales/leads/<int:pk>/", "lead"): Route("detail", object="lead"),
    ("sales/leads/<int:pk>/edit/", "lead_edit"): Route("detail", object="lead"),
    ("sales/leads/<int:pk>/qualify/", "lead_qualify"): Route("detail", method="post", object="lead"),
    ("sales/leads/<int:pk>/disqualify/", "lead_disqualify"): Route("detail", method="post", object="lead"),
    ("sales/leads/<int:pk>/assign/", "lead_assign"): Route("detail", method="post", object="lead"),
    ("sales/leads/<int:pk>/convert/", "lead_convert"): Route("detail", object="lead"),
    ("sales/leads/<int:pk>/transfer/", "lead_transfer"): Route("detail", method="post", object="lead"),
    ("sales/transfers/", "transfer_list"): Route("page"),
    ("sales/transfers/<int:pk>/decide/", "transfer_decide"): Route(
        "detail", method="post", object="transfer"
    ),
    ("sales/accounts/", "account_list"): Route("page"),
    ("sales/accounts/add/", "account_add"): Route("page"),
    ("sales/accounts/<int:pk>/", "account"): Route("detail", object="sales_account"),
    ("sales/accounts/<int:pk>/edit/", "account_edit"): Route("detail", object="sales_account"),
    ("sales/accounts/<int:pk>/contacts/", "contact_add"): Route(
        "detail", method="post", object="sales_account"
    ),
    ("sales/activities/", "activity_list"): Route("page"),
    ("sales/activities/add/", "activity_add"): Route("page"),
    ("sales/activities/<int:pk>/complete/", "activity_complete"): Route(
        "detail", method="post", object="activity"
    ),
    ("sales/activities/<int:pk>/cancel/", "activity_cancel"): Route(
        "detail", method="post", object="activity"
    ),
    ("sales/competitors/", "competitor_list"): Route("page"),
    ("sales/forecast/", "forecast"): Route("page"),
    ("sales/reports/", "reports"): Route("page"),
    ("sales/inactivity/", "inactivity"): Route("page"),
    ("sales/targets/", "targets"): Route("page"),
    ("sales/settings/", "settings"): Route("page"),
    ("sales/settings/units/<int:unit>/rules/", "rules_save"): Route("detail", method="post", object="unit"),
    ("sales/settings/units/<int:unit>/pipelines/", "pipeline_add"): Route(
        "detail", method="post", object="unit"
    ),
    ("sales/settings/units/<int:unit>/forms/", "web_form_add"): Route("detail", method="post", object="unit"),
    ("sales/settings/pipelines/<int:pk>/", "pipeline_save"): Route(
        "detail", method="post", object="pipeline"
    ),
    ("sales/settings/pipelines/<int:pk>/stages/", "stage_add"): Route(
        "detail", method="post", object="pipeline"
    ),
    ("sales/settings/stages/<int:pk>/", "stage_save"): Route("detail", method="post", object="stage"),
    ("sales/settings/forms/<int:pk>/toggle/", "web_form_toggle"): Route(
        "detail", method="post", object="lead_form"
    ),
    # A visitor's web form, reached by its unguessable key; it shows the form's own heading only.
    ("sales/form/<str:key>/", "web_form"): Route("public"),
    ("api/v1/sales/pipelines", "list_pipelines"): Route("page", api=True),
    ("api/v1/sales/leads", "list_leads"): Route("page", api=True),
    ("api/v1/sales/leads", "create_lead"): Route("self", method="post", api=True),
    ("api/v1/sales/leads/<lead_id>", "get_lead"): Route("detail", object="lead", api=True),
    ("api/v1/sales/leads/<lead_id>", "update_lead"): Route("detail", method="patch", object="lead", api=True),
    ("api/v1/sales/leads/<lead_id>/qualify", "qualify_lead"): Route(
        "detail", method="post", object="lead", api=True
    ),
    ("api/v1/sales/leads/<lead_id>/disqualify", "disqualify_lead"): Route(
        "detail", method="post", object="lead", api=True
    ),
    ("api/v1/sales/leads/<lead_id>/assign", "assign_lead"): Route(
        "detail", method="post", object="lead", api=True
    ),
    ("api/v1/sales/leads/<lead_id>/convert", "convert_lead"): Route(
        "detail", method="post", object="lead", api=True
    ),
    ("api/v1/sales/opportunities", "list_opportunities"): Route("page", api=True),
    ("api/v1/sales/opportunities", "create_opportunity"): Route("self", method="post", api=True),
    ("api/v1/sales/opportunities/<opportunity_id>", "get_opportunity"): Route(
        "detail", object="opportunity", api=True
    ),
    ("api/v1/sales/opportunities/<opportunity_id>", "update_opportunity"): Route(
        "detail", method="patch", object="opportunity", api=True
    ),
    ("api/v1/sales/opportunities/<opportunity_id>/stage", "move_opportunity"): Route(
        "detail", method="post", object="opportunity", api=True
    ),
    ("api/v1/sales/forecast", "get_forecast"): Route("page", api=True),
    ("api/v1/sales/activities", "list_activities"): Route("page", api=True),
    ("api/v1/sales/activities", "create_activity"): Route("self", method="post", api=True),
    ("api/v1/sales/activities/<activity_id>/complete", "complete_activity"): Route(
        "detail", method="post", object="activity", api=True
    ),
    ("api/v1/sales/accounts", "list_accounts"): Route("page", api=True),
    ("api/v1/sales/accounts", "create_account"): Route("self", method="post", api=True),
    ("api/v1/sales/accounts/<account_id>", "get_account"): Route("detail", object="sales_account", api=True),
    ("api/v1/sales/notifications", "list_notifications"): Route("self", api=True),
    ("api/v1/sales/notifications/read", "read_notifications"): Route("self", method="post", api=True),
    ("service/", "inbox"): Route("page"),
    ("service/shift/", "shift"): Route("self", method="post"),
    ("service/tickets/", "ticket_list"): Route("page"),
    ("service/tickets/new/", "ticket_add"): Route("page"),
    ("service/tickets/<int:pk>/", "ticket"): Route("detail", object="ticket"),
    ("service/tickets/<int:pk>/move/", "ticket_move"): Route("detail", method="post", object="ticket"),
    ("service/tickets/<int:pk>/reply/", "ticket_reply"): Route("detail", method="post", object="ticket"),
    ("service/tickets/<int:pk>/note/", "ticket_note"): Route("detail", method="post", object="ticket"),
    ("service/tickets/<int:pk>/attachments/<int:attachment_pk>/", "ticket_attachment"): Route(
        "detail", object="ticket"
    ),
    ("service/tickets/<int:pk>/assign/", "ticket_assign"): Route("detail", method="post", object="ticket"),
    ("service/tickets/<int:pk>/priority/", "ticket_priority"): Route(
        "detail", method="post", object="ticket"
    ),
    ("service/tickets/<int:pk>/transfer/", "ticket_transfer"): Route(
        "detail", method="post", object="ticket"
    ),
    ("service/transfers/<int:pk>/approve/", "transfer_approve"): Route(
        "detail", method="post", object="service_transfer"
    ),
    ("service/transfers/<int:pk>/reject/", "transfer_reject"): Route(
        "detail", method="post", object="service_transfer"
    ),
    ("service/follow-ups/", "follow_ups"): Route("page"),
    ("service/follow-ups/<int:pk>/done/", "follow_up_done"): Route(
        "detail", method="post", object="follow_up"
    ),
    ("service/reports/", "reports"): Route("page"),
    ("service/settings/", "settings"): Route("page"),
    ("service/settings/desk/", "settings_desk"): Route("page", method="post"),
    ("service/settings/policy/", "settings_policy"): Route("page", method="post"),
    ("service/settings/holiday/", "settings_holiday"): Route("page", method="post"),
    ("service/settings/holidays/load/", "settings_load_holidays"): Route("page", method="post"),
    ("service/settings/canned/", "settings_canned"): Route("page", method="post"),
    # A customer's survey, reached by its signed link; it shows the shop's name and the question only.
    ("s/survey/<str:token>/", "survey"): Route("public"),
    ("api/v1/service/tickets", "list_tickets"): Route("page", api=True),
    ("api/v1/service/tickets", "open_ticket"): Route("self", method="post", api=True),
    ("api/v1/service/tickets/<ticket_id>", "get_ticket"): Route("detail", object="ticket", api=True),
    ("api/v1/service/tickets/<ticket_id>/events", "ticket_events"): Route(
        "detail", object="ticket", api=True
    ),
    ("api/v1/service/tickets/<ticket_id>/transitions", "move_ticket"): Route(
        "detail", method="post", object="ticket", api=True, body={"action": "start"}
    ),
    ("api/v1/service/tickets/<ticket_id>/replies", "reply"): Route(
        "detail", method="post", object="ticket", api=True, body={"body": "x"}
    ),
    ("api/v1/service/tickets/<ticket_id>/notes", "note"): Route(
        "detail", method="post", object="ticket", api=True, body={"body": "x"}
    ),
    ("api/v1/service/tickets/<ticket_id>/attachments", "attach"): Route(
        "detail", method="post", object="ticket", api=True
    ),
    ("api/v1/service/tickets/<ticket_id>/attachments/<attachment_id>", "download_attachment"): Route(
        "detail", object="ticket", api=True
    ),
    ("api/v1/service/tickets/<ticket_id>/assign", "assign"): Route(
        "detail", method="post", object="ticket", api=True, body={"assignee": None}
    ),
    ("api/v1/service/tickets/<ticket_id>/transfers", "request_transfer"): Route(
        "detail", method="post", object="ticket", api=True, body={"to_unit": 1}
    ),
    ("api/v1/service/transfers/<transfer_id>/approve", "approve_transfer"): Route(
        "detail", method="post", object="service_transfer", api=True
    ),
    ("api/v1/service/transfers/<transfer_id>/reject", "reject_transfer"): Route(
        "detail", method="post", object="service_transfer", api=True
    ),
    ("api/v1/service/policies", "list_policies"): Route("page", api=True),
    ("api/v1/service/units/<unit_id>/policies", "save_policy"): Route(
        "detail",
        method="put",
        object="unit",
        api=True,
        body={
            "ticket_type": "inquiry",
            "priority": "low",
            "first_response_minutes": 1,
            "resolution_minutes": 2,
        },
    ),
    ("api/v1/service/holidays", "list_holidays"): Route("page", api=True),
    ("api/v1/service/nps-surveys", "send_nps"): Route(
        "self", method="post", api=True, body={"unit": 0, "customers": []}
    ),
    ("api/v1/service/report", "service_report"): Route("page", api=True),
    ("loyalty/", "home"): Route("page"),
    ("loyalty/programmes/<int:pk>/", "programme"): Route("detail", object="programme"),
    ("loyalty/programmes/<int:pk>/rules/", "programme_rule"): Route(
        "detail", method="post", object="programme"
    ),
    ("loyalty/programmes/<int:pk>/tiers/", "tiers"): Route("detail", object="programme"),
    ("loyalty/members/", "members"): Route("page"),
    ("loyalty/members/<int:pk>/", "member"): Route("detail", object="member"),
    ("loyalty/members/<int:pk>/adjust/", "member_adjust"): Route("detail", method="post", object="member"),
    ("loyalty/members/<int:pk>/redeem/", "member_redeem"): Route("detail", method="post", object="member"),
    ("loyalty/members/<int:pk>/referral/", "member_referral"): Route(
        "detail", method="post", object="member"
    ),
    ("loyalty/coupons/", "coupons"): Route("page"),
    ("loyalty/coupons/<int:pk>/", "coupon"): Route("detail", object="coupon_template"),
    ("loyalty/coupons/<int:pk>/codes/", "coupon_generate"): Route(
        "detail", method="post", object="coupon_template"
    ),
    ("loyalty/coupons/<int:pk>/issue/", "coupon_issue"): Route(
        "detail", method="post", object="coupon_template"
    ),
    ("api/v1/loyalty/programmes", "list_programmes"): Route("page", api=True),
    ("api/v1/loyalty/programmes", "create_programme"): Route("self", method="post", api=True),
    ("api/v1/loyalty/programmes/<programme_id>", "get_programme"): Route(
        "detail", object="programme", api=True
    ),
    ("api/v1/loyalty/programmes/<programme_id>", "update_programme"): Route(
        "detail", method="patch", object="programme", api=True
    ),
    ("api/v1/loyalty/programmes/<programme_id>/rules", "add_rule"): Route(
        "detail", method="post", object="programme", api=True
    ),
    ("api/v1/loyalty/programmes/<programme_id>/tiers", "save_tier"): Route(
        "detail", method="post", object="programme", api=True, body={"rank": 1, "name": "金卡"}
    ),
    ("api/v1/loyalty/programmes/<programme_id>/members", "enrol"): Route(
        "detail", method="post", object="programme", api=True, body={"customer": 1}
    ),
    ("api/v1/loyalty/programmes/<programme_id>/referrals", "record_referral"): Route(
        "detail", method="post", object="programme", api=True, body={"referee": 1, "code": "WALK"}
    ),
    ("api/v1/loyalty/members", "list_members"): Route("page", api=True),
    ("api/v1/loyalty/members/<membership_id>", "get_member"): Route("detail", object="member", api=True),
    ("api/v1/loyalty/members/<membership_id>/ledger", "member_ledger"): Route(
        "detail", object="member", api=True
    ),
    ("api/v1/loyalty/members/<membership_id>/adjust", "adjust"): Route(
        "detail", method="post", object="member", api=True, body={"points": 5, "reason": "walk"}
    ),
    ("api/v1/loyalty/members/<membership_id>/redeem", "redeem"): Route(
        "detail", method="post", object="member", api=True, body={"points": 5}
    ),
    ("api/v1/loyalty/liability", "liability"): Route("page", api=True),
    ("api/v1/loyalty/customers/<customer_id>", "customer_memberships"): Route(
        "detail", object="customer", api=True
    ),
    ("api/v1/loyalty/coupon-templates", "list_coupon_templates"): Route("page", api=True),
    ("api/v1/loyalty/coupon-templates", "create_coupon_template"): Route("self", method="post", api=True),
    ("api/v1/loyalty/coupon-templates/<template_id>/codes", "add_codes"): Route(
        "detail", method="post", object="coupon_template", api=True, body={"count": 1}
    ),
    ("api/v1/loyalty/coupon-templates/<template_id>/issue", "issue"): Route(
        "detail", method="post", object="coupon_template", api=True, body={"customers": [1]}
    ),
    ("api/v1/loyalty/coupons/redeem", "redeem_coupon"): Route("self", method="post", api=True),
    ("marketing/", "home"): Route("page"),
    ("marketing/flows/", "flow_list"): Route("page"),
    ("marketing/flows/new/", "flow_new"): Route("self", method="post"),
    ("marketing/settings/", "settings"): Route("self", method="post"),
    ("marketing/flows/<int:pk>/", "flow"): Route("detail", object="flow"),
    ("marketing/flows/<int:pk>/steps/", "flow_steps"): Route("detail", method="post", object="flow"),
    ("marketing/flows/<int:pk>/publish/", "flow_publish"): Route("detail", method="post", object="flow"),
    ("marketing/flows/<int:pk>/status/", "flow_status"): Route("detail", method="post", object="flow"),
    ("marketing/flows/<int:pk>/counts/", "flow_counts"): Route("detail", object="flow"),
    ("marketing/enrolments/<int:pk>/", "enrolment"): Route("detail", object="enrolment"),
    ("marketing/campaigns/", "campaign_list"): Route("page"),
    ("marketing/campaigns/new/", "campaign_new"): Route("page"),
    ("marketing/campaigns/<int:pk>/", "campaign"): Route("detail", object="campaign"),
    ("marketing/campaigns/<int:pk>/submit/", "campaign_submit"): Route(
        "detail", method="post", object="campaign"
    ),
    ("marketing/campaigns/<int:pk>/approve/", "campaign_approve"): Route(
        "detail", method="post", object="campaign"
    ),
    ("api/v1/marketing/flows", "list_flows"): Route("page", api=True),
    ("api/v1/marketing/flows", "create_flow"): Route("self", method="post", api=True),
    ("api/v1/marketing/flows/<flow_id>", "get_flow"): Route("detail", object="flow", api=True),
    ("api/v1/marketing/flows/<flow_id>/enrolments", "flow_enrolments"): Route(
        "detail", object="flow", api=True
    ),
    ("api/v1/marketing/flows/<flow_id>/publish", "publish_flow"): Route(
        "detail", method="post", object="flow", api=True, body={"definition": {}}
    ),
    ("api/v1/marketing/flows/<flow_id>/status", "flow_status"): Route(
        "detail", method="post", object="flow", api=True, body={"status": "paused"}
    ),
    ("api/v1/marketing/campaigns", "list_campaigns"): Route("page", api=True),
    ("api/v1/marketing/campaigns", "create_campaign"): Route("self", method="post", api=True),
    ("api/v1/marketing/campaigns/<campaign_id>", "get_campaign"): Route(
        "detail", object="campaign", api=True
    ),
    ("api/v1/marketing/campaigns/<campaign_id>/effect", "campaign_effect"): Route(
        "detail", object="campaign", api=True
    ),
    ("api/v1/marketing/campaigns/<campaign_id>/submit", "submit_campaign"): Route(
        "detail", method="post", object="campaign", api=True
    ),
    ("api/v1/marketing/campaigns/<campaign_id>/approve", "approve_campaign"): Route(
        "detail", method="post", object="campaign", api=True
    ),
    ("privacy/", "request_list"): Route("page"),
    ("privacy/retention/", "retention"): Route("page"),
    ("privacy/customers/<int:pk>/export/", "request_export"): Route(
        "detail", method="post", object="customer"
    ),
    ("privacy/customers/<int:pk>/erasure/", "request_erasure"): Route(
        "detail", method="post", object="customer"
    ),
    ("privacy/<int:pk>/", "request"): Route("detail", object="privacy_request"),
    ("privacy/<int:pk>/approve/", "approve"): Route("detail", method="post", object="privacy_request"),
    ("privacy/<int:pk>/reject/", "reject"): Route("detail", method="post", object="privacy_request"),
    ("privacy/<int:pk>/run/", "run"): Route("detail", method="post", object="privacy_request"),
    ("privacy/<int:pk>/download/", "download"): Route("detail", object="privacy_request"),
    ("api/v1/privacy/requests", "list_requests"): Route("page", api=True),
    ("api/v1/privacy/requests", "create_request"): Route("page", method="post", api=True),
    ("api/v1/privacy/requests/<request_id>", "get_request"): Route(
        "detail", object="privacy_request", api=True
    ),
    ("api/v1/privacy/requests/<request_id>/approve", "approve_request"): Route(
        "detail", method="post", object="privacy_request", api=True
    ),
    ("api/v1/privacy/requests/<request_id>/run", "run_request"): Route(
        "detail", method="post", object="privacy_request", api=True
    ),
    ("api/v1/privacy/requests/<request_id>/download", "download_request"): Route(
        "detail", object="privacy_request", api=True
    ),
}


def registered_routes():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern.name

    return list(walk(get_resolver().url_patterns))


def test_every_route_is_classified():
    unclassified = sorted(set(registered_routes()) - set(ROUTES), key=str)
    assert unclassified == [], f"Classify these routes in tests/access/test_cross_unit.py: {unclassified}"
    stale = sorted(set(ROUTES) - set(registered_routes()), key=str)
    assert stale == [], f"These classified routes no longer exist: {stale}"


@dataclass
class World:
    unit_b_objects: dict[str, int]
    unit_a_objects: dict[str, int]
    shared_objects: dict[str, int]


@pytest.fixture
def world(unit_a, unit_b, make_user):
    """Unit A and unit B stores, customers (one shared), orders, jobs, audit entries and users."""
    store_a = make_store(unit_a, "Home flagship")
    store_b = make_store(unit_b, f"Beauty {MARKER}")
    customer_a = make_customer("甲客户", [unit_a], phone="+8613800001111")
    customer_b = make_customer(f"乙客户{MARKER}", [unit_b], phone="+8613900009999", city=MARKER)
    shared = make_customer("共同客户", [unit_a, unit_b], phone="+8613700002222")
    order_a = make_order(store_a, customer_a, "A-0001", "120.00", (2026, 5, 1))
    make_order(store_a, shared, "A-0002", "80.00", (2026, 6, 1))
    order_b = make_order(store_b, customer_b, f"{MARKER}-1", "999.00", (2026, 6, 2))
    make_order(store_b, shared, f"{MARKER}-2", "555.00", (2026, 6, 3))
    user_b = make_user(f"{MARKER.lower()}_user", Role.UNIT_ADMIN, [unit_b], display_name=MARKER)
    token_b = account_actions.create_api_token(user=user_b, name=f"{MARKER} token").token
    audit.record(
        AuditEntry.Action.EXPORT,
        actor=user_b,
        unit=unit_b,
        message=IMPORT_FINISHED(file=f"{MARKER}.csv", imported=1, rows=1),
    )
    job_a = _job(unit_a, "unit A import")
    job_b = _job(unit_b, f"{MARKER} import")
    segment_b = segment_actions.create_segment(
        actor=None, name=f"{MARKER} segment", unit=unit_b, rule=EVERYONE
    )
    # Organisation-wide, with unit B's customer among its members: unit A must see only its own.
    segment_all = segment_actions.create_segment(actor=None, name="Everyone", rule=EVERYONE)
    segment_actions.refresh_segment(segment_all)
    run_b = ImportRun.objects.create(
        kind="online_retail", file_name=f"{MARKER}.csv", sha256="0" * 64, unit=unit_b, dry_run=True
    )
    run_a = ImportRun.objects.create(kind="online_retail", file_name="a.csv", sha256="1" * 64, unit=unit_a)
    # Unit B's people only: a suggestion between them, and a merge of two of them.
    twin_b = make_customer(f"乙客户{MARKER}", [unit_b], city=MARKER)
    suggestion_b = MergeSuggestion.objects.create(
        customer_a=customer_b, customer_b=twin_b, score=60, evidence=[{"code": MARKER, "detail": MARKER}]
    )
    group = profile.create_tag_group("Lifestyle")
    tag = profile.create_tag("VIP", group=group)
    field = profile.create_custom_field("skin_type", "Skin type")
    merge_b = merge_customers(
        make_customer(f"丙客户{MARKER}", [unit_b]), make_customer(f"丁客户{MARKER}", [unit_b]), reason=MARKER
    )
    messaging = _messaging(unit_a, unit_b, customer_a, customer_b, shared)
    loyalty_b = _loyalty(unit_b, f"{MARKER} club", customer_b, shared)
    loyalty_a = _loyalty(unit_a, "甲 club", customer_a, shared)
    marketing_b = _marketing(unit_b, f"{MARKER} flow", customer_b, shared)
    marketing_a = _marketing(unit_a, "甲 flow", customer_a, shared)
    sales_b = _sales_records(unit_b, make_user, f"{MARKER}", to_unit=unit_a)
    sales_a = _sales_records(unit_a, make_user, "甲", to_unit=unit_b)
    service_b = _service_records(unit_b, make_user, MARKER, customer_b)
    service_a = _service_records(unit_a, make_user, "甲", customer_a)
    privacy_b = privacy_actions.request_erasure(customer_b, actor=user_b, note=MARKER)
    privacy_a = privacy_actions.request_erasure(customer_a, actor=None, note="甲")
    delivery_b = Delivery.objects.create(unit=unit_b, report="products", frequency="daily", created_by=user_b)
    return World(
        unit_b_objects={
            **sales_b,
            "customer": customer_b.pk,
            "order": order_b.pk,
            "job": job_b.pk,
            "user": user_b.pk,
            "token": token_b.pk,
            "segment": segment_b.pk,
            "import_run": run_b.pk,
            "store": store_b.pk,
            "suggestion": suggestion_b.pk,
            "merge": merge_b.pk,
            "privacy_request": privacy_b.pk,
            **messaging["b"],
            **service_b,
            **loyalty_b,
            **marketing_b,
            "unit": unit_b.pk,
            "delivery": delivery_b.pk,
        },
        unit_a_objects={
            **messaging["a"],
            **{key: service_a[key] for key in ("ticket", "follow_up")},
            **loyalty_a,
            **marketing_a,
            **{key: sales_a[key] for key in ("lead", "opportunity", "sales_account", "stage")},
            "customer": customer_a.pk,
            "order": order_a.pk,
            "job": job_a.pk,
            "segment": segment_all.pk,
            "import_run": run_a.pk,
            "store": store_a.pk,
            "privacy_request": privacy_a.pk,
        },
        # Organisation-wide: named after unit B's marker-free vocabulary, seen by every unit.
        shared_objects={"tag": tag.pk, "tag_group": group.pk, "custom_field": field.pk},
    )


def _messaging(unit_a, unit_b, customer_a, customer_b, shared) -> dict[str, dict[str, int]]:
    """Each unit's SMS channel and template, and a message to its customer and to the shared one."""
    from guanxi.messaging import actions as messaging_actions

    made: dict[str, dict[str, int]] = {}
    for side, unit, own, marker in (("a", unit_a, customer_a, "A"), ("b", unit_b, customer_b, MARKER)):
        channel = messaging_actions.save_channel(
            unit=unit, name=f"SMS {marker}", kind="sms_http", values={"url": "http://127.0.0.1:9/sms"}
        )
        template = messaging_actions.save_template(
            key=f"notice-{side}",
            name=f"Notice {marker}",
            medium="sms",
            purpose="transactional",
            unit=unit,
            contents={"zh-hans": {"body": f"{marker} 您的订单已发货"}},
        )
        messages = [
            messaging_actions.enqueue_message(
                unit=unit,
                customer=person,
                purpose="transactional",
                send_key=f"walk:{side}",
                template=template.key,
                channel="sms",
                source=f"walk {marker}",
            ).message
            for person in (own, shared)
        ]
        made[side] = {"message": messages[0].pk, "channel": channel.pk, "template": template.pk}
    return made


def _loyalty(unit, name, own, shared) -> dict[str, int]:
    """A unit's programme with its own customer and the shared one as members (points on the ledger),
    and a coupon template issued to its customer."""
    from guanxi.loyalty import actions as loyalty_actions

    programme = loyalty_actions.create_programme(unit=unit, name=name)
    member = loyalty_actions.enrol(programme, own)
    loyalty_actions.enrol(programme, shared)
    for person in (own, shared):
        loyalty_actions.adjust_points(programme, person, 88, reason=name)
    template = loyalty_actions.save_coupon_template(
        programme, name=f"{name} coupon", kind="spend_save", min_spend=100, amount_off=10, valid_days=7
    )
    loyalty_actions.issue_coupons(template, [own.pk])
    return {"programme": programme.pk, "member": member.pk, "coupon_template": template.pk}


def _marketing(unit, name, own, shared) -> dict[str, int]:
    """A unit's flow (its own customer enrolled, a step run) and a campaign sent to a segment of its
    customer and the shared one."""
    from django.utils import timezone

    from guanxi.marketing import actions as marketing_actions
    from guanxi.marketing import engine
    from guanxi.segments.models import Segment, SegmentMembership

    flow = marketing_actions.save_flow(unit=unit, name=name, holdout_percent=0)
    marketing_actions.publish(
        flow, {"trigger": {"kind": "order_paid"}, "steps": [{"id": "wait", "kind": "wait", "days": 1}]}
    )
    marketing_actions.set_status(flow, "active")
    now = timezone.now()
    engine.enrol(flow, [engine.Occurrence(own.pk, f"walk:{name}", now)], now)
    engine.run_due(now)
    segment = Segment.objects.create(
        name=f"{name} audience", kind=Segment.Kind.STATIC, unit=unit, rule=EVERYONE
    )
    for person in (own, shared):
        SegmentMembership.objects.create(segment=segment, customer=person)
    campaign = marketing_actions.save_campaign(
        unit=unit, name=f"{name} campaign", segment=segment, template="none"
    )
    marketing_actions.approve(campaign)
    marketing_actions.send_campaign(campaign)
    return {"flow": flow.pk, "enrolment": flow.enrolments.get().pk, "campaign": campaign.pk}


def _sales_records(unit, make_user, name, to_unit) -> dict[str, int]:
    """A unit's sales records named `name`: lead, account, deal with a product and quote, activity,
    pipeline stage, web form, and a transfer request to `to_unit` still waiting for the group."""
    rep = make_user(f"rep_{unit.code}", Role.SALES_REP, [unit], display_name=name)
    pipeline = sales_configuration.create_pipeline(unit=unit, name=f"{name} pipeline")
    stage = sales_configuration.add_stage(
        pipeline, actor=None, name=f"{name} stage", probability=30, forecast_category="pipeline"
    )
    lead = sales_leads.capture_lead(
        unit=unit, actor=rep, name=name, company=name, phone=f"13{unit.pk:09d}"
    ).lead
    account = create_account(unit=unit, actor=rep, name=f"{name} account")
    deal = sales_deals.create_opportunity(
        unit=unit, name=f"{name} deal", actor=rep, account=account, stage=stage
    )
    sales_deals.add_line(deal, actor=rep, name=f"{name} product", quantity=1)
    quote = sales_deals.create_quote(deal, actor=rep, terms=name)
    activity = log_activity(actor=rep, kind="call", subject=f"{name} call", opportunity=deal)
    form = sales_configuration.create_lead_form(unit=unit, actor=None, name=f"{name} form", heading=name)
    moving = sales_leads.capture_lead(unit=unit, actor=rep, name=name, phone=f"15{unit.pk:09d}").lead
    transfer = sales_leads.request_transfer(moving, to_unit=to_unit, reason=name, actor=rep)
    return {
        "lead": lead.pk,
        "opportunity": deal.pk,
        "sales_account": account.pk,
        "activity": activity.pk,
        "quote": quote.pk,
        "stage": stage.pk,
        "pipeline": pipeline.pk,
        "lead_form": form.pk,
        "transfer": transfer.pk,
        "unit": unit.pk,
    }


def _service_records(unit, make_user, name, customer) -> dict[str, int]:
    """A unit's service records named `name`: a ticket with a reply and a note, a follow-up call, and
    a transfer of another ticket to a third unit still waiting for its approval."""
    from guanxi.service import actions as service_actions

    agent = make_user(f"agent_{unit.code}", Role.SERVICE_AGENT, [unit], display_name=name)
    ticket = service_actions.open_ticket(
        actor=agent, unit=unit, subject=f"{name} 投诉", customer=customer, body=name
    )
    service_actions.reply(ticket, f"{name} 回复", actor=agent)
    service_actions.add_note(ticket, f"{name} 备注", actor=agent)
    follow_up = service_actions.plan_follow_up(ticket=ticket, actor=agent, notes=name)
    third = account_actions.create_business_unit(code=f"third-{unit.code}", name=f"Third of {unit.code}")
    moving = service_actions.open_ticket(actor=agent, unit=unit, subject=f"{name} 转单", customer=customer)
    transfer = service_actions.request_transfer(moving, third, actor=agent, reason=name)
    return {"ticket": ticket.pk, "follow_up": follow_up.pk, "service_transfer": transfer.pk}


def _job(unit, message):
    from guanxi.core.models import Job

    return Job.objects.create(kind="commerce.import", unit=unit, message=message, counts={"rows": 1})


def leaks(response) -> bool:
    body = response.content.decode("utf-8", errors="replace")
    return MARKER.lower() in body.lower()


def url_for(route: str, object_id: int | None = None, slug: str = "") -> str:
    path = "/" + route
    if slug and "<slug:slug>" in route:
        return path.replace("<slug:slug>", slug)
    if slug:
        return f"/{slug}/"
    if object_id is not None:
        for placeholder in (
            "<int:pk>",
            "<int:line>",
            "<int:link>",
            "<int:attachment_pk>",
            "<int:stage>",
            "<int:unit>",
            "<token_id>",
            "<customer_id>",
            "<order_id>",
            "<job_id>",
            "<segment_id>",
            "<message_id>",
            "<attachment_id>",
            "<channel_id>",
            "<template_id>",
            "<lead_id>",
            "<opportunity_id>",
            "<activity_id>",
            "<account_id>",
            "<unit_id>",
            "<store_id>",
            "<group_id>",
            "<tag_id>",
            "<field_id>",
            "<ticket_id>",
            "<transfer_id>",
            "<programme_id>",
            "<membership_id>",
            "<flow_id>",
            "<campaign_id>",
            "<request_id>",
        ):
            path = path.replace(placeholder, str(object_id))
    return path


WRITE_METHODS = ("post", "patch", "put", "delete")
# Every detail route is also sent these, whatever it declares: a route that grows a PATCH or PUT
# handler (or a framework that routes them to GET) must still refuse unit-B ids.
PROBED_WRITES = ("patch", "put")


def _request(client, method: str, url: str, spec: Route, token: str):
    if spec.api and method == "get":
        return client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
    if spec.api and method in WRITE_METHODS:
        # A body that parses, so the object lookup (not body validation) decides the answer.
        body = spec.body if method == spec.method and spec.body is not None else {}
        return getattr(client, method)(url, data=body, content_type="application/json")
    return getattr(client, method)(url)


@pytest.mark.parametrize("role", UNIT_ROLES)
def test_unit_a_user_sees_no_unit_b_record(client, world, make_user, unit_a, role):
    user = make_user(f"a_{role}", role, [unit_a], can_view_pii=True, can_export=True)
    token = account_actions.create_api_token(user=user, name="walk", scope="read").secret
    client.force_login(user)
    checked: dict[str, int] = {}
    for (route, _name), spec in ROUTES.items():
        if spec.kind == "public":
            continue
        slugs = AREAS if route.startswith("^") else REPORT_SLUGS if "<slug:slug>" in route else [""]
        for slug in slugs:
            if spec.kind == "detail":
                url = url_for(route, world.unit_b_objects[spec.object])
                methods = [spec.method, *(m for m in PROBED_WRITES if m != spec.method)]
                for method in methods:
                    response = _request(client, method, url, spec, token)
                    assert response.status_code in (403, 404, 405), (
                        f"{role} reached unit B via {method.upper()} {url}: {response.status_code}"
                    )
                    assert not leaks(response), f"{role} saw unit B data at {method.upper()} {url}"
                    checked[method] = checked.get(method, 0) + 1
                if spec.object in world.unit_a_objects and spec.method == "get":
                    url = url_for(route, world.unit_a_objects[spec.object])
                    response = _request(client, "get", url, spec, token)
                    assert not leaks(response), f"{role} saw unit B data at {url}"
            elif spec.kind == "shared":
                url = url_for(route, world.shared_objects[spec.object])
                for method in [spec.method, *(m for m in PROBED_WRITES if m != spec.method)]:
                    response = _request(client, method, url, spec, token)
                    assert response.status_code < 500, f"{method.upper()} {url} failed for {role}"
                    assert not leaks(response), f"{role} saw unit B data at {method.upper()} {url}"
            else:
                url = url_for(route, slug=slug)
                response = _request(client, spec.method, url, spec, token)
                assert response.status_code < 500, f"{url} failed for {role}"
                assert not leaks(response), f"{role} saw unit B data at {url}"
                checked[spec.method] = checked.get(spec.method, 0) + 1
    detail_routes = sum(1 for spec in ROUTES.values() if spec.kind == "detail")
    assert checked["patch"] == checked["put"] == detail_routes
    assert sum(checked.values()) >= 30 + 2 * detail_routes


def test_every_patch_and_put_operation_is_classified_with_its_method():
    """The API's own PATCH and PUT operations are walked with their method (a payload-shaped
    request), not only by the probe, so a new one cannot hide behind a GET classification."""
    schema = api.get_openapi_schema()
    declared = {
        (path, method)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("patch", "put")
    }
    classified = {
        ("/" + re.sub(r"<(\w+)>", r"{\1}", route), spec.method)
        for (route, _name), spec in ROUTES.items()
        if spec.api and spec.method in ("patch", "put")
    }
    assert declared == classified
    assert ("/api/v1/segments/{segment_id}", "patch") in classified


def test_group_manager_sees_unit_b(client, world, manager):
    """The walk's marker works: a role that may see unit B does see it."""
    client.force_login(manager)
    manager.can_view_pii = True
    manager.save(update_fields=["can_view_pii"])
    assert leaks(client.get("/api/v1/orders"))
    assert leaks(client.get(f"/api/v1/customers/{world.unit_b_objects['customer']}"))
    for page in ("/customers/merges/", "/imports/", "/stores/", "/reports/products/drill/"):
        assert leaks(client.get(page)), page


def test_unit_a_user_cannot_export_or_erase_a_unit_b_only_customer(client, world, make_user, unit_a, bearer):
    from guanxi.privacy.models import PrivacyRequest

    head = make_user("a_privacy", Role.UNIT_HEAD, [unit_a], can_view_pii=True, can_export=True)
    customer_b = world.unit_b_objects["customer"]
    before = PrivacyRequest.objects.count()
    client.force_login(head)
    for kind in ("export", "erasure"):
        assert client.post(f"/privacy/customers/{customer_b}/{kind}/").status_code == 404
    api = bearer(head, scope="read_write")
    for kind in ("export", "erasure"):
        response = client.post(
            "/api/v1/privacy/requests",
            data={"customer": customer_b, "kind": kind},
            content_type="application/json",
            **{"HTTP_AUTHORIZATION": api["Authorization"]},
        )
        assert response.status_code == 404
        assert not leaks(response)
    assert PrivacyRequest.objects.count() == before
    listed = client.get("/api/v1/privacy/requests", HTTP_AUTHORIZATION=api["Authorization"]).json()
    assert [item["customer"] for item in listed["items"]] == [world.unit_a_objects["customer"]]
