"""The fleet's ``[guard]``, extended by each agent's, and the sandbox and deploy-target tables.

As in test_loader, a bad file is the template with one edit, refused with the key and the fix.
"""

from __future__ import annotations

import pytest

from mcos.fleet.guard import DEFAULT_BLOCKED_HOSTS, DEFAULT_BLOCKED_NETWORKS, Guard
from mcos.fleet.loader import check_fleet_text
from mcos.fleet.schema import Fleet
from mcos.fleet.warnings import fleet_warnings
from tests.fleet.test_loader import TEMPLATE, edited, line_of, only_problem

FLOW_GUARD = "[agents.guard]\n# Blast radius"
ELON_SANDBOX = 'read_write = ["/srv/fibreflow/staging"]'


def loaded(text: str) -> Fleet:
    fleet, problems = check_fleet_text(text)
    assert fleet is not None, problems
    return fleet


def with_fleet_guard(body: str) -> str:
    return edited(("# [guard]\n", f"[guard]\n{body}\n"))


def agent_guard(fleet: Fleet, name: str) -> Guard:
    agent = fleet.agent(name)
    assert agent is not None
    return fleet.guard_for(agent)


def test_without_a_guard_table_no_agent_reaches_a_private_address() -> None:
    fleet = loaded(TEMPLATE)
    networks = set(fleet.guard.blocked_networks)
    assert {"127.0.0.0/8", "::1/128", "0.0.0.0/8", "::/128"} <= networks, "this machine"
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"} <= networks
    assert "100.64.0.0/10" in networks, "Tailscale, which the seed's machines use"
    assert {"169.254.0.0/16", "fe80::/10"} <= networks, "the cloud metadata address"
    assert "metadata.google.internal" in fleet.guard.blocked_hosts
    for agent in fleet.agents:
        guard = fleet.guard_for(agent)
        assert set(DEFAULT_BLOCKED_NETWORKS) <= set(guard.blocked_networks), agent.name
        assert set(DEFAULT_BLOCKED_HOSTS) <= set(guard.blocked_hosts), agent.name


def uncommented(text: str, header: str) -> str:
    """``text`` with the commented-out table that starts at ``header`` written in."""
    start = text.index(f"# {header}\n")
    end = text.index("\n\n", start)
    table = "\n".join(line.removeprefix("# ") for line in text[start:end].splitlines())
    return text[:start] + table + text[end:]


def test_the_template_writes_the_defaults_out_commented() -> None:
    """What the operator reads in the template is what holds: uncommented, nothing changes."""
    text = uncommented(uncommented(TEMPLATE, "[guard]"), "[sandbox]")
    assert "\n[guard]\n" in text and "\n[sandbox]\n" in text
    fleet, default = loaded(text), loaded(TEMPLATE)
    assert fleet.guard == default.guard
    assert fleet.sandbox == default.sandbox


def test_an_agents_guard_extends_the_fleets() -> None:
    text = with_fleet_guard(
        'blocked_hosts = ["*.internal"]\nprotected_paths = ["/etc/**"]\n'
        "max_files_per_change = 500\nmax_spend_usd = 100"
    )
    fleet = loaded(text)
    flow = agent_guard(fleet, "flow")
    # Lists are joined; Flow's own 200 is stricter than the fleet's 500.
    assert flow.protected_paths == (
        "/etc/**",
        "/srv/fibreflow/production",
        "/srv/fibreflow/production/**",
    )
    assert flow.blocked_hosts == ("*.internal",), "a key written replaces its default"
    assert flow.blocked_networks == DEFAULT_BLOCKED_NETWORKS, "a key left out keeps it"
    assert flow.max_files_per_change == 200
    assert flow.max_spend_usd == 100
    # An agent cannot loosen the fleet's limit by writing a larger one.
    looser = loaded(
        edited(
            ("# [guard]\n", "[guard]\nmax_files_per_change = 500\n"),
            ("max_files_per_change = 200", "max_files_per_change = 5000"),
        )
    )
    assert agent_guard(looser, "flow").max_files_per_change == 500


@pytest.mark.parametrize(
    ("network", "fix"),
    [
        ('"10.0.0.1/8"', "write '10.0.0.0/8', the network it lies in"),
        ('"10.0.0.0/33"', "write a network such as '10.0.0.0/8' or 'fe80::/10', or one address"),
        ('"tailscale"', "write a network such as '10.0.0.0/8' or 'fe80::/10', or one address"),
    ],
)
def test_a_bad_blocked_network_is_refused_with_the_fix(network: str, fix: str) -> None:
    text = with_fleet_guard(f'blocked_networks = ["127.0.0.0/8", {network}]')
    problem = only_problem(text)
    assert problem.key == "guard.blocked_networks"
    assert problem.message.startswith(f"blocked network {network.replace(chr(34), chr(39))} is")
    assert problem.fix == fix
    assert problem.line == line_of(text, "blocked_networks = [")


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("billing.internal:0", "a port is a number from 1 to 65535"),
        ("billing.internal:99999", "a port is a number from 1 to 65535"),
        ("*.internal", "is a pattern"),
        ("[fd00::5:80", "opens a '[' it does not close"),
        ("1.2.3.999", "not an IPv4 address"),
    ],
)
def test_a_bad_allowed_host_is_refused(entry: str, says: str) -> None:
    text = edited((FLOW_GUARD, f'[agents.guard]\nallowed_hosts = ["{entry}"]\n# Blast radius'))
    problem = only_problem(text)
    assert problem.key == "agents[6].guard.allowed_hosts"
    assert says in problem.message
    assert "'host' or 'host:port'" in problem.fix
    assert problem.line == line_of(text, "allowed_hosts = [")


@pytest.mark.parametrize("entry", ["127.0.0.1", "127.0.0.1:8750", "0x7f000001:9000"])
def test_no_exception_opens_the_control_plane(entry: str) -> None:
    text = edited((FLOW_GUARD, f'[agents.guard]\nallowed_hosts = ["{entry}"]\n# Blast radius'))
    problem = only_problem(text)
    assert problem.key == "agents[6].guard.allowed_hosts[0]"
    assert "names the control plane's host (http://127.0.0.1:8750)" in problem.message
    assert "whatever the port" in problem.message
    assert problem.fix.startswith("remove it")
    fleet_wide = only_problem(with_fleet_guard(f'allowed_hosts = ["{entry}"]'))
    assert fleet_wide.key == "guard.allowed_hosts[0]"


def test_a_relative_protected_path_would_never_match() -> None:
    problem = only_problem(
        edited(('"/srv/fibreflow/production", "/srv', '"srv/fibreflow/production", "/srv'))
    )
    assert problem.key == "agents[6].guard.protected_paths"
    assert "'srv/fibreflow/production' is relative" in problem.message
    assert "'/srv/fibreflow/production/**'" in problem.fix


def test_sandbox_for_merges_limits_and_masks_protected_folders_in_view() -> None:
    fleet = loaded(
        edited(
            ("# [sandbox]\n", "[sandbox]\nmemory_mb = 2048\n"),
            (
                FLOW_GUARD,
                "[agents.sandbox]\nmemory_mb = 512\n"
                'read_only = ["/srv/fibreflow", "/opt/maps"]\n'
                'read_write = ["/srv/fibreflow/staging"]\n' + FLOW_GUARD,
            ),
        )
    )
    flow = fleet.agent("flow")
    elon = fleet.agent("elon")
    assert flow is not None and elon is not None
    sandbox = fleet.sandbox_for(flow)
    assert (sandbox.kind, sandbox.network) == ("bubblewrap", False)
    assert (sandbox.memory_mb, sandbox.timeout_seconds) == (512, 600)
    assert sandbox.read_only == ("/srv/fibreflow", "/opt/maps")
    assert sandbox.read_write == ("/srv/fibreflow/staging",)
    # Production lies inside /srv/fibreflow, which Flow's commands may read: it is hidden.
    assert sandbox.masked == ("/srv/fibreflow/production",)
    elons = fleet.sandbox_for(elon)
    assert (elons.memory_mb, elons.network, elons.masked) == (2048, True, ())
    assert elons.read_write == ("/srv/fibreflow/staging",)
    jarvis = fleet.agent("jarvis")
    assert jarvis is not None and fleet.sandbox_for(jarvis).kind == "none"


@pytest.mark.parametrize(
    "path",
    ["/srv/fibreflow/production", "/srv/fibreflow/production/.next", "/SRV/FibreFlow/Production"],
)
def test_a_protected_path_is_never_writable_in_the_sandbox(path: str) -> None:
    text = edited((FLOW_GUARD, f'[agents.sandbox]\nread_write = ["{path}"]\n' + FLOW_GUARD))
    problem = only_problem(text)
    assert problem.key == "agents[6].sandbox.read_write[0]"
    assert f"would get {path} writable, which its guard protects" in problem.message
    assert "list it in read_only" in problem.fix
    assert problem.line == line_of(text, f'read_write = ["{path}"]')


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("srv/staging", "is not an absolute path"),
        ("/srv/fibreflow/staging/../production", "write it as '/srv/fibreflow/production'"),
        ("/", "would make the whole machine writable"),
    ],
)
def test_sandbox_paths_are_absolute_and_plain(path: str, says: str) -> None:
    problem = only_problem(edited((ELON_SANDBOX, f'read_write = ["{path}"]')))
    assert problem.key == "agents[4].sandbox.read_write"
    assert says in problem.message + "; " + problem.fix


def test_deploy_targets_name_known_machines_and_absolute_paths() -> None:
    target = 'name = "fibreflow-staging"\nmachine = "velo"'
    unknown = only_problem(edited((target, 'name = "fibreflow-staging"\nmachine = "vel0"')))
    assert unknown.key == "deploy_targets[0].machine"
    assert unknown.message == "deploy target 'fibreflow-staging' names unknown machine 'vel0'"
    assert unknown.fix.startswith("use one of mac-mini, velo")
    relative = only_problem(edited(('path = "/srv/fibreflow/staging"', 'path = "staging"')))
    assert relative.key == "deploy_targets[0].path"
    assert "'staging' is not an absolute path" in relative.message
    twice = edited(
        (
            "[[deploy_targets]]\n",
            "[[deploy_targets]]\n" + target + '\npath = "/a"\n\n[[deploy_targets]]\n',
        )
    )
    problem = only_problem(twice)
    assert problem.key == "deploy_targets[1].name"
    assert "used 2 times" in problem.message


def test_exec_on_a_machine_without_a_sandbox_is_a_warning_not_a_problem() -> None:
    assert fleet_warnings(loaded(TEMPLATE)) == [], "the seed's Mac Mini has no agent with exec"
    moved = loaded(
        edited(
            (
                'title = "Infrastructure (CTO)"\nmachine = "velo"',
                'title = "Infrastructure (CTO)"\nmachine = "mac-mini"',
            )
        )
    )
    (warning,) = fleet_warnings(moved)
    assert warning.agent == "elon"
    assert "no sandbox" in warning.message and "run unconfined" in warning.message
    assert "'mac-mini'" in warning.message and "install bubblewrap" in warning.message
    bad = only_problem(edited(('sandbox = "none"', 'sandbox = "off"')))
    assert bad.key == "machines[0].sandbox" and "'bubblewrap'" in bad.message
