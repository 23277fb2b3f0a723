"""SSRF guard: refuse deliveries to hosts that resolve to non-public addresses (issue 3, part 7).

A hook's endpoint is chosen by whoever writes the hooks file; the forwarder must not become a way to
reach its own machine, the cloud metadata service (169.254.169.254) or the internal network. Every
address the host resolves to is checked (one private answer is enough to refuse). Tests and local
setups pass ``allow_private=True`` (``--allow-private-endpoints``), which skips the lookup entirely.

Limits: the check and the connection resolve separately, so a DNS answer that changes in between
(rebinding) is not caught; a host that does not resolve raises ``OSError`` (``socket.gaierror``), a
network error to be retried like any other.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx

from hookplan.errors import HookplanError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddrInfo = list[tuple[object, object, object, object, tuple]]


class DestinationRefused(HookplanError):
    """The endpoint's host is, or resolves to, an address deliveries may not go to."""


def check_destination(url: str, *, allow_private: bool) -> None:
    """Raise :class:`DestinationRefused` unless every address of ``url``'s host is public."""
    if allow_private:
        return
    host, port = _host_port(url)
    literal = _literal(host)
    infos = [] if literal else socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    _check(host, [literal] if literal else _addresses(infos))


async def async_check_destination(url: str, *, allow_private: bool) -> None:
    """:func:`check_destination` resolving through the running loop (no blocked event loop)."""
    if allow_private:
        return
    host, port = _host_port(url)
    literal = _literal(host)
    if literal:
        _check(host, [literal])
        return
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    _check(host, _addresses(infos))


def address_class(address: IPAddress) -> str | None:
    """Why ``address`` is refused ("loopback", "private", …), or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    for name in ("unspecified", "loopback", "link-local", "multicast", "private", "reserved"):
        if getattr(address, "is_" + name.replace("-", "_")):
            return name
    return None if address.is_global else "non-public"


def _check(host: str, addresses: list[IPAddress]) -> None:
    for address in addresses:
        kind = address_class(address)
        if kind:
            shown = host if _literal(host) == address else f"{host} ({address})"
            article = "an" if kind[0] in "aeiou" else "a"
            raise DestinationRefused(
                f"endpoint host {shown} is {article} {kind} address; deliveries there are refused "
                "(--allow-private-endpoints allows them)"
            )


def _host_port(url: str) -> tuple[str, int]:
    parsed = httpx.URL(url)
    if not parsed.host:
        raise DestinationRefused("endpoint has no host")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return parsed.host, port


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


def _addresses(infos: AddrInfo) -> list[IPAddress]:
    return [ipaddress.ip_address(str(sockaddr[0]).split("%")[0]) for *_, sockaddr in infos]


__all__ = ["DestinationRefused", "address_class", "async_check_destination", "check_destination"]
