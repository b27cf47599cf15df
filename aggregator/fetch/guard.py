"""The SSRF guard: no fetch may reach a private, loopback, link-local or reserved
address unless the operator allowed it (``allow_private_hosts``).

* The URL's host is read the way urllib3 will read it, and must be the host
  ``urlsplit`` reads: ``http://127.0.0.1:80\\@public.example/`` names one host to a
  name check and connects to the other. A ``\\`` or a ``%`` in a host is refused.
* The name is resolved and every address checked before the request, on every
  redirect hop again.
* The connection then resolves the name once more, checks those addresses and
  connects only to a checked one, so DNS rebinding (public when checked, private
  when connecting) never gets a TCP connection to a private address; the address
  the socket reached is checked as a last wall.

Exact ``host:port`` pairs in ``settings.trusted_hosts`` (local test calendars of the
registration preview) pass all of this. Every connection, guarded or not, registers its socket with the deadline of the
request being made (``limits.Deadline``), so the deadline can cut it off.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import LocationParseError, NewConnectionError
from urllib3.util import parse_url

from aggregator.errors import FetchError, FetchFailure
from aggregator.fetch.limits import current_deadline
from aggregator.model import Settings
from aggregator.redaction import redact

PRIVATE_ADDRESS = "connected to a private address"  # in the error the socket guard raises


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not address.is_global or address.is_multicast


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text.split("%")[0])


def _guard_socket(sock: socket.socket, host: str) -> socket.socket:
    """Refuse a connection that ended up at a private address anyway."""
    peer = _address(sock.getpeername()[0])
    if _refused(peer):
        sock.close()
        raise NewConnectionError(None, f"{host} {PRIVATE_ADDRESS} ({peer}); refused")  # type: ignore[arg-type]
    return sock


def _public_address(host: str, port: int | None) -> str:
    """The first address of ``host``, after checking that every one of them is public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise NewConnectionError(None, f"{host} does not resolve ({exc})") from exc  # type: ignore[arg-type]
    addresses = [_address(str(info[4][0])) for info in infos]
    if not addresses:
        raise NewConnectionError(None, f"{host} does not resolve")  # type: ignore[arg-type]
    for address in addresses:
        if _refused(address):
            raise NewConnectionError(None, f"{host} {PRIVATE_ADDRESS} ({address}); refused")  # type: ignore[arg-type]
    return str(addresses[0])


def _open(
    conn: HTTPConnection,
    new_conn: Callable[[], socket.socket],
    public_only: bool,
    trusted: frozenset[str],
) -> socket.socket:
    """A connection's socket: to a checked address when only public ones are allowed
    (a ``trusted_hosts`` host:port, a local test calendar, may be private)."""
    if not public_only or host_port(conn.host, conn.port or 0) in trusted:
        sock = new_conn()
    else:
        name = conn._dns_host
        conn._dns_host = _public_address(name, conn.port)  # connect to the checked address …
        try:
            sock = new_conn()
        finally:
            conn._dns_host = name  # … and speak to the host by its name (TLS, Host:)
        _guard_socket(sock, conn.host)
    _register(sock)
    return sock


class _Connection(HTTPConnection):
    public_only = False
    trusted: frozenset[str] = frozenset()

    def _new_conn(self) -> socket.socket:
        return _open(self, super()._new_conn, self.public_only, self.trusted)

    def getresponse(self) -> Any:
        _register(self.sock)  # a reused keep-alive connection: its status line is next
        return super().getresponse()


class _TLSConnection(HTTPSConnection):
    public_only = False
    trusted: frozenset[str] = frozenset()

    def _new_conn(self) -> socket.socket:
        return _open(self, super()._new_conn, self.public_only, self.trusted)

    def getresponse(self) -> Any:
        _register(self.sock)
        return super().getresponse()


def _register(sock: socket.socket | None) -> None:
    deadline = current_deadline()
    if deadline is not None and sock is not None:
        deadline.register(sock)


def _pools(public_only: bool, trusted: frozenset[str]) -> dict[str, type]:
    """Pool classes whose connections carry the guard's settings."""
    settings = {"public_only": public_only, "trusted": trusted}
    http = type("_GuardedConnection", (_Connection,), settings)
    https = type("_GuardedTLSConnection", (_TLSConnection,), settings)
    return {
        "http": type("_GuardedPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
        "https": type("_GuardedTLSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
    }


# Hosts whose idle keep-alive connection a session (one per harvest thread) keeps: a
# municipality's site with many calendars is asked over one connection (and one TLS
# handshake) instead of one per calendar. requests' default of 10 had a thread forget a
# host before it came round again once a region has more hosts than that.
HOST_POOLS = 64


class GuardedAdapter(HTTPAdapter):
    """Connections that obey the request's deadline and, unless private hosts are
    allowed, reach only public addresses (and the ``trusted`` host:port pairs)."""

    def __init__(self, *, public_only: bool, trusted: Iterable[str] = ()) -> None:
        self._pools = _pools(public_only, frozenset(trusted))
        super().__init__(pool_connections=HOST_POOLS)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self._pools)


def check_host_allowed(url: str, settings: Settings, source_id: str = "") -> None:
    """Refuse URLs whose host is ambiguous, and private, loopback, link-local and
    reserved addresses (SSRF guard)."""
    host = host_of(url)
    if not host:
        raise FetchError(
            f"Adressen ”{redact(url)}” saknar värdnamn; ange hela adressen, till exempel "
            "https://exempel.se/kalender.ics.",
            kind=FetchFailure.BAD_ADDRESS,
            source_id=source_id,
            url=redact(url),
        )
    if host != _urllib3_host(url):
        raise FetchError(
            f"Adressen ”{redact(url)[:200]}” anger sin värd på ett sätt som kan läsas på två "
            "sätt, så vi hämtar inte från den. Ange adressen på vanligt sätt "
            "(https://värd/sökväg).",
            kind=FetchFailure.BAD_ADDRESS,
            source_id=source_id,
            url=redact(url),
        )
    if settings.allow_private_hosts or host_port(host, port_of(url)) in settings.trusted_hosts:
        return
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise FetchError(
            f"Värdnamnet {host} finns inte (det gick inte att slå upp). Kontrollera att "
            "adressen är rätt stavad.",
            kind=FetchFailure.UNKNOWN_HOST,
            source_id=source_id,
            url=redact(url),
        ) from exc
    for info in infos:
        address = _address(str(info[4][0]))
        if _refused(address):
            raise FetchError(
                f"{host} pekar på en privat eller lokal adress ({address}), som vi inte "
                "hämtar från. Registrera kalenderns offentliga adress.",
                kind=FetchFailure.PRIVATE_ADDRESS,
                source_id=source_id,
                url=redact(url),
            )


def host_of(url: str) -> str:
    """The host as ``urlsplit`` reads it, lowercase; "" when unreadable or ambiguous."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return ""
    if "\\" in parts.netloc or "%" in host or any(c.isspace() for c in parts.netloc):
        return ""
    return host


def _urllib3_host(url: str) -> str:
    """The host urllib3 (and so requests) will connect to, lowercase, without brackets."""
    try:
        host = parse_url(url).host or ""
    except (LocationParseError, ValueError):
        return ""
    return host.strip("[]").lower()


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
