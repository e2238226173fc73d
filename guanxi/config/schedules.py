"""The one registry of periodic work.

Each entry names a task function by dotted path and a huey crontab. `guanxi.core.tasks`
registers every entry with the queue when the worker starts, so adding a schedule is a
one-line change here and nowhere else.
"""

from huey import crontab

PERIODIC_TASKS = {
    "sweep_stale_jobs": ("guanxi.core.background.sweep_stale_jobs", crontab(minute="*/2")),
    "remove_old_uploads": ("guanxi.commerce.uploads.remove_old_uploads", crontab(minute="10", hour="3")),
    "analytics_refresh": ("guanxi.analytics.jobs.nightly_refresh", crontab(minute="30", hour="2")),
    "segments_refresh": ("guanxi.segments.jobs.scheduled_refresh", crontab(minute="*/15")),
    "segments_follow_changes": ("guanxi.segments.jobs.refresh_changed", crontab(minute="*")),
    "messaging_send": ("guanxi.messaging.tasks.send_due_messages", crontab(minute="*")),
    "sales_stale_records": ("guanxi.sales.jobs.sweep_stale_records", crontab(minute="*/15")),
    "sales_reminders": ("guanxi.sales.jobs.remind", crontab(minute="*")),
    "service_sla_scan": ("guanxi.service.jobs.scan_sla", crontab(minute="*")),
    "loyalty_follow_changes": ("guanxi.loyalty.jobs.follow_changes", crontab(minute="*")),
    "marketing_follow_changes": ("guanxi.marketing.jobs.follow_changes", crontab(minute="*")),
    "marketing_tick": ("guanxi.marketing.jobs.tick", crontab(minute="*")),
    "commerce_webhook_inbox": ("guanxi.commerce.tasks.drain_inbox", crontab(minute="*")),
    "commerce_reconcile": ("guanxi.commerce.reconcile.reconcile_stores", crontab(minute="*/15")),
    "loyalty_daily": ("guanxi.loyalty.jobs.daily", crontab(minute="20", hour="1")),
    "privacy_retention": ("guanxi.privacy.jobs.nightly_retention", crontab(minute="40", hour="3")),
    "reports_deliver": ("guanxi.reports.jobs.deliver_due", crontab(minute="0", hour="7")),
}
