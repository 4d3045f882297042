"""Posting records to webhook destinations without letting a tenant reach inside the platform.

A webhook URL is the tenant's to choose, and the worker that posts to it sits inside the
operator's network: next to the metrics endpoints, the database, a cloud's metadata service.
So a webhook may only reach public addresses, unless the operator allows more networks
(``WEBHOOK_ALLOWED_NETWORKS``). The address is checked twice: when the destination is
configured (a clear 400 for ``http://localhost/...``), and on the connected socket at every
delivery, which is the check that counts (a name may resolve elsewhere by then). Redirects
are not followed: a receiver answers 2xx, or the delivery is tried again later.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookRefused(Exception):
    """The URL is not one a webhook may reach; the message says why."""


def allowed(address: Address) -> bool:
    """Public unicast addresses, and whatever the operator's allowed networks contain."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in ipaddress.ip_network(network) for network in settings.WEBHOOK_ALLOWED_NETWORKS):
        return True
    return address.is_global and not address.is_multicast


def check_url(url: str) -> None:
    """Refuse a URL whose host is, or resolves to, an address a webhook may not reach."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused(f"{url!r} is not an http(s) URL with a host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as exc:
        raise WebhookRefused(f"The host of {url!r} does not resolve: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not allowed(address):
            raise WebhookRefused(f"{parts.hostname} is {address}, an address webhooks may not reach (loopback, "
                                 "private, link-local or reserved).")


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> str | None:
    """POST ``body``; None when the receiver answered 2xx, else what went wrong."""
    parts = urlsplit(url)
    connection_class = _GuardedHTTPSConnection if parts.scheme == "https" else _GuardedHTTPConnection
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    try:
        connection = connection_class(parts.hostname or "", parts.port, timeout=timeout)
        try:
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            response.read(1024)
        finally:
            connection.close()
    except WebhookRefused as exc:
        return str(exc)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return str(exc) or type(exc).__name__
    return None if 200 <= response.status < 300 else f"HTTP {response.status}"


def _check_peer(sock: socket.socket) -> None:
    address = ipaddress.ip_address(sock.getpeername()[0])
    if not allowed(address):
        sock.close()
        raise WebhookRefused(f"Connected to {address}, an address webhooks may not reach.")


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _check_peer(self.sock)


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        # HTTPSConnection.connect connects (HTTPConnection.connect), then wraps the socket in
        # TLS: check the peer between the two, before a byte is sent.
        http.client.HTTPConnection.connect(self)
        _check_peer(self.sock)
        server_hostname = getattr(self, "_tunnel_host", None) or self.host
        self.sock = self._context.wrap_socket(self.sock, server_hostname=server_hostname)  # type: ignore[attr-defined]
