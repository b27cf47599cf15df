"""The SSRF guard: no fetch may reach a private, loopback, link-local or reserved
address unless the operator allowed it (``allow_private_hosts``).

Checked twice: the name before the request (every redirect hop again), and the
address each connection really reached (a name may resolve to a public address
when checked and to a private one when connecting: DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from aggregator.errors import FetchError
from aggregator.model import Settings
from aggregator.redaction import redact

PRIVATE_ADDRESS = "connected to a private address"  # in the error the socket guard raises


def _guard_socket(
    sock: socket.socket, host: str, port: int, trusted: frozenset[str]
) -> socket.socket:
    """Refuse a connection that ended up at a private address (DNS rebinding: the name
    resolved to a public address when checked and to a private one when connecting)."""
    peer = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
    if (not peer.is_global or peer.is_multicast) and host_port(host, port) not in trusted:
        sock.close()
        raise NewConnectionError(None, f"{host} {PRIVATE_ADDRESS} ({peer}); refused")  # type: ignore[arg-type]
    return sock


class _GuardedHTTPConnection(HTTPConnection):
    trusted: frozenset[str] = frozenset()

    def _new_conn(self) -> socket.socket:
        return _guard_socket(super()._new_conn(), self.host, self.port, self.trusted)


class _GuardedHTTPSConnection(HTTPSConnection):
    trusted: frozenset[str] = frozenset()

    def _new_conn(self) -> socket.socket:
        return _guard_socket(super()._new_conn(), self.host, self.port, self.trusted)


class PublicOnlyAdapter(HTTPAdapter):
    """Checks the address every connection really reached, after the name check;
    ``trusted`` "host:port" pairs (``settings.trusted_hosts``) may be private."""

    def __init__(self, trusted: Iterable[str] = ()) -> None:
        self.trusted = frozenset(trusted)
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        trusted = self.trusted
        http = type("_Conn", (_GuardedHTTPConnection,), {"trusted": trusted})
        https = type("_Conn", (_GuardedHTTPSConnection,), {"trusted": trusted})
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("_Pool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("_Pool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }


def check_host_allowed(url: str, settings: Settings, source_id: str = "") -> None:
    """Refuse private, loopback, link-local and reserved addresses (SSRF guard)."""
    host = host_of(url)
    if not host:
        raise FetchError(f"'{redact(url)}' has no host name", source_id=source_id)
    if settings.allow_private_hosts or host_port(host, port_of(url)) in settings.trusted_hosts:
        return
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"the host name {host} does not resolve", source_id=source_id) from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            raise FetchError(
                f"{host} points at a private or local address ({address}); refused",
                source_id=source_id,
            )


def host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def host_port(host: str, port: int) -> str:
    """``host:port`` as written in ``trusted_hosts`` (an IPv6 literal in brackets)."""
    host = host.strip("[]").lower()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def port_of(url: str) -> int:
    try:
        parts = urlsplit(url)
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return 0
