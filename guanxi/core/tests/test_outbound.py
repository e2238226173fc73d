"""The outbound address rule (reliability.md AC-5) that every caller of another server goes through:
the whole deny corpus refused, a trap server on loopback never reached, the test-only flag honoured."""

import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from guanxi.core.outbound import BlockedError, resolve

DENIED = [
    "http://127.0.0.1/",
    "http://127.9.9.9:8080/x",
    "http://[::1]/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.0.10/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fc00::5]/",
    "http://[fd12:3456::1]/",
    "http://[fe80::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[2002:7f00:1::]/",  # 6to4 wrapping 127.0.0.1
    "http://0x7f000001/",
    "http://2130706433/",
    "http://017700000001/",
    "http://0.0.0.0/",
    "http://localhost/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://224.0.0.1/",
    "file:///etc/passwd",
    "gopher://example.com/",
    "http://user:secret@example.com/",
]


@pytest.fixture
def trap():
    """A loopback server that records every request that reaches it."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def do_POST(self):
            self.do_GET()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], hits
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("url", DENIED)
def test_every_address_of_the_deny_corpus_is_refused(url, settings):
    settings.GUANXI_ALLOW_PRIVATE_GATEWAYS = False
    with pytest.raises(BlockedError):
        resolve(url)


def _call_if_allowed(url: str) -> None:
    """What every outbound caller does: resolve, then connect to the address that was checked."""
    scheme, _host, port, address = resolve(url)
    with urllib.request.urlopen(f"{scheme}://{address}:{port}/trap", timeout=5):  # noqa: S310
        pass


def test_the_trap_on_loopback_is_never_reached_and_the_test_flag_opens_it(trap, settings):
    port, hits = trap
    settings.GUANXI_ALLOW_PRIVATE_GATEWAYS = False
    for url in (f"http://127.0.0.1:{port}/", f"http://localhost:{port}/", f"http://2130706433:{port}/"):
        with pytest.raises(BlockedError):
            _call_if_allowed(url)
    assert hits == []
    settings.GUANXI_ALLOW_PRIVATE_GATEWAYS = True  # the fake gateways of tests and the demo
    _call_if_allowed(f"http://127.0.0.1:{port}/")
    assert hits == ["/trap"]


def test_a_public_address_is_called_at_the_address_that_was_checked(settings):
    settings.GUANXI_ALLOW_PRIVATE_GATEWAYS = False
    assert resolve("https://93.184.215.14:8443/hook") == ("https", "93.184.215.14", 8443, "93.184.215.14")
