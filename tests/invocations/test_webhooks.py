"""Webhook destinations reach public addresses only, unless the operator allows a network: a
tenant cannot aim the platform's worker at its own loopback or private services."""

from __future__ import annotations

import http.server
import ipaddress
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from lambent.invocations import webhooks
from tests.processes import free_port

LOOPBACK_ONLY = ["127.0.0.0/8"]


class _Receiver(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []
    status = 204

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).hits.append(self.path)
        self.send_response(type(self).status)
        if type(self).status in (301, 302):
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.hits, _Receiver.status = [], 204
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.10", "172.16.5.5", "169.254.169.254",
                                     "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "0.0.0.0", "224.0.0.1"])
def test_internal_addresses_are_not_allowed(settings, address):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    assert not webhooks.allowed(ipaddress.ip_address(address))


def test_public_addresses_and_allowed_networks_are(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert webhooks.allowed(ipaddress.ip_address("93.184.216.34"))
    assert webhooks.allowed(ipaddress.ip_address("10.1.2.3"))
    assert not webhooks.allowed(ipaddress.ip_address("192.168.0.10"))


@pytest.mark.parametrize("url", ["http://localhost:8000/metrics", "http://127.0.0.1/", "http://[::1]:9101/",
                                 "http://169.254.169.254/latest/meta-data/", "ftp://example.com/", "http:///x"])
def test_configuring_an_internal_webhook_is_refused_with_the_reason(api, create_function, settings, url):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    create_function("hello")
    response = api.put("/api/v1/functions/hello/event-invoke-config",
                       {"destination_config": {"on_failure": {"destination": url}}}, format="json")
    assert response.status_code == 400, response.content
    assert "on_failure" in str(response.json()["fields"])
    assert api.get("/api/v1/functions/hello/event-invoke-config").status_code == 404


def test_a_delivery_checks_the_address_it_connected_to(settings, receiver):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    error = webhooks.post(receiver, body=b"{}", headers={}, timeout=5)
    assert error is not None and "may not reach" in error
    assert _Receiver.hits == []  # refused before a byte was sent

    settings.WEBHOOK_ALLOWED_NETWORKS = LOOPBACK_ONLY
    assert webhooks.post(receiver, body=b"{}", headers={}, timeout=5) is None
    assert _Receiver.hits == ["/hook"]


def test_redirects_are_not_followed(settings, receiver):
    settings.WEBHOOK_ALLOWED_NETWORKS = LOOPBACK_ONLY
    _Receiver.status = 302
    assert webhooks.post(receiver, body=b"{}", headers={}, timeout=5) == "HTTP 302"
    assert _Receiver.hits == ["/hook"]
