"""The real mail path of ``bench/mail.py``: a private Dovecot, the runner's ``Mailboxes``, a
``mcos serve`` on SQLite applying the fleet's rules on arrival, the digest.

One Dovecot holds the seed's five accounts (``mcos.demo.mail.accounts_block`` writes them into a
fleet made by ``mcos init``). Three loads arrive in turn, each read by one sync and closed by a
digest, as mail arrives in life: the labelled sample, then a day, then a backlog that piled up
while nobody read it. Each sync is timed whole and in parts (the IMAP fetches, the batch reports
to ``POST /api/v1/mail/accounts/{name}/sync``); what the control plane stored is then read back
through ``GET /api/v1/mail/messages``. Nothing in ``src/`` is changed: the bench wraps the link
and the mail source from outside.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import httpx
from _machine import Meter, memory_of
from _runtime_report import percentile
from _servers import Server, free_port

from mcos.demo.mail import accounts_block, variable, with_accounts
from mcos.fleet.loader import load_fleet
from mcos.mail.message import MailItem, MailSource, OutgoingMail, SyncBatch
from mcos.mail.sample import ACCOUNTS, SampleMail
from mcos.mail.triage import untrusted
from mcos.runtime.client import AgentLink, ControlPlane
from mcos.runtime.mailboxes import BATCH, Mailboxes, open_source
from mcos.testing.dovecot import Dovecot, available

PYTHON = sys.executable
READERS = 4
"""Concurrent reads of stored mail when reading it back (not part of any timed figure)."""


@dataclass
class Timings:
    """What one sync spent, batch by batch."""

    fetch_s: list[float] = field(default_factory=list)
    """Each IMAP fetch (login, search, fetch of up to 25 bodies, parse, logout)."""
    reports: list[tuple[int, float]] = field(default_factory=list)
    """Each batch report: (messages in it, seconds to the control plane's answer)."""
    ids: list[int] = field(default_factory=list)
    """The ids the control plane gave the stored messages."""


class TimedSource:
    """The real IMAP source, each fetch timed into the link's current :class:`Timings`."""

    def __init__(self, inner: MailSource, link: TimedLink) -> None:
        self.inner, self.link = inner, link

    async def fetch(
        self, cursor: dict[str, Any] | None, limit: int, *, since: datetime | None = None
    ) -> SyncBatch:
        started = time.perf_counter()
        batch = await self.inner.fetch(cursor, limit, since=since)
        self.link.timings.fetch_s.append(time.perf_counter() - started)
        return batch

    async def save_draft(self, mail: OutgoingMail) -> str:
        return await self.inner.save_draft(mail)

    async def close(self) -> None:
        await self.inner.close()


@dataclass
class TimedLink(AgentLink):
    """Donna's link to the control plane, each batch report timed."""

    timings: Timings = field(default_factory=Timings)

    async def ask(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        started = time.perf_counter()
        answer = await super().ask(method, path, body, params)
        if method == "POST" and path.endswith("/sync") and body is not None:
            self.timings.reports.append((len(body["items"]), time.perf_counter() - started))
            self.timings.ids += answer["ids"]
        return answer


@contextlib.contextmanager
def control_plane(folder: Path, dovecot: Dovecot) -> Iterator[tuple[Server, str]]:
    """``mcos init``, the five sample accounts on ``dovecot`` appended, ``mcos serve`` on the
    fleet's SQLite file; yields the server and a token of Donna's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCOS_")}
    env |= {
        "XDG_CONFIG_HOME": str(folder / "config"),
        "MCOS_DATABASE_URL": f"sqlite+pysqlite:///{folder / 'fleet' / 'mcos.db'}",
    }
    fleet = folder / "fleet"
    subprocess.run(
        [PYTHON, "-m", "mcos", "init", str(fleet)], env=env, check=True, capture_output=True
    )
    fleet_file = fleet / "fleet.toml"
    block = accounts_block(dovecot.host, dovecot.port, free_port())  # SMTP: never used here
    # The sample and the backlog are dated in the past: read all of it, not the last week's.
    text = with_accounts(fleet_file.read_text(), block)
    text, found = re.subn(r"^first_sync_days = \d+", "first_sync_days = 0", text, flags=re.M)
    if found != 1:
        raise RuntimeError("the fleet template has no [mail] first_sync_days to set")
    fleet_file.write_text(text)
    operator = (fleet / ".mcos" / "operator.token").read_text().strip()
    server = Server(
        "mcos serve",
        [PYTHON, "-m", "mcos", "serve", "--fleet", str(fleet), "--port", "{port}"],
        env,
        folder / "mcos.log",
    )
    try:
        server.start("/api/v1/health")
        issued = httpx.post(
            f"{server.url}/api/v1/agents/donna/tokens",
            json={"label": "bench-mail"},
            headers={"Authorization": f"Bearer {operator}"},
            timeout=30,
        )
        issued.raise_for_status()
        yield server, issued.json()["token"]
    finally:
        server.stop()


async def listed(link: AgentLink, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The stored summaries of ``ids`` (category, classified_by, ...), paged by ``after_id``."""
    wanted = set(ids)
    found: dict[int, dict[str, Any]] = {}
    after = min(ids) - 1
    while len(found) < len(wanted):
        page = (await link.ask("GET", f"/api/v1/mail/messages?after_id={after}&limit=1000"))[
            "messages"
        ]
        if not page:
            break
        found |= {m["id"]: m for m in page if m["id"] in wanted}
        after = max(m["id"] for m in page)  # after_id=0 lists newest first: one page only
    missing = len(wanted) - len(found)
    assert not missing, f"{missing} stored mail not listed by GET /api/v1/mail/messages"
    return found


async def read_whole(link: AgentLink, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Each mail whole (``GET /api/v1/mail/messages/{id}``), a few at a time."""
    gate = asyncio.Semaphore(READERS)

    async def one(mail_id: int) -> dict[str, Any]:
        async with gate:
            view: dict[str, Any] = await link.ask("GET", f"/api/v1/mail/messages/{mail_id}")
            return view

    views = await asyncio.gather(*(one(i) for i in ids))
    return {v["id"]: v for v in views}


def _sync_figures(timings: Timings, seconds: float, delivered: int) -> dict[str, Any]:
    full = [s for n, s in timings.reports if n == BATCH]
    measured = full or [s for n, s in timings.reports if n]  # a small load has no full batch
    fetched = sum(timings.fetch_s)
    reported = sum(s for _, s in timings.reports)
    return {
        "delivered": delivered,
        "stored": len(timings.ids),
        "seconds": round(seconds, 2),
        "mails_per_s": round(len(timings.ids) / seconds, 1),
        "imap_fetch_s": round(fetched, 2),
        "ingest_s": round(reported, 2),
        "batches": len(timings.reports),
        "latency_of": f"{len(full)} batches of {BATCH}" if full else f"{len(measured)} batches",
        "batch_report_p50_ms": round(1000 * percentile(measured, 0.5), 1),
        "batch_report_p99_ms": round(1000 * percentile(measured, 0.99), 1),
        "imap_fetch_p50_ms": round(1000 * percentile(timings.fetch_s, 0.5), 1),
    }


async def _load(
    name: str,
    mails: Sequence[SampleMail],
    dovecot: Dovecot,
    mailboxes: Mailboxes,
    link: TimedLink,
    server: Server,
) -> dict[str, Any]:
    """Deliver ``mails``, read them with one sync (timed), digest them (timed), read back."""
    for mail in mails:
        dovecot.deliver(mail.account, mail.raw)
    link.timings = timings = Timings()
    with Meter({"mcos": server.pid, "runner": os.getpid()}) as meter:
        started = time.perf_counter()
        reports = await mailboxes.sync()
        seconds = time.perf_counter() - started
    failed = [r for r in reports if r.error]
    assert not failed, f"{name}: a mailbox was not read: {failed}"
    figures = _sync_figures(timings, seconds, len(mails))
    assert figures["stored"] == len(mails), f"{name}: {figures['stored']} of {len(mails)} stored"
    figures |= meter.result | {"server_memory": memory_of(server.pid)}
    # CPU per mail moves less than mails/s when other work shares the machine.
    figures["mcos_cpu_ms_per_mail"] = round(1000 * meter.result["mcos_cpu_s"] / len(mails), 2)
    figures["runner_cpu_ms_per_mail"] = round(1000 * meter.result["runner_cpu_s"] / len(mails), 2)
    started = time.perf_counter()
    digest = await link.ask("POST", "/api/v1/mail/digests", {"summary": f"bench: {name}"})
    figures["digest_ms"] = round(1000 * (time.perf_counter() - started), 1)
    figures["digest_counts"] = digest["counts"]
    figures["digest_chars"] = len(digest["markdown"])
    stored = await listed(link, timings.ids)
    unclassified = [i for i in timings.ids if stored[i]["classified_by"] is None]
    whole = await read_whole(link, unclassified)
    figures["by_rules"] = len(timings.ids) - len(unclassified)
    figures["flagged_to_jarvis"] = sum(m["flag_message_id"] is not None for m in stored.values())
    figures["legal_tasks"] = sum(m["task_id"] is not None for m in stored.values())
    figures["unclassified_rendered_chars"] = [
        len(untrusted(MailItem.from_json(whole[i]), id=i)) for i in unclassified
    ]
    if name == "sample":
        views = await read_whole(link, timings.ids)
        figures["stored_verdicts"] = {
            views[i]["message_id"]: stored[i]["category"]
            if (stored[i]["classified_by"] or "").startswith("rule:")
            else None
            for i in timings.ids
        }
    return figures


async def _measure(
    server: Server,
    token: str,
    dovecot: Dovecot,
    fleet_dir: Path,
    loads: Sequence[tuple[str, Sequence[SampleMail]]],
    passwords: Mapping[str, str],
) -> dict[str, Any]:
    fleet = load_fleet(fleet_dir)
    donna = fleet.agent("donna")
    assert donna is not None, "the template's fleet has Donna"
    plane = ControlPlane(server.url, timeout=120)
    # Only questions are asked (no reports), so no outbox is needed.
    link = TimedLink("donna", token, plane, cast(Any, None))
    env = {variable(name): password for name, password in passwords.items()}

    def timed_source(account: Any, env: Mapping[str, str]) -> MailSource:
        return TimedSource(open_source(account, env), link)

    mailboxes = Mailboxes(fleet, donna, link, env, sources=timed_source)
    results: dict[str, Any] = {}
    try:
        for name, mails in loads:
            results[name] = await _load(name, mails, dovecot, mailboxes, link, server)
    finally:
        await mailboxes.close()
        await plane.aclose()
    return results


def run_pipeline(loads: Sequence[tuple[str, Sequence[SampleMail]]]) -> dict[str, Any]:
    """Each load through Dovecot, the runner's sync and the control plane, in turn; or why not."""
    why_not = available()
    if why_not is not None:
        return {"taken": False, "why": why_not}
    folder = Path(tempfile.mkdtemp(prefix="mcos-bench-mail-"))
    passwords = {a.name: secrets.token_urlsafe(16) for a in ACCOUNTS}
    started = time.perf_counter()
    try:
        with Dovecot.start(passwords) as dovecot, control_plane(folder, dovecot) as (srv, token):
            ready = time.perf_counter() - started
            found = asyncio.run(_measure(srv, token, dovecot, folder / "fleet", loads, passwords))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"taken": True, "setup_s": round(ready, 1), **found}
