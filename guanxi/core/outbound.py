"""Which addresses Guanxi may call (reliability.md AC-5), for every app that calls out.

A URL may be called when its scheme is http(s), it carries no credentials, and every address its
host resolves to is public: loopback, private, link-local (169.254.169.254, the cloud metadata
service), unique-local, unspecified, multicast and IPv4-mapped, 6to4 and Teredo forms of those are
refused, however they are spelt (0x7f000001, 2130706433, names that resolve to them). A caller
connects to the address `resolve` returns — never resolving again — and follows no redirect, so
neither DNS rebinding nor a 302 can move a request inside. `GUANXI_ALLOW_PRIVATE_GATEWAYS` (off by
default, refused by `guanxi check --deploy` in production) lifts the address rule for the local fake
gateways of tests and the demo. Checked when a URL is saved and again at every send (ADR 0041).
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _


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
