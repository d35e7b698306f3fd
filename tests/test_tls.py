"""One TLS trust for every HTTPS client of ours (mcos.tls): a CA given through SSL_CERT_FILE is
trusted by the control-plane client's pool, both provider SDKs' pools, the webhook and Telegram
channels and Microsoft Graph; without it, each refuses the same server."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from pydantic import TypeAdapter

from mcos.client.wire import new_pool
from mcos.fleet.mail import M365Account
from mcos.fleet.notify import AnyChannel, NotifyChannel
from mcos.mail.graph import GraphSource
from mcos.mail.settings import MailSettings
from mcos.notify.content import Notice
from mcos.notify.senders import send
from mcos.notify.transport import Delivery
from mcos.runtime.providers import provider_pool
from mcos.runtime.providers.anthropic import AnthropicProvider
from mcos.runtime.providers.base import ModelRequest, Turn
from mcos.runtime.providers.openai import OpenAIProvider
from mcos.testing.fake_graph import FakeGraph
from mcos.testing.fake_providers import FakeProviderServer
from mcos.tls import trust_context
from tests.notify.receivers import HttpReceiver

CHANNEL: TypeAdapter[AnyChannel] = TypeAdapter(NotifyChannel)
DELIVERY = Delivery(
    id="ops:1",
    notice=Notice("p0", "P0 from sentinel", "sentinel raised P0 #1.", "https://mc.example/"),
    fleet="Specter Holdings",
    event_seq=1,
    event_type="incident.raised",
)
ASK = ModelRequest(model="test-model", system="", turns=(Turn("user", "hello"),))
TENANT, CLIENT_ID, SECRET = "specter.example", "0b7c3b1e-5f0e-4d5e-9c35-2f8a1e6b7d10", "s3cr3t"
MAILBOX = "donna@specter.example"


@dataclass
class Servers:
    """HTTPS servers whose certificates a private CA signed; ``bundle`` holds those CAs."""

    providers: FakeProviderServer
    webhook: HttpReceiver
    telegram: HttpReceiver
    graph: FakeGraph
    bundle: Path


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    server_pem = folder / "server.pem"
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(
        str(server_pem)
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(server_pem))
    with (
        FakeProviderServer(tls_certfile=str(server_pem)) as providers,
        HttpReceiver(tls=context) as webhook,
        HttpReceiver(telegram_token="123:ABC", tls=context) as telegram,
        FakeGraph() as graph,
    ):
        graph.add_app(TENANT, CLIENT_ID, SECRET)
        graph.add_mailbox(MAILBOX, tenant=TENANT)
        bundle = folder / "bundle.pem"
        bundle.write_bytes(ca.cert_pem.bytes() + graph.ca_file.read_bytes())
        yield Servers(providers, webhook, telegram, graph, bundle)


async def control_plane_pool(s: Servers) -> None:
    async with new_pool(s.providers.url) as pool:
        response = await pool.get("/_fake/requests")
    assert response.status_code == 200


async def anthropic_sdk(s: Servers) -> None:
    async with provider_pool() as pool:
        provider = AnthropicProvider("sk-test", base_url=s.providers.url, http_client=pool)
        assert (await provider.complete(ASK)).text


async def openai_sdk(s: Servers) -> None:
    async with provider_pool() as pool:
        url = s.providers.url + "/v1"
        assert (await OpenAIProvider("sk-test", base_url=url, http_client=pool).complete(ASK)).text


async def webhook_channel(s: Servers) -> None:
    channel = CHANNEL.validate_python(
        {"name": "ops", "carries": ["p0"], "kind": "webhook", "format": "slack", "url_env": "URL"}
    )
    await send(channel, DELIVERY, {"URL": s.webhook.url()}, 5)


async def telegram_channel(s: Servers) -> None:
    channel = CHANNEL.validate_python(
        {
            **{"name": "ops", "carries": ["p0"], "kind": "telegram", "token_env": "TG"},
            **{"chat_id": 42, "api_url": s.telegram.url("")},
        }
    )
    await send(channel, DELIVERY, {"TG": "123:ABC"}, 5)


async def microsoft_graph(s: Servers) -> None:
    account = M365Account(
        name="specter", owner="donna", kind="m365", may=("read",), address=MAILBOX,
        tenant=TENANT, client_id=CLIENT_ID, client_secret_env="GRAPH", mailbox=MAILBOX,
    )  # fmt: skip
    settings = MailSettings(m365_login_url=s.graph.login_url, graph_url=s.graph.graph_url)
    source = GraphSource.from_settings(account, {"GRAPH": SECRET}, settings)
    try:
        await source.fetch(None, 10)
    finally:
        await source.close()


CLIENTS: dict[str, Callable[[Servers], Awaitable[None]]] = {
    "control plane": control_plane_pool,
    "anthropic": anthropic_sdk,
    "openai": openai_sdk,
    "webhook": webhook_channel,
    "telegram": telegram_channel,
    "graph": microsoft_graph,
}


@pytest.fixture(autouse=True)
def no_other_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "MCOS_MAIL_CA_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_ca_given_through_ssl_cert_file_is_trusted(
    servers: Servers, client: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(servers.bundle))
    asyncio.run(CLIENTS[client](servers))


def causes(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and what it was raised from or while handling, however our code re-raised it."""
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


@pytest.mark.parametrize("client", CLIENTS)
def test_without_it_the_same_server_is_refused(servers: Servers, client: str) -> None:
    with pytest.raises(Exception) as refused:
        asyncio.run(CLIENTS[client](servers))
    assert any("CERTIFICATE_VERIFY_FAILED" in str(e) for e in causes(refused.value)), (
        "refused for its certificate",
        list(causes(refused.value)),
    )


def test_a_private_ca_file_adds_to_the_trust_and_a_bad_one_is_refused(
    servers: Servers, tmp_path: Path
) -> None:
    context = trust_context(servers.bundle)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) >= 2, "the private CAs are in the store"
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ssl.SSLError):
        trust_context(bad)
