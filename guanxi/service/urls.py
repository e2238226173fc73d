from django.urls import path

from guanxi.service import views

app_name = "service"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("shift/", views.shift, name="shift"),
    path("tickets/", views.ticket_list, name="ticket_list"),
    path("tickets/new/", views.ticket_add, name="ticket_add"),
    path("tickets/<int:pk>/", views.ticket, name="ticket"),
    path("tickets/<int:pk>/move/", views.ticket_move, name="ticket_move"),
    path("tickets/<int:pk>/reply/", views.ticket_reply, name="ticket_reply"),
    path("tickets/<int:pk>/note/", views.ticket_note, name="ticket_note"),
    path("tickets/<int:pk>/attachments/<int:attachment_pk>/", views.attachment, name="ticket_attachment"),
    path("tickets/<int:pk>/assign/", views.ticket_assign, name="ticket_assign"),
    path("tickets/<int:pk>/priority/", views.ticket_priority, name="ticket_priority"),
    path("tickets/<int:pk>/transfer/", views.ticket_transfer, name="ticket_transfer"),
    path("transfers/<int:pk>/approve/", views.transfer_approve, name="transfer_approve"),
    path("transfers/<int:pk>/reject/", views.transfer_reject, name="transfer_reject"),
    path("follow-ups/", views.follow_ups, name="follow_ups"),
    path("follow-ups/<int:pk>/done/", views.follow_up_done, name="follow_up_done"),
    path("reports/", views.reports, name="reports"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/desk/", views.settings_desk, name="settings_desk"),
    path("settings/policy/", views.settings_policy, name="settings_policy"),
    path("settings/holiday/", views.settings_holiday, name="settings_holiday"),
    path("settings/holidays/load/", views.settings_load_holidays, name="settings_load_holidays"),
    path("settings/canned/", views.settings_canned, name="settings_canned"),
]
