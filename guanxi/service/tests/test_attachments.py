"""Files on tickets: an agent's note carries pictures and documents whose content matches their name and
size limit; a refused file refuses the whole note with the file and the reason named, and leaves nothing
behind; files come back only as downloads to someone who may see the ticket; a customer's e-mail keeps
its acceptable attachments and names the refused ones."""

import smtplib
import struct
import zlib
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from guanxi.service import actions
from guanxi.service.mail_server import controller
from guanxi.service.models import Attachment, Ticket, TicketEvent
from guanxi.service.tests.test_inbound_email import SUPPORT, free_port


def png(width: int = 2, height: int = 2) -> bytes:
    """A real PNG picture (grey pixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def ticket(desk_a) -> Ticket:
    return actions.open_ticket(
        actor=desk_a.agent,
        unit=desk_a.unit,
        subject="毛巾破损",
        customer=desk_a.customer,
        assignee=desk_a.agent,
    )


def stored_files(media: Path) -> list[Path]:
    return sorted(p for p in media.rglob("*") if p.is_file()) if media.exists() else []


@pytest.mark.django_db
def test_a_note_keeps_its_files_and_they_download_only_as_attachments(client, desk_a, ticket, media):
    client.force_login(desk_a.agent)
    picture = png()

    response = client.post(
        f"/service/tickets/{ticket.pk}/note/",
        {
            "body": "客户发来的照片",
            "attachments": [
                SimpleUploadedFile("破损照片.png", picture, content_type="image/png"),
                SimpleUploadedFile("receipt.pdf", PDF, content_type="application/pdf"),
            ],
        },
    )

    assert response.status_code == 302
    note = TicketEvent.objects.get(ticket=ticket, kind="note")
    rows = list(Attachment.objects.filter(event=note).order_by("pk"))
    assert [(a.name, a.content_type, a.size) for a in rows] == [
        ("破损照片.png", "image/png", len(picture)),
        ("receipt.pdf", "application/pdf", len(PDF)),
    ]
    assert len(stored_files(media)) == 2
    page = client.get(f"/service/tickets/{ticket.pk}/").content.decode()
    download_url = f"/service/tickets/{ticket.pk}/attachments/{rows[0].pk}/"
    assert download_url in page

    download = client.get(download_url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == picture
    assert download["Content-Type"] == "image/png"
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_a_refused_file_refuses_the_note_and_names_the_file_and_reason(
    client, desk_a, ticket, media, settings
):
    settings.GUANXI_SERVICE_ATTACHMENT_MB = 1
    client.force_login(desk_a.agent)

    response = client.post(
        f"/service/tickets/{ticket.pk}/note/",
        {
            "body": "三个文件",
            "attachments": [
                SimpleUploadedFile("photo.png", png()),
                SimpleUploadedFile("invoice.png", EXE),
                SimpleUploadedFile("page.html", b"<script>alert(1)</script>"),
                SimpleUploadedFile("log.txt", b"a" * (1024 * 1024 + 1)),
            ],
        },
        follow=True,
    )

    text = response.content.decode()
    assert "invoice.png does not hold what its name says." in text
    assert "page.html: files of this type are not accepted" in text
    assert "log.txt is larger than 1 MB." in text
    assert "photo.png" not in text  # the good one is not blamed
    assert not TicketEvent.objects.filter(ticket=ticket, kind="note").exists()
    assert Attachment.objects.count() == 0
    assert stored_files(media) == []


@pytest.mark.django_db
def test_a_failing_note_leaves_no_file_behind(desk_a, ticket, media, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(actions.audit, "record", broken)

    with pytest.raises(RuntimeError):
        actions.add_note(ticket, "照片", actor=desk_a.agent, files=[("photo.png", png())])

    assert Attachment.objects.count() == 0
    assert stored_files(media) == []


@pytest.mark.django_db
def test_another_units_agent_cannot_download(client, desk_a, desk_b, ticket, media):
    note = actions.add_note(ticket, "", actor=desk_a.agent, files=[("photo.png", png())])
    attachment = Attachment.objects.get(event=note)

    client.force_login(desk_b.agent)
    assert client.get(f"/service/tickets/{ticket.pk}/attachments/{attachment.pk}/").status_code == 404
    client.force_login(desk_a.agent2)
    assert client.get(f"/service/tickets/{ticket.pk}/attachments/{attachment.pk}/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_an_emailed_photo_is_kept_and_a_program_is_named_as_refused(client, desk_a, media):
    actions.save_settings(desk_a.unit, actor=desk_a.head, assignment="round_robin", support_address=SUPPORT)
    server = controller(port=free_port())
    server.start()
    message = EmailMessage()
    message["From"] = "李娜 <lina.buyer@163.com>"
    message["To"] = SUPPORT
    message["Subject"] = "收到的杯子碎了"
    message["Message-ID"] = make_msgid(domain="163.com")
    message.set_content("照片在附件里。")
    picture = png(4, 3)
    message.add_attachment(picture, maintype="image", subtype="png", filename="杯子.png")
    message.add_attachment(EXE, maintype="application", subtype="octet-stream", filename="setup.exe")
    try:
        with smtplib.SMTP(server.hostname, server.port) as smtp:
            smtp.send_message(message, to_addrs=[SUPPORT])
    finally:
        server.stop()

    ticket = Ticket.objects.get()
    inbound = TicketEvent.objects.get(ticket=ticket, kind="inbound")
    assert inbound.body == "照片在附件里。"
    assert [(a.name, a.size) for a in inbound.attachments.all()] == [("杯子.png", len(picture))]
    assert inbound.data["refused_files"] == [{"name": "setup.exe", "reason": "type"}]
    client.force_login(desk_a.agent)
    page = client.get(f"/service/tickets/{ticket.pk}/").content.decode()
    assert "setup.exe: files of this type are not accepted" in page
    assert "杯子.png" in page


@pytest.mark.django_db
def test_the_api_attaches_lists_and_downloads_files(client, desk_a, desk_b, ticket, media, bearer):
    headers = bearer(desk_a.agent, "read_write")
    picture = png(3, 3)

    created = client.post(
        f"/api/v1/service/tickets/{ticket.pk}/attachments",
        {"body": "面单照片", "files": [SimpleUploadedFile("面单.png", picture)]},
        headers=headers,
    )
    refused = client.post(
        f"/api/v1/service/tickets/{ticket.pk}/attachments",
        {"files": [SimpleUploadedFile("面单.jpg", picture)]},
        headers=headers,
    )

    assert created.status_code == 201, created.content
    entry = created.json()
    assert (entry["kind"], entry["text"]) == ("note", "面单照片")
    [listed] = entry["attachments"]
    assert (listed["name"], listed["content_type"], listed["size"]) == ("面单.png", "image/png", len(picture))
    assert refused.status_code == 422
    assert refused.json()["detail"] == "面单.jpg does not hold what its name says."
    events = client.get(f"/api/v1/service/tickets/{ticket.pk}/events", headers=headers).json()
    assert [e["attachments"] for e in events if e["kind"] == "note"] == [[listed]]
    url = f"/api/v1/service/tickets/{ticket.pk}/attachments/{listed['id']}"
    download = client.get(url, headers=headers)
    assert b"".join(download.streaming_content) == picture
    assert client.get(url, headers=bearer(desk_b.agent)).status_code == 404
