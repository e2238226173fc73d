"""An SMTP listener for the units' support addresses (`guanxi service-mail`): every message accepted for
a known support address goes through `inbound.receive_email`. Recipients that are no unit's address are
refused at RCPT, so the listener is never an open relay and a typo bounces at the sender."""

import asyncio
from typing import Any

from django.db import close_old_connections, connections

from guanxi.service.inbound import receive_email
from guanxi.service.models import ServiceSettings

MAX_SIZE = 10 * 1024 * 1024


def _known(address: str) -> bool:
    close_old_connections()
    try:
        return ServiceSettings.objects.filter(
            support_address=address.strip().lower(), unit__is_active=True
        ).exists()
    finally:
        connections.close_all()  # this worker thread's own connection


def _receive(content: bytes, recipients: list[str]) -> str:
    close_old_connections()
    try:
        return receive_email(content, recipients=recipients).outcome
    finally:
        connections.close_all()


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if not await asyncio.to_thread(_known, address):
            return "550 5.1.1 No such support address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        await asyncio.to_thread(_receive, content, list(envelope.rcpt_tos))
        return "250 2.0.0 Ok: received"


def controller(host: str = "127.0.0.1", port: int = 2525) -> Any:
    """An aiosmtpd controller, not started; `start()` runs it in its own thread, `stop()` ends it."""
    from aiosmtpd.controller import Controller

    return Controller(Handler(), hostname=host, port=port, data_size_limit=MAX_SIZE)
