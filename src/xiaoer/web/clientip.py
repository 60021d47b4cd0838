"""The client's address, for rate limits and the audit log.

`X-Forwarded-For` is believed only when the peer is one of the configured proxies
(`XIAOER_TRUSTED_PROXIES`, addresses or CIDR networks); otherwise anyone could rotate the header
to dodge a per-IP limit. Behind trusted proxies, the client is the right-most address that is not
itself a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def parse_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in networks)


def resolve_client_ip(peer: str, forwarded_for: str | None, trusted: Iterable[str]) -> str:
    networks = parse_networks(tuple(trusted))
    if not networks or not forwarded_for or not _trusted(peer, networks):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage from upstream: fall back to what we know
    return hops[0] if hops else peer


def client_ip(conn: HTTPConnection) -> str:
    """For requests and WebSockets alike."""
    peer = conn.client.host if conn.client else ""
    settings = getattr(conn.app.state, "settings", None)
    trusted = tuple(getattr(settings, "trusted_proxies", ()) or ())
    return resolve_client_ip(peer, conn.headers.get("x-forwarded-for"), trusted)
