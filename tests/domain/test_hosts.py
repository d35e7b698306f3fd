"""Hosts read as a connection reads them: every spelling of an address is that address."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from mcos.domain.hosts import (
    BadHost,
    blocking_network,
    canonical_host,
    ip_literal,
    parse_host_port,
    reached,
)

LOOPBACK = ["127.0.0.0/8", "::1/128"]


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("169.254.169.254", "169.254.169.254"),
        ("[::1]", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("::FFFF:7f00:1", "::ffff:7f00:1"),
    ],
)
def test_an_address_in_any_notation_is_that_address(host: str, address: str) -> None:
    assert canonical_host(host) == address
    assert str(ip_literal(host)) == address


@pytest.mark.parametrize(
    "host", ["127.1", "0x7f000001", "2130706433", "0177.0.0.1", "[::ffff:127.0.0.1]", "::1"]
)
def test_every_spelling_of_loopback_is_in_the_loopback_network(host: str) -> None:
    address = ip_literal(host)
    assert address is not None
    assert blocking_network(address, LOOPBACK) is not None


@pytest.mark.parametrize(
    ("address", "embedded"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1"),  # IPv4-mapped
        ("::10.0.0.5", "10.0.0.5"),  # IPv4-compatible
        ("2002:a9fe:a9fe::1", "169.254.169.254"),  # 6to4
        ("64:ff9b::a00:5", "10.0.0.5"),  # NAT64
    ],
)
def test_an_ipv6_address_answers_for_the_ipv4_address_it_carries(
    address: str, embedded: str
) -> None:
    assert IPv4Address(embedded) in reached(IPv6Address(address))
    networks = ["10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16"]
    assert blocking_network(IPv6Address(address), networks) is not None


def test_names_are_lowercased_idna_encoded_and_lose_their_trailing_dot() -> None:
    assert canonical_host("Billing.INTERNAL.") == "billing.internal"
    assert canonical_host("bücher.de") == "xn--bcher-kva.de"
    # Written in fullwidth digits, it is still the loopback address.
    assert canonical_host("\uff11\uff12\uff17.\uff10.\uff10.\uff11") == "127.0.0.1"
    assert ip_literal("example.com") is None
    assert blocking_network(IPv4Address("93.184.216.34"), LOOPBACK) is None


@pytest.mark.parametrize(
    "host", ["1.2.3.999", "1.2.3.4.5", "example.09", "[example.com]", "::g", "a..b", "", "a b"]
)
def test_what_is_neither_an_address_nor_a_name_is_refused(host: str) -> None:
    with pytest.raises(BadHost):
        canonical_host(host)


def test_host_and_port_entries() -> None:
    assert parse_host_port("Billing.Internal:8443") == ("billing.internal", 8443)
    assert parse_host_port("[fd00::5]:80") == ("fd00::5", 80)
    assert parse_host_port("fd00::5") == ("fd00::5", None)
    assert parse_host_port("127.1") == ("127.0.0.1", None)
    for bad in ("host:0", "host:65536", "host:x", "[::1", "[::1]x", ":80"):
        with pytest.raises(BadHost):
            parse_host_port(bad)
