"""A big fleet file for the benchmarks: N agents spread over machines of 50, every agent run by
``mcos run`` on its machine with a small budget, as a real fleet's would be."""

from __future__ import annotations

ROLES = ["orchestrator", "security", "support", "sales", "finance", "engineering", "ops", "legal"]
MODELS = ["claude-haiku-4-5", "claude-sonnet-4-6"]
AGENTS_PER_MACHINE = 50


def agent_name(index: int) -> str:
    return f"agent-{index:04d}"


def machine_count(agents: int) -> int:
    return max(1, agents // AGENTS_PER_MACHINE)


def machine_name(index: int) -> str:
    return f"machine-{index:02d}"


def machine_of(index: int, agents: int) -> str:
    """The machine agent ``index`` runs on (round robin, so every machine gets its share)."""
    return machine_name(index % machine_count(agents))


def fleet_toml(agents: int) -> str:
    lines = [
        "[fleet]",
        'name = "Bench Fleet"',
        'timezone = "Africa/Johannesburg"',
        "",
    ]
    for m in range(machine_count(agents)):
        lines += ["[[machines]]", f'name = "{machine_name(m)}"', ""]
    for i in range(agents):
        lines += [
            "[[agents]]",
            f'name = "{agent_name(i)}"',
            f'role = "{ROLES[i % len(ROLES)]}"',
            f'title = "Bench agent {i}"',
            f'machine = "{machine_of(i, agents)}"',
            'provider = "anthropic"',
            f'model = "{MODELS[i % len(MODELS)]}"',
            "context_window = 200000",
            f'credential = "MCOS_BENCH_{i:04d}_KEY"',
            'capabilities = ["read", "plan", "write"]',
            'supervisor = "operator"',
            "[agents.budget]",
            "daily_usd = 1.00",
            "monthly_usd = 15.00",
            "",
        ]
    return "\n".join(lines)
