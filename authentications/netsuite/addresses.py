"""Which IP addresses nsconnect may connect to without an allowlist entry: public ones only.

A host name is only as trustworthy as its DNS answer, so the HTTP layer (connections) asks
this module about every address a name resolves to before it connects to any of them.
"""

from __future__ import annotations

import functools
import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Named before the general rules so the message says what the address is for.
_METADATA = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle Cloud
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_PRIVATE = tuple(
    ipaddress.ip_network(network) for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
# The well-known NAT64 prefix (RFC 6052) carries an IPv4 address in its last 32 bits; DNS64
# networks answer with it for every IPv4-only name, so it is judged by the address it carries.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address stands for, and how it is written, if it stands for one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "IPv4-mapped"
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF), "NAT64"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    return None


def _kind(address: IPAddress) -> str | None:
    if address in _METADATA:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified or address in _THIS_NETWORK:
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:  # is_global is True for most multicast: checked before it
        return "a multicast address"
    if address in _SHARED:
        return "a carrier-grade NAT address"
    if any(address in network for network in _PRIVATE):
        return "a private address"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "a site-local address"
    if not address.is_global or address.is_reserved:
        # Documentation, benchmarking, IPv4-compatible IPv6, Teredo, broadcast, 240.0.0.0/4...
        return "a reserved address"
    return None


@functools.lru_cache(maxsize=1024)
def why_not_public(address: str) -> str | None:
    """None when `address` (as getaddrinfo gives it) is a public unicast address; otherwise what
    it is, in words for a message: "a loopback address", "a private address (IPv4-mapped
    10.0.0.1)"... An IPv6 address that carries an IPv4 one is judged by the IPv4 one.

    Cached: a process meets the same few addresses again and again, and the answer never changes.
    """
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "not an IP address"
    if isinstance(parsed, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(parsed)
        if embedded is not None:
            inner, how = embedded
            kind = _kind(inner)
            return None if kind is None else f"{kind} ({how} {inner})"
    return _kind(parsed)
