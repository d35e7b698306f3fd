"""The same decision on both sides: what a runtime may decide alone, and how it knows its fleet
file is the control plane's.

An action whose answer is ``allow`` from the fleet file alone (the agent's capabilities and its
guard; no grant, no approval, no draft to check) comes out the same wherever the engine runs.
The runtime decides it itself when its fleet gives the agent the same :func:`policy_version` as
the control plane's (the heartbeat's answer carries it), acts, and reports the action
(``acted``): the control plane decides again and records it. Everything else is asked.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import orjson

from mcos.contract.requests import ActionRequest
from mcos.contract.vocab import ActionKind
from mcos.fleet.schema import Agent, Fleet
from mcos.policy.actions import Action
from mcos.policy.decisions import Allow
from mcos.policy.engine import Grant, PolicyRequest, decide

_versions: dict[int, tuple[Fleet, dict[str, str]]] = {}
"""By fleet object: the fleet (kept, so its id is not reused) and its agents' versions."""


def action_of(body: ActionRequest) -> Action:
    return Action(
        kind=body.kind,
        command=body.command,
        paths=tuple(body.paths),
        host=body.host,
        recipient=body.recipient,
        amount_usd=body.amount_usd,
        files_touched=body.files_touched,
        addresses=tuple(body.addresses),
        port=body.port,
        target=body.target,
        draft=body.draft,
        subject=body.subject,
        body_sha256=body.body_sha256,
        recipients=tuple(body.recipients),
    )


def request_for(
    fleet: Fleet, agent: Agent, action: Action, now: datetime, grants: tuple[Grant, ...] = ()
) -> PolicyRequest:
    """What the engine decides ``action`` from: the one place it is put together."""
    service = fleet.service(action.target or "") if action.kind.startswith("service.") else None
    return PolicyRequest(
        agent,
        action,
        now,
        fleet.guard_for(agent),
        grants,
        control_plane_host=fleet.control_plane.host,
        service=service,
        service_owner=fleet.owner_of(service) if service is not None else None,
    )


def policy_version(fleet: Fleet, agent: Agent) -> str:
    """A digest of everything in ``fleet`` the engine reads for ``agent``: equal on both sides,
    the two decide every action alike."""
    found = _versions.get(id(fleet))
    if found is None or found[0] is not fleet:
        if len(_versions) > 4:  # fleets reloaded since: forget the old ones
            _versions.clear()
        found = _versions[id(fleet)] = (fleet, {})
    versions = found[1]
    if agent.name not in versions:
        parts = {
            "agent": agent.model_dump(mode="json"),
            "guard": fleet.guard_for(agent).model_dump(mode="json"),
            "control_plane": fleet.control_plane.host,
            "services": [[s.model_dump(mode="json"), fleet.owner_of(s)] for s in fleet.services],
        }
        digest = hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS))
        versions[agent.name] = digest.hexdigest()[:32]
    return versions[agent.name]


def allowed_alone(fleet: Fleet, agent: Agent, body: ActionRequest, now: datetime) -> bool:
    """Whether ``body`` is ``allow`` from the fleet file alone (no grant counted): the runtime
    may then act and report it. An ``email.send`` and a carry-out of an approval never are."""
    if body.approval_id is not None or body.kind == ActionKind.EMAIL_SEND:
        return False
    return isinstance(decide(request_for(fleet, agent, action_of(body), now)), Allow)
