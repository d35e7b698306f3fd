"""The services of a runner's machine: probed here on their schedule, changes reported.

No probe asks the control plane anything: the runner keeps each service's state
(:class:`~mcos.domain.service_state.Watched`) and reports only a change, through the durable
outbox in the owning agent's lane (``POST /api/v1/services/{name}/state``), so an outage of the
control plane loses none and reorders none. Going down, the runbook's ``diagnose`` commands run
first and their output goes with the report. A remedy (``restart``, ``rollback``) is carried out
here, with the runbook's command, only after the control plane allowed it (the owning agent's
tool asked, or this watcher asked for an ``auto_restart``); what it did is reported
(``POST /api/v1/services/{name}/remediations``) and the service is probed again at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Literal

import httpx2

from mcos.client import ApiError, Unreachable
from mcos.contract import paths
from mcos.contract.vocab import ActionKind
from mcos.domain.service_state import Change, Watched
from mcos.fleet.schema import Fleet
from mcos.fleet.services import AnyService
from mcos.runtime import runbook
from mcos.runtime.client import AgentLink
from mcos.runtime.permission import Parked, Refused, ask_before_acting
from mcos.runtime.probes import probe
from mcos.tls import trust_context

log = logging.getLogger("mcos.runtime.services")

By = Literal["auto", "agent", "operator"]
RECHECK_SECONDS = 1.0
"""After a remedy, the service is probed this often until it is up or its next probe is due."""


class NotWatchedHere(Exception):
    """The service is not one this runner watches (another machine's, or unknown)."""


class ServiceWatch:
    def __init__(
        self, fleet: Fleet, services: Iterable[AnyService], link_of: Callable[[str], AgentLink]
    ) -> None:
        """``link_of(owner)``: the link to the control plane of a service's owning agent."""
        self.fleet = fleet
        self.services = {s.name: s for s in services}
        self.state = {s.name: Watched(s.failures_before_down) for s in self.services.values()}
        self._link_of = link_of
        self._poked = {name: asyncio.Event() for name in self.services}
        self._remedying = {name: asyncio.Lock() for name in self.services}
        self._background: set[asyncio.Task[Any]] = set()

    @classmethod
    def for_machines(
        cls, fleet: Fleet, machines: Iterable[str], link_of: Callable[[str], AgentLink]
    ) -> ServiceWatch:
        here = set(machines)
        return cls(fleet, [s for s in fleet.services if s.machine in here], link_of)

    def link(self, service: AnyService) -> AgentLink:
        owner = self.fleet.owner_of(service)
        assert owner is not None  # the loader refuses a service without one
        return self._link_of(owner)

    async def run(self, stopping: asyncio.Event) -> None:
        if not self.services:
            return
        log.info("watching %d service(s): %s", len(self.services), ", ".join(self.services))
        async with httpx2.AsyncClient(verify=trust_context()) as http:
            watchers = [
                asyncio.create_task(self._watch(service, http, stopping))
                for service in self.services.values()
            ]
            try:
                await stopping.wait()
            finally:
                for task in (*watchers, *self._background):
                    task.cancel()
                for task in (*watchers, *self._background):
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _watch(
        self, service: AnyService, http: httpx2.AsyncClient, stopping: asyncio.Event
    ) -> None:
        watched, poked = self.state[service.name], self._poked[service.name]
        rechecks = 0
        while not stopping.is_set():
            try:
                change = watched.observe(await probe(service, http), datetime.now(UTC))
                if change is not None:
                    await self._report(service, change)
            except Exception:  # a probe's bug must not end the watch of every other service
                log.exception("probing %s failed", service.name)
            wait = service.every_seconds
            if rechecks > 0 and watched.state == "down":
                rechecks -= 1
                wait = min(wait, RECHECK_SECONDS)
            poked.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(poked.wait(), timeout=wait)
            if poked.is_set():
                rechecks = max(1, int(service.every_seconds / RECHECK_SECONDS))

    async def _report(self, service: AnyService, change: Change) -> None:
        body: dict[str, Any] = {
            "state": change.after,
            "before": change.before,
            "at": change.at.isoformat(),
            "failures": change.failures,
            "detail": change.detail[:2_000],
        }
        if change.after == "down" and service.runbook.diagnose:
            body["diagnosis"] = await runbook.diagnose(
                service.runbook.diagnose, service.runbook.diagnose_timeout_seconds
            )
        log.info("%s: %s -> %s (%s)", service.name, change.before, change.after, change.detail)
        await self.link(service).report("POST", paths.service_state(service.name), body)
        if change.after == "down" and service.auto_restart:
            task = asyncio.create_task(self._auto_restart(service))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _auto_restart(self, service: AnyService) -> None:
        """Restart a service that went down, asking first as its owner would (and recorded so)."""
        remedy = service.runbook.restart
        assert remedy is not None  # the schema requires one for auto_restart
        action = {
            "kind": ActionKind.SERVICE_RESTART,
            "target": service.name,
            "command": remedy.command,
            "reason": f"auto_restart: {service.name} is down",
        }
        try:
            await ask_before_acting(self.link(service), action)
        except (Refused, Parked, ApiError, Unreachable) as exc:
            log.warning("%s: auto restart not carried out: %s", service.name, exc)
            return
        await self.carry_out(service.name, "restart", by="auto")

    async def carry_out(
        self, name: str, which: str, *, by: By, approval_id: int | None = None
    ) -> runbook.Ran:
        """Run a remedy the control plane allowed, report it, and probe the service again.

        One remedy of a service at a time. Raises :class:`NotWatchedHere` for a service this
        runner does not watch, ``KeyError`` for a remedy its runbook lacks.
        """
        service = self.services.get(name)
        if service is None:
            raise NotWatchedHere(name)
        remedy = service.remedies[which]
        async with self._remedying[name]:
            started = datetime.now(UTC)
            ran = await runbook.run_on_host(remedy.command, remedy.timeout_seconds)
        log.info("%s: %s by %s: %s", name, which, by, ran.exit_status)
        await self.link(service).report(
            "POST",
            paths.remediations(name),
            {
                "action": which,
                "by": by,
                "command": remedy.command,
                "exit_status": ran.exit_status,
                "output": ran.output[-8_000:],
                "at": started.isoformat(),
                "seconds": round(ran.seconds, 3),
                "approval_id": approval_id,
            },
        )
        self._poked[name].set()
        return ran
