"""Email over SMTP: a real SMTP conversation (EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA) on one connection
per worker batch, with RFC 8058 one-click unsubscribe headers on marketing mail.

SMTP has no idempotency key: a timeout after DATA went out is AMBIGUOUS. The Message-ID is derived from
the send key, so a receiving system that de-duplicates on it sees a resend as the same mail.
"""

import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any

from guanxi.messaging.channels.base import Outgoing, SendResult, ambiguous, failed, key_digest, retry, sent

TIMEOUT = 20


class SmtpAdapter:
    idempotency_window: timedelta | None = None

    def __init__(self, settings: dict[str, Any], secrets: dict[str, Any]) -> None:
        self.host = settings.get("host", "")
        self.port = int(settings.get("port") or 587)
        self.security = settings.get("security", "starttls")  # starttls | ssl | none
        self.username = settings.get("username", "")
        self.password = secrets.get("password", "")
        self.sender = settings.get("from_address", "")
        self.sender_name = settings.get("from_name", "")
        self.ca_pem = settings.get("ca_pem", "")
        self._connection: smtplib.SMTP | None = None

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.ca_pem or None)
        return context

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        if self.security == "ssl":
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=TIMEOUT, context=self._tls()
            )
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT)
            connection.ehlo()
            if self.security == "starttls":
                connection.starttls(context=self._tls())
                connection.ehlo()
        if self.username:
            connection.login(self.username, self.password)
        self._connection = connection
        return connection

    def build(self, message: Outgoing) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = formataddr((self.sender_name, self.sender)) if self.sender_name else self.sender
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = f"<{key_digest(message.send_key)}@{self.sender.rpartition('@')[2] or 'guanxi'}>"
        if message.unsubscribe_url:
            mail["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail.set_content(message.body)
        return mail

    def send(self, message: Outgoing) -> SendResult:
        mail = self.build(message)
        try:
            connection = self._connect()
        except smtplib.SMTPAuthenticationError as error:
            return failed("configuration", f"SMTP login refused: {error.smtp_code}")
        except (OSError, smtplib.SMTPException) as error:
            self._connection = None
            return retry(f"SMTP connection failed: {error}")
        try:
            code, reply = connection.mail(self.sender)
            if code >= 400:
                return self._refused(connection, code, reply, stage="MAIL")
            code, reply = connection.rcpt(message.address)
            if code >= 400:
                return self._refused(connection, code, reply, stage="RCPT")
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            self._connection = None  # nothing was accepted yet: the mail is safe to send again
            return retry(f"SMTP connection lost before DATA: {error}")
        try:
            code, reply = connection.data(mail.as_bytes())
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as error:
            self._connection = None
            return ambiguous(f"no answer to DATA: {error}")
        except smtplib.SMTPDataError as error:
            connection.rset()
            if error.smtp_code >= 500:
                return failed("provider_rejected", f"{error.smtp_code} {error.smtp_error!r}")
            return retry(f"{error.smtp_code} {error.smtp_error!r}")
        if code >= 400:
            return self._refused(connection, code, reply, stage="DATA")
        queued = reply.decode(errors="replace").rpartition(" ")[2] if reply else ""
        return sent(queued or mail["Message-ID"])

    def _refused(self, connection: smtplib.SMTP, code: int, reply: bytes, stage: str) -> SendResult:
        connection.rset()
        detail = f"{stage} {code} {reply.decode(errors='replace')}"
        if code >= 500:
            return failed("invalid_address" if stage == "RCPT" else "provider_rejected", detail)
        return retry(detail)

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.quit()
            except (OSError, smtplib.SMTPException):
                self._connection.close()
            self._connection = None
