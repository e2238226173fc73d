"""The one HTTP client every channel uses: SSRF-safe, no redirects, keep-alive, and honest about
whether a failed request may have reached the provider.

A URL is checked when a channel is saved and again at every send by guanxi.core.outbound (every
address must be public); the connection goes to the address that was checked — never re-resolved —
with the host name kept for TLS and the Host header, so DNS rebinding cannot move it (reliability.md AC-5).
"""

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from guanxi.core.outbound import BlockedError, NotSentError, check_url, resolve

# Re-exported: the channels and their tests name them through this module.
__all__ = ["BlockedError", "Client", "MaybeSentError", "NotSentError", "Response", "check_url", "resolve"]

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0


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
