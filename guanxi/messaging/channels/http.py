"""The one HTTP client every channel uses: SSRF-safe, no redirects, keep-alive, and honest about
whether a failed request may have reached the provider.

A URL is checked when a channel is saved and again at every send: its host is resolved and every
address must be public (loopback, private, link-local, metadata, unspecified and IPv4-mapped forms are
refused), then the connection goes to the address that was checked — never re-resolved — with the
host name kept for TLS and the Host header, so DNS rebinding cannot move it (reliability.md AC-5).
`GUANXI_ALLOW_PRIVATE_GATEWAYS` lifts the address rule for the local fake gateways of tests and the demo.
"""

import ipaddress
import socket
import threading
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

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0


class BlockedError(Exception):
    """The URL may not be called: a scheme other than http(s), or an address that is not public."""


class NotSentError(Exception):
    """The request never reached the provider (refused connection, unknown host): safe to retry."""


class MaybeSentError(Exception):
    """The request went out but no answer came back (timeout, reset): the provider may have acted on it."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        import json

        return json.loads(self.body.decode("utf-8") or "null")


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        for embedded in (address.ipv4_mapped, address.sixtofour, address.teredo and address.teredo[1]):
            if embedded and not _public(embedded):
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
        refused = [str(address) for address in addresses if not _public(address)]
        if refused:
            raise BlockedError(
                _("%(host)s resolves to an address that is not public (%(address)s).")
                % {"host": parts.hostname, "address": refused[0]}
            )
    return parts.scheme, parts.hostname, port, str(addresses[0])


def check_url(url: str) -> None:
    """Refuse a URL a channel must never call (on save): BlockedError, or NotSentError if it does not resolve."""
    resolve(url)


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
        return Response(status=reply.status, body=reply.data, headers=dict(reply.headers))

    def close(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()
