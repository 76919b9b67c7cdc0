"""The webhook target guard: URL parsing, address classification, resolution, allowlist."""

from __future__ import annotations

import ipaddress

import pytest

from notify_svc.core import ssrf

REFUSED_URLS = [
    "http://127.0.0.1/",
    "http://127.1/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f.1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::127.0.0.1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::]/",
    "http://0.0.0.0/",
    "http://[::]/",
    "http://10.0.0.1/",
    "http://10.255.255.255/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://100.127.255.254/",
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.1.1/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://[fd00:ec2::254]/",
    "http://[fc00::1]/",
    "http://224.0.0.1/",
    "http://239.255.255.250/",
    "http://[ff02::1]/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://168.63.129.16/",
    "http://100.100.100.200/",
    "http://192.0.2.10/",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
async def test_non_public_addresses_are_refused(url: str) -> None:
    # Some spellings fail parsing already (httpx refuses them); either way they are refused.
    async def parse_and_check() -> None:
        target = ssrf.parse_target(url)
        await ssrf.check_target(target, allowlist=frozenset(), dns_timeout=1)

    with pytest.raises(ssrf.UnsafeTarget):
        await parse_and_check()


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://example.com/",
        "javascript:alert(1)",
        "http://user:pw@example.com/",
        "http:///nohost",
        "http://exa mple.com/",
        "http://[fe80::1%25eth0]/",
        "http://" + "a" * 2100 + ".com/",
        "not a url at all",
        "http://[::1/",
    ],
)
def test_malformed_or_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(ssrf.UnsafeTarget):
        ssrf.parse_target(url)


@pytest.mark.parametrize(
    "host",
    [
        "metadata.google.internal",
        "METADATA.google.internal.",
        "metadata",
        "localhost",
        "a.localhost",
    ],
)
async def test_metadata_and_local_names_are_refused_before_resolving(host: str) -> None:
    async def resolver(_: str, __: int) -> list[str]:
        raise AssertionError("must not resolve")

    target = ssrf.parse_target(f"http://{host}/")
    with pytest.raises(ssrf.UnsafeTarget, match="metadata"):
        await ssrf.check_target(target, allowlist=frozenset(), dns_timeout=1, resolver=resolver)


async def test_a_name_with_one_private_answer_is_refused() -> None:
    async def rebinding(_: str, __: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.5"]

    target = ssrf.parse_target("https://hooks.example.com/x")
    with pytest.raises(ssrf.UnsafeTarget, match="non-public IPv4"):
        await ssrf.check_target(target, allowlist=frozenset(), dns_timeout=1, resolver=rebinding)


async def test_public_name_is_pinned_to_its_checked_address() -> None:
    async def public(_: str, __: int) -> list[str]:
        return ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]

    target = ssrf.parse_target("https://Hooks.Example.com:8443/path?q=1")
    checked = await ssrf.check_target(target, allowlist=frozenset(), dns_timeout=1, resolver=public)
    assert checked.address == ipaddress.ip_address("93.184.216.34")
    assert str(ssrf.pinned_request_url(checked)) == "https://93.184.216.34:8443/path?q=1"
    assert ssrf.host_header(target) == "hooks.example.com:8443"
    assert target.host_port == "hooks.example.com:8443"


async def test_ipv6_target_keeps_brackets() -> None:
    target = ssrf.parse_target("http://[2606:4700::1111]/")
    checked = await ssrf.check_target(target, allowlist=frozenset(), dns_timeout=1)
    assert str(ssrf.pinned_request_url(checked)) == "http://[2606:4700::1111]/"
    assert ssrf.host_header(target) == "[2606:4700::1111]"
    assert target.port == 80


async def test_unresolvable_and_slow_names() -> None:
    async def empty(_: str, __: int) -> list[str]:
        return []

    async def slow(_: str, __: int) -> list[str]:
        import asyncio

        await asyncio.sleep(5)
        return ["93.184.216.34"]

    target = ssrf.parse_target("http://hooks.example.com/")
    for resolver in (empty, slow):
        with pytest.raises(ssrf.TargetUnresolvable):
            await ssrf.check_target(
                target, allowlist=frozenset(), dns_timeout=0.05, resolver=resolver
            )
    with pytest.raises(ssrf.TargetUnresolvable):
        await ssrf.check_target(
            ssrf.parse_target("http://no-such-host.invalid/"), allowlist=frozenset(), dns_timeout=2
        )


async def test_allowlist_admits_exact_host_and_port_only() -> None:
    allow = ssrf.normalise_allowlist(["127.0.0.1:8099", " LOCALHOST.:9000 ", "[::1]:81"])
    assert allow == {"127.0.0.1:8099", "localhost:9000", "[::1]:81"}
    ok = await ssrf.check_target(
        ssrf.parse_target("http://127.0.0.1:8099/h"), allowlist=allow, dns_timeout=1
    )
    assert str(ok.address) == "127.0.0.1"
    assert (
        await ssrf.check_target(
            ssrf.parse_target("http://[::1]:81/"), allowlist=allow, dns_timeout=1
        )
    ).address
    await ssrf.check_target(
        ssrf.parse_target("http://localhost:9000/"), allowlist=allow, dns_timeout=2
    )
    with pytest.raises(ssrf.UnsafeTarget):
        await ssrf.check_target(
            ssrf.parse_target("http://127.0.0.1:8098/"), allowlist=allow, dns_timeout=1
        )


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("8.8.8.8", False),
        ("1.1.1.1", False),
        ("2606:4700:4700::1111", False),
        ("172.15.255.255", False),
        ("172.32.0.1", False),
        ("100.63.255.255", False),
        ("100.128.0.1", False),
        ("192.169.0.1", False),
        ("127.0.0.1", True),
        ("::ffff:8.8.8.8", True),  # IPv4-mapped, even of a public address
        ("64:ff9b::808:808", True),
        ("2001:0::1", True),  # Teredo
        ("fec0::1", True),
        ("2001:db8::1", True),
    ],
)
def test_forbidden_reason_table(address: str, refused: bool) -> None:
    assert (ssrf.forbidden_reason(ipaddress.ip_address(address)) is not None) is refused


def test_literal_spellings() -> None:
    assert ssrf.literal_address("2130706433") == ipaddress.ip_address("127.0.0.1")
    assert ssrf.literal_address("0x7f.0.0.1") == ipaddress.ip_address("127.0.0.1")
    assert ssrf.literal_address("1.2.3.4.5") is None
    assert ssrf.literal_address("cafe") is None  # a hostname made of hex letters
    assert ssrf.literal_address("example.com") is None
