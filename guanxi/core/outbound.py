"""Which addresses Guanxi may call (reliability.md AC-5), for every app that calls out.

A URL may be called when its scheme is http(s), it carries no credentials, and every address its
host resolves to is public: loopback, private, link-local (169.254.169.254, the cloud metadata
service), unique-local, unspecified, multicast and IPv4-mapped, 6to4 and Teredo forms of those are
refused, however they are spelt (0x7f000001, 2130706433, names that resolve to them). A caller
connects to the address `resolve` returns — never resolving again — and follows no redirect, so
neither DNS rebinding nor a 302 can move a request inside. `GUANXI_ALLOW_PRIVATE_GATEWAYS` (off by
default, refused by `guanxi check --deploy` in production) lifts the address rule for the local fake
gateways of tests and the demo. Checked when a URL is saved and again at every send (ADR 0041).

`Client` is the one HTTP client that calls out (the messaging channels, store reconciliation):
keep-alive pools per checked address, the host name kept for TLS and the Host header, no redirects,
and honest about whether a failed request may have reached the other side.
"""

import ipaddress
import json
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.utils.translation import gettext as _
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)


class BlockedError(Exception):
    """The URL may not be called: a scheme other than http(s), or an address that is not public."""


class NotSentError(Exception):
    """The request never reached the provider (refused connection, unknown host): safe to retry."""


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        for embedded in (address.ipv4_mapped, address.sixtofour, address.teredo and address.teredo[1]):
            if embedded and not is_public(embedded):
                return False
    return address.is_global and not address.is_multicast


def resolve(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, the address to connect to) of a URL that may be called, else BlockedError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedError(_("Only http:// and https:// addresses may be called."))
    if parts.username or parts.password:
        raise BlockedError(_("Credentials in the address are not allowed."))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise NotSentError(_("Cannot resolve %(host)s.") % {"host": parts.hostname}) from error
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not settings.GUANXI_ALLOW_PRIVATE_GATEWAYS:
        refused = [str(address) for address in addresses if not is_public(address)]
        if refused:
            raise BlockedError(
                _("%(host)s resolves to an address that is not public (%(address)s).")
                % {"host": parts.hostname, "address": refused[0]}
            )
    return parts.scheme, parts.hostname, port, str(addresses[0])


def check_url(url: str) -> None:
    """Refuse a URL that must never be called (on save): BlockedError, or NotSentError if it does not resolve."""
    resolve(url)


CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0


class MaybeSentError(Exception):
    """The request went out but no answer came back (timeout, reset): the provider may have acted on it."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: Mapping[str, str]  # case-insensitive as received

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8") or "null")


class Client:
    """Connection pools per checked address; one per channel adapter, shared by its threads."""

    def __init__(self, ca_pem: str = "") -> None:
        self._pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = {}
        self._lock = threading.Lock()
        self._ca_pem = ca_pem

    def _pool(self, scheme: str, host: str, port: int, address: str) -> urllib3.HTTPConnectionPool:
        key = (scheme, host, port, address)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
                if scheme == "https":
                    pool = urllib3.HTTPSConnectionPool(
                        address,
                        port,
                        maxsize=8,
                        timeout=timeout,
                        retries=False,
                        server_hostname=host,
                        assert_hostname=host,
                        ca_cert_data=self._ca_pem or None,
                    )
                else:
                    pool = urllib3.HTTPConnectionPool(
                        address, port, maxsize=8, timeout=timeout, retries=False
                    )
                self._pools[key] = pool
        return pool

    def request(
        self, method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        scheme, host, port, address = resolve(url)
        parts = urlsplit(url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        default_port = 443 if scheme == "https" else 80
        all_headers = {"Host": host if port == default_port else f"{host}:{port}", **(headers or {})}
        try:
            reply = self._pool(scheme, host, port, address).urlopen(
                method,
                path,
                body=body,
                headers=all_headers,
                redirect=False,
                retries=False,
                assert_same_host=False,
            )
        except (NewConnectionError, ConnectTimeoutError) as error:
            raise NotSentError(str(error)) from error
        except (ReadTimeoutError, ProtocolError) as error:
            raise MaybeSentError(str(error)) from error
        except HTTPError as error:  # TLS failures and the like happen before the request is written
            raise NotSentError(str(error)) from error
        return Response(status=reply.status, body=reply.data, headers=reply.headers)

    def close(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()
