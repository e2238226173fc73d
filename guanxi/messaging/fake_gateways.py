"""Local fake gateways on 127.0.0.1 for the test suite, the benchmarks and the demo.

One HTTP server speaks the generic SMS gateway, Alibaba Cloud SMS (checking the request signature and
refusing a reused SignatureNonce within 15 minutes, as the real one does), the WeChat official-account
and WeCom APIs (access tokens, template and application messages) and a webhook receiver (checking the
HMAC signature); an SMTP server (aiosmtpd) speaks STARTTLS and AUTH. Every accepted message is written to
the `Ledger` — the ground truth the reliability tests compare the outbox with.

They misbehave on request (`faults`), as reliability.md asks of fakes: answer 503, accept a message and
then time out or drop the connection before answering, so ambiguous sends really happen.
"""

import hashlib
import hmac
import json
import random
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from guanxi.messaging.channels.sms import aliyun_signature
from guanxi.messaging.channels.webhook import signature_is_valid

ALIYUN_KEY_ID = "LTAI-fake-key"
ALIYUN_SECRET = "fake-aliyun-secret"  # noqa: S105 (the fake gateway's own test credential)
WECHAT_APPID = "wx-fake-appid"
WECHAT_SECRET = "fake-wechat-secret"  # noqa: S105
WECOM_CORPID = "ww-fake-corp"
WECOM_SECRET = "fake-wecom-secret"  # noqa: S105
WEBHOOK_SECRET = "fake-webhook-secret"  # noqa: S105
SMS_API_KEY = "fake-sms-key"
SMTP_USER = "guanxi"
SMTP_PASSWORD = "fake-smtp-password"  # noqa: S105


@dataclass
class Entry:
    gateway: str
    key: str  # the idempotency key the request carried ("" when none)
    to: str
    text: str
    received_at: float


@dataclass
class Ledger:
    """Every message a fake gateway accepted, in arrival order (thread-safe); optionally also a file."""

    path: Path | None = None
    entries: list[Entry] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, entry: Entry) -> None:
        with self._lock:
            self.entries.append(entry)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as stream:
                    stream.write(json.dumps(entry.__dict__, ensure_ascii=False) + "\n")

    def of(self, gateway: str) -> list[Entry]:
        with self._lock:
            return [entry for entry in self.entries if entry.gateway == gateway]

    def keys(self, gateway: str) -> Counter:
        return Counter(entry.key for entry in self.of(gateway))

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()


@dataclass
class Faults:
    """How often each kind of misbehaviour happens (0..1), checked in this order per request."""

    unavailable: float = 0.0  # 503 before accepting
    timeout_after_accept: float = 0.0  # accepted (in the ledger), then no answer for `hang` seconds
    reset_after_accept: float = 0.0  # accepted, then the connection is closed without an answer
    hang: float = 20.0
    latency: float = 0.0  # seconds every request takes, so a run lasts long enough to crash mid-way
    seed: int = 7
    _random: random.Random = field(init=False)
    _lock: threading.Lock = field(init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311 (test faults, not security)
        self._lock = threading.Lock()

    def roll(self, chance: float) -> bool:
        with self._lock:
            return chance > 0 and self._random.random() < chance


class Gateways:
    """The fake HTTP gateways and SMTP server; `start()` them, point channels at `url(...)`, `stop()`."""

    def __init__(
        self,
        *,
        http_port: int = 0,
        smtp_port: int | None = 0,
        idempotent_sms: bool = True,
        ledger: Ledger | None = None,
        faults: Faults | None = None,
        state_dir: Path | None = None,
    ) -> None:
        self.ledger = ledger or Ledger()
        self.faults = faults or Faults()
        self.idempotent_sms = idempotent_sms
        self._http_port, self._smtp_port = http_port, smtp_port
        self._seen: dict[str, tuple[float, bytes]] = {}  # idempotency key -> (time, stored answer)
        self._seen_lock = threading.Lock()
        self._tokens: set[str] = set()
        self._state_dir = state_dir
        self.rejected_recipients: set[str] = set()
        self.smtp_ca_pem = ""
        self._smtp: Any = None
        self._http: ThreadingHTTPServer | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> "Gateways":
        gateways = self

        class Handler(_Handler):
            owner = gateways

        self._http = _QuietServer(("127.0.0.1", self._http_port), Handler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, name="fake-gateways", daemon=True).start()
        if self._smtp_port is not None:
            self._start_smtp()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._smtp is not None:
            self._smtp.stop()

    @property
    def http_port(self) -> int:
        assert self._http is not None
        return self._http.server_address[1]

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    @property
    def smtp_port(self) -> int:
        return self._smtp.port if self._smtp is not None else 0

    # --- SMTP ------------------------------------------------------------------------------------

    def _start_smtp(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        cert, key, pem = self_signed_certificate(self._state_dir)
        self.smtp_ca_pem = pem
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        gateways = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
                if address.lower() in gateways.rejected_recipients:
                    return "550 5.1.1 No such mailbox"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                text = envelope.content.decode("utf-8", errors="replace")
                message_id = next(
                    (
                        line.split(":", 1)[1].strip()
                        for line in text.splitlines()
                        if line.lower().startswith("message-id:")
                    ),
                    "",
                )
                for recipient in envelope.rcpt_tos:
                    gateways.ledger.add(Entry("email", message_id, recipient, text, time.time()))
                return f"250 2.0.0 Ok: queued as {uuid.uuid4().hex[:12]}"

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
                SMTP_USER.encode(),
                SMTP_PASSWORD.encode(),
            )
            return AuthResult(success=ok, handled=False)

        port = self._smtp_port or _free_port()
        self._smtp = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=port,
            tls_context=context,
            require_starttls=True,
            authenticator=authenticate,
            auth_required=True,
            auth_require_tls=True,
        )
        self._smtp.start()
        self._smtp.port = port

    # --- the shared idempotency store -------------------------------------------------------------

    def remembered(self, key: str, window: float) -> bytes | None:
        with self._seen_lock:
            seen = self._seen.get(key)
            if seen and time.time() - seen[0] < window:
                return seen[1]
        return None

    def remember(self, key: str, answer: bytes) -> None:
        with self._seen_lock:
            self._seen[key] = (time.time(), answer)

    def reset(self) -> None:
        """Forget every message, key and fault (between tests)."""
        self.ledger.clear()
        with self._seen_lock:
            self._seen.clear()
        self.faults = Faults()
        self.idempotent_sms = True
        self.rejected_recipients = set()

    def token(self) -> str:
        value = uuid.uuid4().hex
        self._tokens.add(value)
        return value


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request (the drills do that) is expected, not worth a traceback."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def self_signed_certificate(folder: Path | None = None) -> tuple[str, str, str]:
    """(certificate file, key file, certificate PEM) for 127.0.0.1, made once per folder."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = folder or Path(tempfile.mkdtemp(prefix="guanxi-smtp-"))
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    if not cert_path.exists():
        import ipaddress

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return str(cert_path), str(key_path), cert_path.read_text()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as they are written, not 40 ms apart
    owner: Gateways

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- plumbing --------------------------------------------------------------------------------

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, payload: Any) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _misbehave_before(self) -> bool:
        if self.owner.faults.latency:
            time.sleep(self.owner.faults.latency)
        if self.owner.faults.roll(self.owner.faults.unavailable):
            self._answer(503, {"error": "unavailable"})
            return True
        return False

    def _misbehave_after(self) -> bool:
        """After accepting: maybe never answer (the client times out) or drop the connection."""
        faults = self.owner.faults
        if faults.roll(faults.timeout_after_accept):
            time.sleep(faults.hang)
            self.close_connection = True
            return True
        if faults.roll(faults.reset_after_accept):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        return False

    def _accept(self, gateway: str, key: str, to: str, text: str, answer: Any, window: float | None) -> None:
        """Record one accepted message (once per key within `window`) and answer, misbehaving on request."""
        if key and window:
            stored = self.owner.remembered(key, window)
            if stored is not None:
                self._answer(200, stored)
                return
        encoded = json.dumps(answer, ensure_ascii=False).encode()
        if key and window:
            self.owner.remember(key, encoded)
        self.owner.ledger.add(Entry(gateway, key, to, text, time.time()))
        if self._misbehave_after():
            return
        self._answer(200, encoded)

    # --- routes ----------------------------------------------------------------------------------

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        if parts.path == "/wecom/cgi-bin/gettoken":
            if (query.get("corpid"), query.get("corpsecret")) != (WECOM_CORPID, WECOM_SECRET):
                self._answer(200, {"errcode": 40013, "errmsg": "invalid corpid"})
                return
            self._answer(
                200, {"errcode": 0, "errmsg": "ok", "access_token": self.owner.token(), "expires_in": 7200}
            )
            return
        self._answer(404, {"error": "not found"})

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        body = self._body()
        if self._misbehave_before():
            return
        route = {
            "/sms/send": self._generic_sms,
            "/aliyun/": self._aliyun,
            "/wechat/cgi-bin/stable_token": self._wechat_token,
            "/wechat/cgi-bin/message/template/send": self._wechat_send,
            "/wecom/cgi-bin/message/send": self._wecom_send,
        }.get(parts.path)
        if route is not None:
            route(body, dict(parse_qsl(parts.query)))
        elif parts.path.startswith("/webhook/"):
            self._webhook(body)
        else:
            self._answer(404, {"error": "not found"})

    def _generic_sms(self, body: bytes, query: dict) -> None:
        if self.headers.get("Authorization") != f"Bearer {SMS_API_KEY}":
            self._answer(401, {"error": "bad api key"})
            return
        request = json.loads(body or b"{}")
        key = self.headers.get("Idempotency-Key", "")
        window = 24 * 3600 if self.owner.idempotent_sms else None
        self._accept(
            "sms", key, request.get("to", ""), request.get("text", ""), {"id": uuid.uuid4().hex}, window
        )

    def _aliyun(self, body: bytes, query: dict) -> None:
        params = dict(parse_qsl(body.decode()))
        given = params.pop("Signature", "")
        if params.get("AccessKeyId") != ALIYUN_KEY_ID or not hmac.compare_digest(
            given, aliyun_signature(ALIYUN_SECRET, "POST", params)
        ):
            self._answer(
                400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched"}
            )
            return
        stamp = datetime.strptime(params.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs((datetime.now(UTC) - stamp).total_seconds()) > 900:
            self._answer(400, {"Code": "InvalidTimeStamp.Expired", "Message": "timestamp expired"})
            return
        nonce = params.get("SignatureNonce", "")
        if self.owner.remembered(f"aliyun:{nonce}", 900) is not None:
            self._answer(
                400, {"Code": "SignatureNonceUsed", "Message": "Specified signature nonce was used already."}
            )
            return
        self.owner.remember(f"aliyun:{nonce}", b"used")
        phone = params.get("PhoneNumbers", "")
        if not phone.isdigit():
            self._answer(200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "invalid mobile number"})
            return
        text = f"{params.get('SignName')}|{params.get('TemplateCode')}|{params.get('TemplateParam')}"
        answer = {
            "Code": "OK",
            "Message": "OK",
            "BizId": f"{uuid.uuid4().int % 10**18}",
            "RequestId": str(uuid.uuid4()),
        }
        self._accept("aliyun", nonce, phone, text, answer, None)

    def _wechat_token(self, body: bytes, query: dict) -> None:
        request = json.loads(body or b"{}")
        if (request.get("appid"), request.get("secret")) != (WECHAT_APPID, WECHAT_SECRET):
            self._answer(200, {"errcode": 40013, "errmsg": "invalid appid"})
            return
        self._answer(200, {"access_token": self.owner.token(), "expires_in": 7200})

    def _wechat_send(self, body: bytes, query: dict) -> None:
        if query.get("access_token") not in self.owner._tokens:
            self._answer(200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"})
            return
        request = json.loads(body or b"{}")
        client_msg_id = request.get("client_msg_id", "")
        text = json.dumps(request.get("data", {}), ensure_ascii=False)
        answer = {"errcode": 0, "errmsg": "ok", "msgid": uuid.uuid4().int % 10**12}
        window = 600 if client_msg_id else None
        self._accept("wechat", client_msg_id, request.get("touser", ""), text, answer, window)

    def _wecom_send(self, body: bytes, query: dict) -> None:
        if query.get("access_token") not in self.owner._tokens:
            self._answer(200, {"errcode": 42001, "errmsg": "access_token expired"})
            return
        request = json.loads(body or b"{}")
        content = request.get("text", {}).get("content", "")
        digest = hashlib.sha256(f"{request.get('touser')}|{content}".encode()).hexdigest()
        window = (
            request.get("duplicate_check_interval", 1800) if request.get("enable_duplicate_check") else None
        )
        answer = {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": uuid.uuid4().hex}
        self._accept("wecom", digest, request.get("touser", ""), content, answer, window)

    def _webhook(self, body: bytes) -> None:
        if not signature_is_valid(
            WEBHOOK_SECRET,
            self.headers.get("X-Guanxi-Timestamp", ""),
            body,
            self.headers.get("X-Guanxi-Signature", ""),
        ):
            self._answer(401, {"error": "bad signature"})
            return
        key = self.headers.get("X-Guanxi-Delivery", "")
        request = json.loads(body or b"{}")
        self._accept("webhook", key, self.path, request.get("body", ""), {"ok": True}, 7 * 24 * 3600)
