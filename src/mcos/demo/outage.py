"""Elon's 03:00: FibreFlow's API goes down on velo, and comes back before anyone wakes.

The demo's stand-in for the API is a real local HTTP service (:mod:`mcos.demo.services`),
declared in the fleet file on the machine velo. The director kills it (SIGKILL, the seed's
"exit 137"); the runner that runs velo's agents probes it, sees it down, runs the runbook's
diagnosis and reports it; the control plane raises the incident (through the escalation table)
and gives Elon a task with the diagnosis attached. Elon's scripted model reads the diagnosis and
calls ``restart_service``; the policy allows it (the runbook says so), the runner runs the
runbook's command, probes again, and the outage ends with its downtime measured. The narration
reads each step back from the event log.

Where the service could not start, the scene says why and plays the scripted version.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mcos.demo.director import Director
from mcos.demo.services import MACHINE, NAME
from mcos.demo.story import accepted, data
from mcos.runtime.providers.simulated import Step

TITLE = f"Outage: {NAME} is down on {MACHINE}"
"""The task the control plane opens for the outage (services/service_watch.py)."""


def _service(event: dict[str, Any]) -> bool:
    return bool(event["data"].get("service") == NAME)


async def elon_3am(d: Director) -> None:
    if not d.service.running:
        await _scripted_3am(d)
        return
    d.answer(
        TITLE,
        [
            Step.call("read_artifact", {"name": "diagnosis.txt"}),
            Step.call("restart_service", {"service": NAME}),
            Step.reply(
                f"(simulated) {NAME} was killed (SIGKILL: nothing in its log before the kill). "
                "Restarted it with the runbook's command; /health answers ok again."
            ),
        ],
        agent="elon",
    )
    after = await d.last_seq()
    killed_at = datetime.now(UTC)
    pid = d.service.crash()
    await d.narrate(
        f"03:00: FibreFlow's API on velo is killed (pid {pid}, SIGKILL, as the seed's OOM "
        f"killer did). It is the demo's stand-in, a real HTTP service at {d.service.url}; "
        "nobody tells the fleet."
    )

    async def outcome() -> None:
        down = await d.wait_for("service.down", after, _service)
        if down is None:
            await d.narrate(f"{NAME} was not seen down in time.", outcome=True)
            return
        went = data(down)
        await d.narrate(
            f"The watcher in velo's runner saw {NAME} down ({went['detail']}): incident "
            f"#{went['incident']} ({went['severity']}, through the escalation table) and task "
            f"#{went['task']} for Elon, with the runbook's diagnosis attached.",
            outcome=True,
            seq=down["seq"],
        )
        mark = down["seq"]
        fixed = await d.wait_for("service.remediated", mark, _service)
        if fixed is not None:
            did = data(fixed)
            how = "done" if did["ok"] else f"failed (exit status {did['exit_status']})"
            await d.narrate(
                f"Elon's (scripted) model read the diagnosis and called restart_service; the "
                f"policy allowed it, and the runner ran the runbook's restart: {how}.",
                outcome=True,
                seq=fixed["seq"],
            )
            mark = fixed["seq"]
        up = await d.wait_for("service.up", mark, _service)
        if up is None:
            await d.narrate(f"{NAME} is not back yet; see Spend & health.", outcome=True)
            return
        back = data(up)
        since_kill = (datetime.fromisoformat(back["at"]) - killed_at).total_seconds()
        await d.narrate(
            f"{NAME} is up again, {since_kill:.1f} s (real time) after it was killed: the "
            f"watcher measured {back['downtime_seconds']:.1f} s of downtime from the probe that "
            f"declared it down, recovered by {back['recovered_by']}. One outage stopped at "
            "3 a.m.",
            outcome=True,
            seq=up["seq"],
        )
        if await accepted(d, went["task"], after):
            await d.narrate(
                f"You read Elon's note and accepted task #{went['task']}: the value ledger "
                "credits the outage he fixed.",
                outcome=True,
            )

    d.watch(outcome())


async def _scripted_3am(d: Director) -> None:
    """Where the demo's service could not start: the 3 a.m. fix from a scripted log."""
    d.put_file(
        "elon",
        "logs/fibreflow-api.log",
        "(simulated log)\n"
        "02:58:11 fibreflow-api[2141]: GET /v1/activations 200 41ms\n"
        "02:59:40 kernel: Out of memory: Killed process 2141 (node) total-vm:2911240kB\n"
        "02:59:40 systemd[1]: fibreflow-api.service: Main process exited, status=137\n"
        "02:59:41 systemd[1]: fibreflow-api.service: Failed with result 'oom-kill'.\n",
    )
    after = await d.last_seq()
    task_id = await d.task(
        "elon",
        "fibreflow-api crashed on velo (exit 137)",
        [
            Step.call("read_file", {"path": "logs/fibreflow-api.log"}),
            Step.call("run_shell", {"command": "grep -c 'Out of memory' logs/fibreflow-api.log"}),
            Step.reply(
                "(simulated) fibreflow-api was killed by the OOM killer; a scripted fix, as no "
                "service runs here."
            ),
        ],
        kind="infrastructure-incident",
        priority="urgent",
        description="Paged at 03:00: the FibreFlow API is down on velo. Diagnose and fix.",
    )
    await d.narrate(
        f"FibreFlow's API crashed on velo; task #{task_id} pages Elon. SCRIPTED: the demo's "
        f"service could not start here ({d.service.why_not}), so nothing is probed or restarted."
    )

    async def outcome() -> None:
        if await accepted(d, task_id, after):
            await d.narrate(
                f"Elon read the scripted log and wrote it up; you accepted task #{task_id}.",
                outcome=True,
            )

    d.watch(outcome())
