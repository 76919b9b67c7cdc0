"""Outbound webhook targets: which URLs and addresses a webhook may reach (SSRF guard).

A URL passes when its scheme is http/https and every address its host resolves to is a
public unicast address, unless its `host:port` is on the allowlist (test receivers). The
result carries the checked address so the caller connects to exactly that address and
never resolves the name again (no DNS-rebinding window between check and connect).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

ALLOWED_SCHEMES = frozenset({"http", "https"})
MAX_URL_LENGTH = 2048

# Cloud metadata services reachable by name (their addresses are refused below as well).
METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.com",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "metadata.oraclecloud.com",
    }
)
# Global-looking addresses that are metadata endpoints all the same.
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("169.254.170.2"),
        ipaddress.ip_address("168.63.129.16"),  # Azure wire server
        ipaddress.ip_address("100.100.100.200"),  # Alibaba
        ipaddress.ip_address("fd00:ec2::254"),
    }
)
# IPv6 ranges that embed or translate to IPv4 (they would smuggle an IPv4 target past the
# IPv6 checks) or that the `ipaddress` module still counts as global.
_REFUSED_V6_NETWORKS = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::/96",  # IPv4-compatible (deprecated), also :: and ::1
        "::ffff:0:0/96",  # IPv4-mapped
        "::ffff:0:0:0/96",  # IPv4-translated
        "64:ff9b::/96",  # NAT64 well-known prefix
        "64:ff9b:1::/48",  # NAT64 local-use
        "2002::/16",  # 6to4
        "2001::/32",  # Teredo
        "fc00::/7",  # unique local
        "fec0::/10",  # site local (deprecated)
        "fe80::/10",  # link local
        "ff00::/8",  # multicast
        "100::/64",  # discard only
        "2001:db8::/32",  # documentation
    )
)
_REFUSED_V4_NETWORKS = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
    )
)
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_-]{1,63}$")
# Characters of the legacy inet_aton spellings: 127.1, 0x7f000001, 2130706433, 0177.0.0.1.
_NUMERIC_HOST = re.compile(r"^[0-9a-fx.]+$")


class UnsafeTarget(ValueError):
    """The URL must not be called; the message is safe to show to the API client."""


class TargetUnresolvable(Exception):
    """The host did not resolve (possibly a passing DNS failure: worth a retry)."""


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A parsed webhook URL: what to connect to and what to present as Host / SNI."""

    url: httpx.URL
    scheme: str
    host: str  # lower-case, without brackets or a trailing dot
    port: int

    @property
    def host_port(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class CheckedTarget:
    """A target whose address was checked: connect to `address`, never to `target.host`."""

    target: WebhookTarget
    address: IPAddress


def forbidden_reason(address: IPAddress) -> str | None:
    """Why `address` must not be reached, or None for a public unicast address."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None or address.sixtofour is not None:
            return "an IPv4 address in IPv6 form"
        if any(address in net for net in _REFUSED_V6_NETWORKS):
            return "a non-public IPv6 address"
    elif any(address in net for net in _REFUSED_V4_NETWORKS):
        return "a non-public IPv4 address"
    # Catch-all for ranges the lists above do not name (loopback, reserved, private, ...).
    if not address.is_global or address.is_multicast or address.is_unspecified:
        return "a non-public address"
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as an IP literal stands for, in any legacy spelling."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host) and any(ch.isdigit() for ch in host):
        try:
            # inet_aton accepts what resolvers accept: 127.1, 0x7f000001, 2130706433, octal.
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def parse_target(raw_url: str) -> WebhookTarget:
    """Parse and sanity-check a webhook URL without touching the network."""
    if len(raw_url) > MAX_URL_LENGTH:
        raise UnsafeTarget("The webhook URL is too long.")
    try:
        url = httpx.URL(raw_url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise UnsafeTarget("The webhook URL is not valid.") from exc
    if url.scheme not in ALLOWED_SCHEMES:
        raise UnsafeTarget("Only http and https webhook URLs are allowed.")
    if url.userinfo:
        raise UnsafeTarget("Credentials in a webhook URL are not allowed.")
    host = url.host.rstrip(".").lower()
    if not host:
        raise UnsafeTarget("The webhook URL has no host.")
    if "%" in host:  # IPv6 zone ids and percent-encoded names
        raise UnsafeTarget("The webhook URL host is not valid.")
    if ":" not in host and literal_address(host) is None and not _HOSTNAME.match(host):
        raise UnsafeTarget("The webhook URL host is not valid.")
    port = url.port or (443 if url.scheme == "https" else 80)
    return WebhookTarget(url=url, scheme=url.scheme, host=host, port=port)


def normalise_allowlist(entries: Iterable[str]) -> frozenset[str]:
    """`host:port` entries in the form `WebhookTarget.host_port` uses."""
    normalised = set()
    for entry in entries:
        host, _, port = entry.strip().lower().rpartition(":")
        normalised.add(f"{host.rstrip('.')}:{int(port)}")
    return frozenset(normalised)


def _is_metadata_name(host: str) -> bool:
    return host in METADATA_HOSTS or host == "localhost" or host.endswith(".localhost")


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, through the event loop's getaddrinfo (a thread)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


async def resolve_addresses(
    target: WebhookTarget, *, resolver: Resolver, dns_timeout: float
) -> list[IPAddress]:
    literal = literal_address(target.host)
    if literal is not None:
        return [literal]
    try:
        async with asyncio.timeout(dns_timeout):
            raw = await resolver(target.host, target.port)
    except (OSError, TimeoutError) as exc:
        raise TargetUnresolvable("The webhook host cannot be resolved.") from exc
    addresses = [ipaddress.ip_address(item.split("%", 1)[0]) for item in raw]
    if not addresses:
        raise TargetUnresolvable("The webhook host cannot be resolved.")
    return addresses


async def check_target(
    target: WebhookTarget,
    *,
    allowlist: frozenset[str],
    dns_timeout: float,
    resolver: Resolver = system_resolver,
) -> CheckedTarget:
    """Resolve `target` and return the address to connect to, or raise `UnsafeTarget`.

    One refused address refuses the host: a name that answers with both a public and a
    private address is a rebinding attempt, not a choice.
    """
    allowed = target.host_port in allowlist
    if not allowed and _is_metadata_name(target.host):
        raise UnsafeTarget("The webhook URL points at a local or metadata host.")
    addresses = await resolve_addresses(target, resolver=resolver, dns_timeout=dns_timeout)
    if not allowed:
        for address in addresses:
            reason = forbidden_reason(address)
            if reason is not None:
                raise UnsafeTarget(f"The webhook URL resolves to {reason}.")
    return CheckedTarget(target=target, address=addresses[0])


def pinned_request_url(checked: CheckedTarget) -> httpx.URL:
    """The target URL with its host replaced by the checked address (Host header kept apart)."""
    return checked.target.url.copy_with(host=str(checked.address))


def host_header(target: WebhookTarget) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"
