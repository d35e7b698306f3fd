"""fetch_url through the real toolbox, against a real control plane and real local web servers.

127.0.0.0/8 is blocked for every agent by the fleet's defaults, and 127.0.0.1 is the control
plane's own host. So the servers here listen on 127.0.0.2 (and 127.0.0.3), and the test fleet
opens exactly one of them to Donna and Atlas by exception (``allowed_hosts``): every other
address, spelling or redirect stays closed.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcos.client.outbox import Outbox
from mcos.fleet.loader import load_fleet
from mcos.fleet.schema import Fleet
from mcos.runtime.client import AgentLink, ControlPlane, deliver
from mcos.runtime.netcheck import checked_address
from mcos.runtime.permission import ToolError
from mcos.runtime.providers.base import ToolCall
from mcos.runtime.toolbox import Toolbox, ToolResult
from mcos.runtime.workspace import Workspace
from tests.fixtures.server import Server, running_server
from tests.fixtures.web import WebServer, make_certificates, port_free_on

RESOLVES: dict[str, list[str]] = {}
"""Test-only host names and what the patched resolver answers for them, in turn (see below)."""


@dataclass
class World:
    srv: Server
    fleet: Fleet
    allowed: WebServer
    """127.0.0.2: open to Donna and Atlas by exception, on its port alone."""
    other: WebServer
    """127.0.0.2 on another port: closed."""
    rebound: WebServer
    """127.0.0.3, on the allowed server's port: where a re-resolved name would lead."""
    tls: WebServer
    """https on 127.0.0.2, with a certificate for ``fetch.test`` only."""
    ca: Path
    tokens: dict[str, str]
    folder: Path


def guard(text: str, name: str, table: str) -> str:
    """The fleet text with ``table`` (TOML lines) added to agent ``name``."""
    start = text.index(f'name = "{name}"')
    at = text.index("[agents.budget]", start)
    return text[:at] + table + "\n" + text[at:]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("fetch")
    certificates = make_certificates(folder, "fetch.test")
    with (
        WebServer("127.0.0.2") as allowed,
        WebServer("127.0.0.2") as other,
        WebServer("127.0.0.2", tls=certificates.server_context()) as tls,
    ):
        assert port_free_on("127.0.0.3", allowed.port)
        with (
            WebServer("127.0.0.3", allowed.port) as rebound,
            running_server(folder, f"sqlite+pysqlite:///{folder / 'mcos.db'}") as srv,
        ):
            exceptions = (
                f'allowed_hosts = ["{allowed.authority}", "rebind.test", "fetch.test", '
                f'"wrong.test"]'
            )
            fleet_file = srv.fleet_dir / "fleet.toml"
            text = guard(fleet_file.read_text(), "donna", f"[agents.guard]\n{exceptions}")
            text = guard(text, "atlas", f'[agents.guard]\n{exceptions}\nask_first = ["http.fetch"]')
            fleet_file.write_text(text)
            srv.stop()
            srv.start()
            tokens = {name: srv.agent_token(name) for name in ("donna", "atlas", "flow")}
            yield World(
                srv,
                load_fleet(srv.fleet_dir),
                allowed,
                other,
                rebound,
                tls,
                certificates.ca,
                tokens,
                folder,
            )


@pytest.fixture
def seen(world: World) -> Iterator[World]:
    """The world, with every server's record of requests cleared before the test."""
    for server in (world.allowed, world.other, world.rebound, world.tls):
        server.seen.clear()
        server.routes.clear()
    yield world


@asynccontextmanager
async def toolbox(world: World, name: str) -> AsyncIterator[Toolbox]:
    """The agent's real toolbox, on a real link to the control plane."""
    control = ControlPlane(world.srv.url)
    outbox = Outbox(world.folder / f"outbox-{name}.db", lambda r: deliver(control, {}, r))
    agent = world.fleet.agent(name)
    assert agent is not None
    link = AgentLink(name, world.tokens[name], control, outbox)
    workspace = Workspace.open(world.folder / "workspaces", world.fleet, agent)
    try:
        yield Toolbox(agent, workspace, link)
    finally:
        outbox.close()
        await control.aclose()


def fetch(world: World, name: str, url: str) -> ToolResult:
    async def go() -> ToolResult:
        async with toolbox(world, name) as tools:
            return await tools.run(ToolCall("call-1", "fetch_url", json.dumps({"url": url})), 7)

    return asyncio.run(go())


def decisions(world: World, name: str, after: int = 0) -> list[dict[str, Any]]:
    with world.srv.client() as operator:
        events = operator.get(
            "/api/v1/events", params={"types": "policy.decided", "after": after, "limit": 1000}
        ).json()["events"]
    return [e["data"] for e in events if e["data"]["agent"] == name]


def last_seq(world: World) -> int:
    """Where the event log is now: decisions after it are this test's."""
    with world.srv.client() as operator:
        events = operator.get("/api/v1/events", params={"limit": 10_000}).json()["events"]
    seq: int = max((e["seq"] for e in events), default=0)
    return seq


def test_an_allowed_page_is_fetched_and_the_decision_records_each_address(seen: World) -> None:
    seen.allowed.page("/status", "all 9 services up")
    start = last_seq(seen)
    result = fetch(seen, "donna", seen.allowed.url("/status"))
    assert not result.failed, result.turn.text
    assert result.turn.text == "HTTP 200\nall 9 services up"
    assert [(s.path, s.host) for s in seen.allowed.seen] == [("/status", seen.allowed.authority)]
    (decided,) = decisions(seen, "donna", start)
    assert decided["outcome"] == "allow"
    action = decided["action"]
    assert (action["kind"], action["host"], action["port"], action["addresses"]) == (
        "http.fetch",
        "127.0.0.2",
        seen.allowed.port,
        ["127.0.0.2"],
    )


def test_every_spelling_of_loopback_and_every_closed_port_is_refused(seen: World) -> None:
    port = seen.allowed.port
    seen.allowed.page("/", "should never be read")
    seen.other.page("/", "should never be read")
    for url in (
        f"http://127.0.0.1:{port}/",
        f"http://127.1:{port}/",
        f"http://0x7f000001:{port}/",
        f"http://2130706433:{port}/",
        f"http://0177.0.0.1:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://[::1]:{port}/",
        f"http://0.0.0.0:{port}/",
        f"http://localhost:{port}/",
        f"http://127.0.0.3:{port}/",
        seen.other.url("/"),  # the allowed host, on a port its exception does not name
        seen.srv.url + "/api/v1/health",  # the control plane itself
    ):
        result = fetch(seen, "donna", url)
        assert result.failed, url
        assert result.turn.text.startswith("refused by policy: host "), (url, result.turn.text)
    assert seen.allowed.seen == [] and seen.other.seen == [], "nothing was connected to"


def test_localhost_is_refused_for_what_it_resolves_to(seen: World) -> None:
    start = last_seq(seen)
    result = fetch(seen, "donna", f"http://LocalHost.:{seen.allowed.port}/")
    assert result.failed
    (decided,) = decisions(seen, "donna", start)
    assert decided["outcome"] == "deny"
    assert decided["action"]["host"] == "localhost"
    assert "127.0.0.1" in decided["action"]["addresses"]


def test_redirects_are_followed_and_each_hop_is_checked(seen: World) -> None:
    seen.allowed.page("/report", "the report")
    seen.allowed.redirect("/moved", "/report", 301)
    seen.allowed.redirect("/jump", seen.other.url("/secret"))
    seen.allowed.redirect("/rebind", f"http://0x7f000001:{seen.srv.port}/api/v1/health")
    seen.allowed.redirect("/loop", "/loop")
    seen.other.page("/secret", "must not be read")
    start = last_seq(seen)

    moved = fetch(seen, "donna", seen.allowed.url("/moved"))
    assert moved.turn.text == (
        f"HTTP 200\n[fetched {seen.allowed.url('/report')} after redirects]\nthe report"
    )
    assert [d["outcome"] for d in decisions(seen, "donna", start)] == ["allow", "allow"]

    for path, to in (("/jump", seen.other.url("/secret")), ("/rebind", "http://127.0.0.1:")):
        jumped = fetch(seen, "donna", seen.allowed.url(path))
        assert jumped.failed
        assert jumped.turn.text.startswith(f"{seen.allowed.url(path)} redirects to {to}")
        assert "refused by policy" in jumped.turn.text
    assert seen.other.seen == []

    looped = fetch(seen, "donna", seen.allowed.url("/loop"))
    assert looped.failed and looped.turn.text.startswith("more than 5 redirects")
    assert [s.path for s in seen.allowed.seen].count("/loop") == 6


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://[::1/", "never closes it"),
        ("http://example.org:99999/", "a port is a number from 1 to 65535"),
        ("http://example.org:0/", "a port is a number from 1 to 65535"),
        ("http://example.org:8o/", "a port is a number from 1 to 65535"),
        ("http:///etc/passwd", "names no host"),
        ("http://user:secret@127.0.0.2/", "user name or password"),
        ("ftp://example.org/file", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("http://exa mple.org/", "spaces"),
        ("http://1.2.3.999/", "not an IPv4 address"),
        ("http://::1/", "written in brackets"),
        ("http://example.org\\@127.0.0.2/", "user name or password"),
        ("http://%31%32%37.0.0.1/", "escaped"),
        ("example.org", "is not a URL"),
    ],
)
def test_a_malformed_url_is_a_tool_error_and_nothing_is_asked(
    seen: World, url: str, says: str
) -> None:
    start = last_seq(seen)
    result = fetch(seen, "donna", url)
    assert result.failed
    assert says in result.turn.text, result.turn.text
    assert decisions(seen, "donna", start) == []


def test_the_connection_goes_to_the_address_that_was_checked(
    seen: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name's answer changes between the check and the connection.

    No DNS server can be pointed at from here without root, so the event loop's resolver is
    replaced for the test-only name alone: it answers 127.0.0.2 once, then 127.0.0.3.
    """
    seen.allowed.page("/", "checked")
    seen.rebound.page("/", "rebound")
    asked: list[str] = []

    async def go() -> ToolResult:
        loop = asyncio.get_running_loop()
        real = loop.getaddrinfo

        async def getaddrinfo(host: Any, port: Any, **kwargs: Any) -> Any:
            if host != "rebind.test":
                return await real(host, port, **kwargs)
            asked.append(host)
            address = "127.0.0.2" if len(asked) == 1 else "127.0.0.3"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

        monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
        async with toolbox(seen, "donna") as tools:
            call = ToolCall(
                "c", "fetch_url", json.dumps({"url": seen.allowed.url("/", "rebind.test")})
            )
            return await tools.run(call, None)

    result = asyncio.run(go())
    assert result.turn.text == "HTTP 200\nchecked"
    assert asked == ["rebind.test"], "resolved once, by the check"
    assert [s.host for s in seen.allowed.seen] == [f"rebind.test:{seen.allowed.port}"]
    assert seen.rebound.seen == []


def resolving(names: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Patch the running loop's resolver so that ``names`` resolve as given (test names only)."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def getaddrinfo(host: Any, port: Any, **kwargs: Any) -> Any:
        if host not in names:
            return await real(host, port, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (names[host], port))]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)


def test_https_goes_to_the_checked_address_with_the_certificate_checked_for_the_name(
    seen: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(seen.ca))  # trust the test CA (read per event loop)
    seen.tls.page("/", "secure")

    async def go(name: str) -> ToolResult:
        resolving({"fetch.test": "127.0.0.2", "wrong.test": "127.0.0.2"}, monkeypatch)
        async with toolbox(seen, "donna") as tools:
            call = ToolCall("c", "fetch_url", json.dumps({"url": seen.tls.url("/", name)}))
            return await tools.run(call, None)

    good = asyncio.run(go("fetch.test"))
    assert good.turn.text == "HTTP 200\nsecure"
    assert [(s.host, s.server_name) for s in seen.tls.seen] == [
        (f"fetch.test:{seen.tls.port}", "fetch.test")
    ]
    wrong = asyncio.run(go("wrong.test"))  # allowed, but the certificate is fetch.test's
    assert wrong.failed and "CERTIFICATE_VERIFY_FAILED" in wrong.turn.text, wrong.turn.text
    assert len(seen.tls.seen) == 1


def test_a_fetch_that_needs_approval_waits_then_goes_to_the_approved_address(
    seen: World,
) -> None:
    seen.allowed.page("/quote", "R 12,400")

    async def scenario() -> tuple[ToolResult, str | None]:
        async with toolbox(seen, "atlas") as tools:
            result = await tools.run(
                ToolCall("c", "fetch_url", json.dumps({"url": seen.allowed.url("/quote")})), 9
            )
            assert result.parked is not None, result.turn.text
            assert seen.allowed.seen == [], "nothing is fetched before the approval"
            assert await tools.resume(result.parked) is None, "still pending"
            approval_id = result.parked["approval_id"]
            async with httpx.AsyncClient(
                base_url=seen.srv.url,
                headers={"Authorization": f"Bearer {seen.srv.operator_token}"},
            ) as operator:
                shown = (await operator.get(f"/api/v1/approvals/{approval_id}")).json()
                assert shown["subject"]["addresses"] == ["127.0.0.2"]
                approved = await operator.post(f"/api/v1/approvals/{approval_id}/approve", json={})
                assert approved.status_code == 200, approved.text
            outcome = await tools.resume(result.parked)
            return result, outcome[0].text if outcome else None

    parked, resumed = asyncio.run(scenario())
    assert (
        "this needs approval #" in parked.turn.text and "Nothing was done yet" in parked.turn.text
    )
    assert resumed is not None
    assert resumed.endswith("fetch_url ran:\nHTTP 200\nR 12,400")
    assert [s.path for s in seen.allowed.seen] == ["/quote"]


def test_an_agent_without_network_is_refused_before_any_name_is_resolved(seen: World) -> None:
    start = last_seq(seen)
    result = fetch(seen, "flow", "http://no-such-host.invalid/")
    assert result.failed
    assert "refused by policy" in result.turn.text and "'network'" in result.turn.text
    (decided,) = decisions(seen, "flow", start)
    assert (decided["outcome"], decided["rule"]) == ("deny", "capability")
    assert decided["action"]["host"] == "no-such-host.invalid"
    assert "addresses" not in decided["action"], "refused before resolving"


def test_checked_address_is_the_one_address_to_connect_to(seen: World) -> None:
    """The step the sandbox's egress proxy takes for every CONNECT."""

    async def go() -> tuple[str, str]:
        async with toolbox(seen, "donna") as tools:
            link = tools.link
            allowed = await checked_address(link, "127.0.0.2", seen.allowed.port, reason="proxy")
            with pytest.raises(ToolError) as refused:
                await checked_address(link, "[::ffff:127.0.0.1]", 443, reason="proxy")
            return allowed, str(refused.value)

    allowed, refused = asyncio.run(go())
    assert allowed == "127.0.0.2"
    assert refused.startswith("refused by policy: host ::ffff:7f00:1")


def test_the_api_takes_only_ip_addresses_and_real_ports(seen: World) -> None:
    with seen.srv.client(seen.tokens["donna"]) as donna:
        for bad in ({"addresses": ["localhost"]}, {"port": 0}, {"addresses": ["1.1.1.1"] * 33}):
            asked = donna.post(
                "/api/v1/actions", json={"kind": "http.fetch", "host": "x.org"} | bad
            )
            assert asked.status_code == 422, asked.text
