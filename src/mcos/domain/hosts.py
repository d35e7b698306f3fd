"""Hosts and addresses as a connection reads them, not as they are spelt.

``127.1``, ``0x7f000001``, ``2130706433``, ``0177.0.0.1`` and ``[::ffff:127.0.0.1]`` all reach
127.0.0.1: the resolver (``inet_aton``) and the WHATWG URL standard read an IPv4 address as one
to four numbers, each in decimal, octal or hex, and an IPv6 address may carry an IPv4 one. A
guard that compares strings is stepped around; so a host is read here once, the way a
connection reads it, and every guard compares what comes out:

- an IP literal, in any notation, becomes its address (:func:`ip_literal`);
- a name is lowercased, loses its trailing dot and is IDNA-encoded (:func:`canonical_host`);
- an IPv6 address also answers for the IPv4 address it embeds (:func:`reached`): mapped
  (``::ffff:a.b.c.d``), compatible (``::a.b.c.d``), 6to4 (``2002::/16``), NAT64
  (``64:ff9b::/96``) and Teredo.

Pure: no resolution happens here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_NAT64 = IPv6Network("64:ff9b::/96")


class BadHost(ValueError):
    """A host no connection can be made to; the message says why."""


def ip_literal(host: str) -> IPAddress | None:
    """The address ``host`` spells, in any notation; ``None`` when it is a name.

    Raises :class:`BadHost` for what is neither: ``1.2.3.999`` (it ends in a number, so it is
    read as an address, and is not one), ``[example.com]``, ``::g``.
    """
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in text or host.startswith("["):
        if "%" in text:
            raise BadHost(f"{host!r} has an IPv6 zone; give the address without it")
        try:
            return IPv6Address(text)
        except ValueError:
            raise BadHost(f"{host!r} is not an IPv6 address") from None
    return _ipv4_numbers(text)


def _ipv4_numbers(text: str) -> IPv4Address | None:
    """The WHATWG IPv4 parser: a host whose last label is a number is an address, or wrong."""
    parts = text.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # one trailing dot is allowed, as in a name
    last = parts[-1]
    if not (last.isascii() and last.isdigit()) and _number(last) is None:
        return None
    numbers = [_number(part) for part in parts]
    if len(parts) > 4 or any(n is None for n in numbers):
        raise BadHost(f"{text!r} ends in a number but is not an IPv4 address")
    values = [n for n in numbers if n is not None]
    if any(v > 255 for v in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise BadHost(f"{text!r} is not an IPv4 address: a number is out of range")
    address = values[-1]
    for i, value in enumerate(values[:-1]):
        address += value * 256 ** (3 - i)
    return IPv4Address(address)


def _number(part: str) -> int | None:
    """One part of an IPv4 address: decimal, ``0x`` hex or ``0``-led octal; else ``None``."""
    try:
        if part[:2] in ("0x", "0X"):
            return int(part[2:] or "0", 16)
        if len(part) > 1 and part.startswith("0"):
            return int(part[1:], 8)
        return int(part, 10) if part.isascii() and part.isdigit() else None
    except ValueError:
        return None


def canonical_name(host: str) -> str:
    """A host name as DNS reads it: lowercase, IDNA-encoded, without its trailing dot."""
    name = host.lower()
    if name.endswith("."):
        name = name[:-1]
    try:
        name = name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise BadHost(f"{host!r} is not a valid host name") from None
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise BadHost(f"{host!r} is not a valid host name")
    return name


def canonical_host(host: str) -> str:
    """An address in its standard form (IPv6 without brackets), or the canonical name.

    A "name" that IDNA maps to an address (one written in fullwidth digits) is that address.
    """
    address = ip_literal(host)
    if address is None:
        name = canonical_name(host)
        address = ip_literal(name)
        if address is None:
            return name
    return str(address)


def embedded_ipv4(address: IPv6Address) -> tuple[IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address carries, which a packet to it may reach."""
    found: list[IPv4Address] = []
    value = int(address)
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    elif 1 < value < 2**32:  # ::a.b.c.d, the deprecated IPv4-compatible form
        found.append(IPv4Address(value))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address in _NAT64:
        found.append(IPv4Address(value & 0xFFFFFFFF))
    if address.teredo is not None:
        found.extend(address.teredo)
    return tuple(found)


def reached(address: IPAddress) -> tuple[IPAddress, ...]:
    """The address, then every IPv4 address it embeds."""
    if isinstance(address, IPv6Address):
        return (address, *embedded_ipv4(address))
    return (address,)


def blocking_network(address: IPAddress, networks: Iterable[str]) -> str | None:
    """The first of ``networks`` (CIDR text) that holds ``address`` or an address it embeds."""
    targets = reached(address)
    for text in networks:
        network = parse_network(text)
        if any(target.version == network.version and target in network for target in targets):
            return text
    return None


def parse_network(text: str) -> IPNetwork:
    """A CIDR network (``10.0.0.0/8``, ``fe80::/10``, or one address); ``ValueError`` if bad."""
    return ip_network(text, strict=True)


def parse_host_port(entry: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``, as the canonical host and the port.

    Raises :class:`BadHost` saying what is wrong.
    """
    host, port = entry, None
    if entry.startswith("["):
        end = entry.find("]")
        if end < 0:
            raise BadHost(f"{entry!r} opens a '[' it does not close")
        host, rest = entry[: end + 1], entry[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise BadHost(f"{entry!r} has {rest!r} after the address")
            port = parse_port(rest[1:], entry)
    elif entry.count(":") == 1:
        host, text = entry.split(":")
        port = parse_port(text, entry)
    if not host:
        raise BadHost(f"{entry!r} names no host")
    return canonical_host(host), port


def parse_port(text: str, where: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65_535:
        raise BadHost(f"{where!r} has port {text!r}; a port is a number from 1 to 65535")
    return int(text)
