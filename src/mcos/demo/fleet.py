"""The demo's fleet file: the template's 23 agents, every one on the simulated provider, and one
slot for an agent you bring, which the demo does not run."""

from __future__ import annotations

import re
import tomllib

from genai_prices import Usage, calc_price

from mcos.fleet.schema import Agent, Fleet

DEMO_MARK = "(simulated demo)"
HEADER = """\
# SIMULATED DEMO fleet, written by `mcos demo`.
# Every agent below runs on the scripted "simulated" provider: no real model is called, no
# key is needed and nothing is billed. Token counts are estimates; the [prices] tables at the
# end price them as the named models would have cost (from the genai-prices table), so the
# spend and ROI views have something to show. For a real fleet, run `mcos init DIR` instead.

"""


def demo_fleet_text(template: str, port: int) -> str:
    """The template with every agent on the simulated provider, named and marked as a demo."""
    text, providers = re.subn(
        r'^provider = "(anthropic|openai)"',
        r'provider = "simulated"            # the demo; a real fleet says "\1"',
        template,
        flags=re.MULTILINE,
    )
    if providers == 0:
        raise ValueError("the fleet template names no provider to simulate")
    text = re.sub(
        r'^(\[fleet\]\n(?:#.*\n)*name = ")([^"]*)"',
        rf'\g<1>\g<2> {DEMO_MARK}"',
        text,
        count=1,
        flags=re.MULTILINE,
    )
    text = re.sub(
        r'^url = "http://127\.0\.0\.1:\d+"',
        f'url = "http://127.0.0.1:{port}"',
        text,
        count=1,
        flags=re.MULTILINE,
    )
    # The seed's servers' folders (Elon's /srv/fibreflow/staging) are not on this machine: the
    # demo's agents see their workspaces only.
    text = re.sub(
        r"^(read_only|read_write) = \[.*\]$",
        r"# \g<0>   (the seed's server; not on this machine)",
        text,
        flags=re.MULTILINE,
    )
    text = _quick_to_miss(text, QUICK_TO_MISS)
    return HEADER + _room_to_flush(text, FLUSHES) + EXTERNAL_SLOT + _prices(template)


EXTERNAL = "nova"
"""The demo fleet's one agent the demo does not run: a slot for an agent you bring."""

EXTERNAL_TASK = "Write today's release note"
"""The task the demo puts on the slot's card; the fake provider's ``examples`` script answers it."""

EXTERNAL_SLOT = f"""
# ---- The demo only: a slot for an agent you bring ----
# Nova runs outside the demo (runtime = "external"): the demo's runner never starts it, and
# nothing about it is simulated. Take its token (`mcos agents token {EXTERNAL}`) and run an agent
# built with another framework as Nova: examples/openai_agents_sdk or examples/langgraph, on
# a real model (its usage is priced as gpt-4.1-mini) or on the fake provider's `examples`
# script. Like any agent, it may do only what its capabilities allow: no exec.
[[agents]]
name = "{EXTERNAL}"
display_name = "Nova"
role = "guest"
title = "Your own agent (OpenAI Agents SDK, LangGraph, MCP), run outside the demo"
machine = "mac-mini"
runtime = "external"
provider = "openai"
model = "gpt-4.1-mini"
context_window = 128000
capabilities = ["read", "plan", "write"]
supervisor = "jarvis"
"""


FLUSHES = "jarvis"
"""The agent whose context the demo fills past its flush line: one such call is ~180k tokens,
so the seed's 400k a day would pause it over budget the second time the demo runs that day."""


def _block(text: str, name: str) -> tuple[int, int]:
    start = text.index(f'\nname = "{name}"\n')
    end = text.find("\n[[agents]]", start)
    return start, len(text) if end == -1 else end


def _room_to_flush(text: str, name: str) -> str:
    start, end = _block(text, name)
    block = text[start:end]
    wider = {
        "daily_usd": "20.00",
        "monthly_usd": "200.00",
        "daily_tokens": "4000000",
        "monthly_tokens": "40000000",
    }
    for key, value in wider.items():
        block, found = re.subn(
            rf"^{key} = [\d.]+",
            f"{key} = {value}   # the demo only: room to replay a full context every run",
            block,
            flags=re.MULTILINE,
        )
        if not found:
            raise ValueError(f"the fleet template gives {name} no {key} to widen")
    return text[:start] + block + text[end:]


QUICK_TO_MISS = "scout"
"""The agent whose silence the demo shows supervision on: its thresholds are seconds, so the
nudges, the reassignment and the word to the operator all happen within a minute."""


def _quick_to_miss(text: str, name: str) -> str:
    _, end = _block(text, name)
    liveness = (
        "\n[agents.liveness]   # the demo only: this agent's silence is noticed in seconds\n"
        "heartbeat_seconds = 5\nstalled_after_seconds = 10\noffline_after_seconds = 20\n"
    )
    return text[:end].rstrip("\n") + "\n" + liveness + text[end:]


def _prices(template: str) -> str:
    """``[prices]`` tables for the template's models, at the maintained table's list prices."""
    models = sorted(
        {(a["provider"], a["model"]) for a in tomllib.loads(template).get("agents", [])}
    )
    lines = [
        "",
        "# ---- The demo only: simulated calls priced as their named models would cost ----",
    ]
    for provider, model in models:
        per_mtok = {
            "input_per_mtok": Usage(input_tokens=1_000_000),
            "output_per_mtok": Usage(output_tokens=1_000_000),
            "cache_read_per_mtok": Usage(input_tokens=1_000_000, cache_read_tokens=1_000_000),
            "cache_write_per_mtok": Usage(input_tokens=1_000_000, cache_write_tokens=1_000_000),
        }
        lines.append(f'[prices."{model}"]   # {provider} list price, from genai-prices')
        for key, usage in per_mtok.items():
            price = calc_price(usage, model_ref=model, provider_id=provider).total_price
            lines.append(f"{key} = {float(price)}")
    return "\n".join(lines) + "\n"


def is_demo_fleet(fleet: Fleet) -> bool:
    """Whether every agent the demo runs is simulated: the demo never drives a fleet that spends
    money (an external agent is not the demo's to run, and spends what its own runtime does)."""
    return all(agent.provider == "simulated" or agent.external for agent in fleet.agents)


def demo_agents(fleet: Fleet) -> list[Agent]:
    """The agents the demo's runner drives: every one but those that run elsewhere."""
    return [agent for agent in fleet.agents if not agent.external]
