"""The escapes an agent's command tried with `exec`, each refused by a real bubblewrap sandbox.

Every test builds a fleet folder in ``tmp_path`` (the operator token, a runner's tokens file, two
workspaces) and runs real commands in a real sandbox for the agent ``alice``. ``make test``
installs bubblewrap and socat (``scripts/ensure-sandbox``): without them these tests fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mcos.runtime import sandbox as sandbox_module
from mcos.runtime._sandbox_limits import CGROUP_PREFIX, cgroup_parents, enforcement
from mcos.runtime.egress import EgressProxy, EgressRefused
from mcos.runtime.sandbox import (
    Limits,
    Sandbox,
    SandboxError,
    SandboxResult,
    SandboxUnavailable,
    describe,
    detect,
)

OPERATOR_TOKEN = "mcos-operator-TOKEN-0a1b2c"
RUNNER_TOKEN = "mcos-agent-TOKEN-3d4e5f"
STATE_SECRET = "alice-STATE-6a7b8c"
BOB_SECRET = "bob-NOTES-9d0e1f"
ALICE_NOTE = "alice-OWN-NOTE"


@dataclass
class FleetFolder:
    root: Path
    alice: Path
    bob: Path

    @property
    def operator_token(self) -> Path:
        return self.root / ".mcos" / "operator.token"

    @property
    def runner_tokens(self) -> Path:
        return self.root / ".mcos" / "runner" / "velo" / "tokens.json"


@pytest.fixture
def fleet() -> Iterator[FleetFolder]:
    """A fleet folder outside /tmp, as a real one is: the sandbox has a private /tmp of its own,
    and a workspace under /tmp would sit inside it, among the sandbox's scratch files."""
    base = Path(tempfile.mkdtemp(prefix="mcos-test-fleet-", dir="/var/tmp"))
    try:
        yield _fleet_folder(base / "fleet")
    finally:
        shutil.rmtree(base)


def _fleet_folder(root: Path) -> FleetFolder:
    (root / ".mcos" / "runner" / "velo").mkdir(parents=True)
    (root / "fleet.toml").write_text('[fleet]\nname = "test"\n')
    (root / "mcos.db").write_bytes(b"SQLite format 3\x00")
    (root / ".mcos" / "operator.token").write_text(OPERATOR_TOKEN)
    (root / ".mcos" / "runner" / "velo" / "tokens.json").write_text(f'{{"bob": "{RUNNER_TOKEN}"}}')
    alice, bob = root / "workspaces" / "alice", root / "workspaces" / "bob"
    (alice / ".mcos").mkdir(parents=True)
    (alice / ".mcos" / "state.json").write_text(f'{{"secret": "{STATE_SECRET}"}}')
    (alice / "note.txt").write_text(ALICE_NOTE)
    bob.mkdir()
    (bob / "notes.txt").write_text(BOB_SECRET)
    return FleetFolder(root, alice, bob)


def run(box: Sandbox, command: str, **limits: float) -> SandboxResult:
    return asyncio.run(box.run(command, Limits(**limits)))  # type: ignore[arg-type]


def processes_with(marker: str) -> list[str]:
    """Command lines of live processes on the host that start with ``marker`` (``sleep 3011``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                if line.startswith(marker):
                    found.append(line)
    return found


# Tries a TCP connection to each host:port given, and says how it went.
PROBE = """import socket, sys
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
        print(target, "connected")
    except OSError as exc:
        print(target, exc.strerror.lower())
"""


def reachable_addresses() -> list[str]:
    """127.0.0.1, and the host's address on its default route if it has one."""
    addresses = ["127.0.0.1"]
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.255", 9))  # no packet is sent: this only picks a route
        addresses.append(probe.getsockname()[0])
    return addresses


def probe_command(workspace: Path, port: int) -> str:
    (workspace / "probe.py").write_text(PROBE)
    return "python3 probe.py " + " ".join(f"{host}:{port}" for host in reachable_addresses())


def test_a_sandbox_can_run_here() -> None:
    available = detect()
    assert available.available, f"make test installs bubblewrap and socat: {available}"
    assert run(Sandbox(Path.cwd()), "echo hi").output == "hi\n"


def test_the_runners_environment_is_nowhere_in_the_sandbox(
    fleet: FleetFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCOS_OTHER_AGENT_KEY", "sk-ant-SECRET-of-another-agent")
    result = run(
        Sandbox(fleet.alice),
        "ls /proc | grep -c '^[0-9]'; for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; "
        "do echo \"== $f\"; tr '\\0' '\\n' < $f; done; env",
    )
    assert result.exit_status == 0, result.output
    assert "== /proc/1/environ" in result.output, "bwrap's own process, pid 1 inside, was read"
    assert "SECRET" not in result.output and "MCOS_OTHER_AGENT_KEY" not in result.output
    assert int(result.output.split("\n", 1)[0]) <= 4, "only the sandbox's own processes show"


def test_the_environment_is_minimal(fleet: FleetFolder) -> None:
    result = run(Sandbox(fleet.alice), "env")
    env = dict(line.split("=", 1) for line in result.output.splitlines())
    assert set(env) - {"PWD"} == {"PATH", "HOME", "LANG", "TZ", "TMPDIR", "USER"}
    assert env["HOME"] == str(fleet.alice) and env["TMPDIR"] == "/tmp"
    assert env["LANG"] == "C.UTF-8"


def test_the_fleets_secrets_and_other_workspaces_are_not_visible(fleet: FleetFolder) -> None:
    result = run(
        Sandbox(fleet.alice),
        f"cat {fleet.operator_token} {fleet.runner_tokens} ../../.mcos/operator.token; "
        f"ls -A {fleet.root} {fleet.root / 'workspaces'}; cat ../bob/notes.txt; "
        f"echo '== grep'; grep -rl -e {OPERATOR_TOKEN} -e {RUNNER_TOKEN} -e {STATE_SECRET} "
        f"-e {BOB_SECRET} -e {ALICE_NOTE} / --exclude-dir=proc --exclude-dir=usr 2>/dev/null",
    )
    for secret in (OPERATOR_TOKEN, RUNNER_TOKEN, STATE_SECRET, BOB_SECRET):
        assert secret not in result.output
    found = result.output.split("== grep\n", 1)[1].splitlines()
    assert found == [str(fleet.alice / "note.txt")], "grep finds alice's own note and nothing else"
    listing = result.output.split(f"{fleet.root}:\n", 1)[1]
    assert listing.startswith("workspaces\n\n"), "no fleet.toml, mcos.db or .mcos beside it"
    assert f"{fleet.root / 'workspaces'}:\nalice\n" in result.output, "and no other workspace"


def test_nothing_else_of_the_host_is_visible(fleet: FleetFolder) -> None:
    top = fleet.root.parts[1]  # the workspace's own path is there, and nothing beside it
    result = run(
        Sandbox(fleet.alice),
        "ls -A /; echo ==; ls -A /etc/ssl/private; grep -c ' /etc/ssl/private ' /proc/self/mounts; "
        "echo ==; "
        "ls -d /root /home /work /run /sys /etc/shadow /etc/gshadow /etc/sudoers 2>&1; "
        f"echo ==; ls -A /{top}",
    )
    root, private, missing, beside = result.output.split("==\n")
    assert set(root.split()) <= {
        *"bin sbin lib lib32 lib64 libx32 usr etc proc dev tmp".split(),
        top,
    }
    if Path("/etc/ssl/private").is_dir():
        assert private == "1\n", "the host's TLS private keys are masked (an empty tmpfs)"
    assert missing.count("No such file or directory") == 8, missing
    assert beside.split() == [fleet.root.parts[2]]


def test_the_runtimes_own_state_shows_empty_and_read_only(fleet: FleetFolder) -> None:
    result = run(
        Sandbox(fleet.alice),
        "ls -A .mcos; echo owned > .mcos/state.json; rm -rf .mcos; mv .mcos gone; echo done",
    )
    assert result.output.startswith("/bin/sh: 1: cannot create .mcos/state.json: Read-only")
    assert "Device or resource busy" in result.output and result.output.endswith("done\n")
    assert STATE_SECRET in (fleet.alice / ".mcos" / "state.json").read_text()


def test_writes_outside_the_workspace_fail(fleet: FleetFolder, tmp_path: Path) -> None:
    targets = [
        "/x",
        "/etc/x",
        "/etc/passwd",
        "/usr/x",
        "/dev/x",
        str(fleet.root / "x"),
        str(fleet.root / "workspaces" / "x"),
        str(fleet.bob / "notes.txt"),
    ]
    result = run(
        Sandbox(fleet.alice),
        " ".join(f"(echo pwned > {t}) 2>/dev/null && echo 'wrote {t}';" for t in targets)
        + "echo mine > mine.txt && echo scratch > /tmp/scratch.txt && cat /tmp/scratch.txt",
    )
    assert "wrote" not in result.output
    assert result.output == "scratch\n"
    assert (fleet.alice / "mine.txt").read_text() == "mine\n", "the workspace is writable"
    assert (fleet.bob / "notes.txt").read_text() == BOB_SECRET
    assert not (fleet.root / "x").exists() and not (fleet.root / "workspaces" / "x").exists()


def test_symlinks_in_the_workspace_lead_nowhere(fleet: FleetFolder) -> None:
    (fleet.alice / "token").symlink_to(fleet.operator_token)
    (fleet.alice / "relative-token").symlink_to("../../.mcos/operator.token")
    (fleet.alice / "runner").symlink_to(fleet.runner_tokens)
    (fleet.alice / "bob").symlink_to(fleet.bob)
    (fleet.alice / "relative-bob").symlink_to("../bob")
    result = run(
        Sandbox(fleet.alice),
        "cat token relative-token runner bob/notes.txt relative-bob/notes.txt; ls bob/",
    )
    for secret in (OPERATOR_TOKEN, RUNNER_TOKEN, BOB_SECRET):
        assert secret not in result.output
    assert result.output.count("No such file or directory") >= 6


def test_a_hard_link_to_a_file_outside_cannot_be_made(fleet: FleetFolder) -> None:
    result = run(
        Sandbox(fleet.alice),
        "for f in /etc/passwd /etc/ssl/openssl.cnf /usr/bin/sh; do "
        "ln $f linked-$(basename $f) 2>&1 | sed 's/.*: //'; done; ln note.txt note-link.txt; ls",
    )
    assert result.output.splitlines()[:3] == ["Invalid cross-device link"] * 3
    assert sorted(p.name for p in fleet.alice.iterdir()) == [".mcos", "note-link.txt", "note.txt"]


def test_hidden_paths_inside_a_bind_are_masked_and_stay_masked(
    fleet: FleetFolder, tmp_path: Path
) -> None:
    (fleet.alice / "deploy" / "keys").mkdir(parents=True)
    (fleet.alice / "deploy" / "keys" / "id_ed25519").write_text("PRIVATE-KEY")
    (fleet.alice / "deploy" / "prod.env").write_text("DB_PASSWORD=PRIVATE-PASSWORD")
    shared = tmp_path / "shared"
    (shared / "private").mkdir(parents=True)
    (shared / "private" / "payroll.csv").write_text("PRIVATE-PAYROLL")
    (shared / "README").write_text("shared readme\n")
    box = Sandbox(
        fleet.alice,
        read_only=(shared,),
        hidden=(
            fleet.alice / "deploy" / "keys",
            fleet.alice / "deploy" / "prod.env",
            shared / "private",
            fleet.alice / "not-there",
        ),
    )
    first = run(
        box,
        f"cat {shared}/README; ls -A deploy/keys {shared}/private; cat deploy/prod.env; "
        f"cat {shared}/private/payroll.csv; mv deploy elsewhere; mv deploy/keys deploy/k2; "
        "rm -rf deploy; echo written > deploy/other.txt; echo done",
    )
    assert "PRIVATE" not in first.output
    assert first.output.startswith("shared readme\n")
    assert first.output.count("Device or resource busy") >= 3 and first.output.endswith("done\n")
    assert (fleet.alice / "deploy" / "other.txt").read_text() == "written\n"
    assert (fleet.alice / "deploy" / "keys" / "id_ed25519").read_text() == "PRIVATE-KEY"
    again = run(box, "cat deploy/keys/* deploy/prod.env elsewhere/keys/* 2>&1; ls")
    assert "PRIVATE" not in again.output


def test_without_network_not_even_the_hosts_loopback_is_reachable(fleet: FleetFolder) -> None:
    async def scenario() -> tuple[SandboxResult, int]:
        accepted = 0

        async def count(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal accepted
            accepted += 1
            writer.close()

        server = await asyncio.start_server(count, "0.0.0.0", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", port)  # it does listen
            writer.close()
            result = await Sandbox(fleet.alice).run(probe_command(fleet.alice, port))
        return result, accepted

    result, accepted = asyncio.run(scenario())
    assert accepted == 1, "only the test's own connection reached the server"
    lines = result.output.splitlines()
    assert len(lines) == len(reachable_addresses())
    assert all(line.endswith(("connection refused", "network is unreachable")) for line in lines)


@contextlib.asynccontextmanager
async def web_server() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A local HTTP server answering "hello"; yields its port and the request heads it got."""
    heads: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError):
            heads.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n"
            )
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "0.0.0.0", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], heads


def test_with_network_the_proxy_is_the_only_way_out(fleet: FleetFolder, tmp_path: Path) -> None:
    asked: list[tuple[str, int]] = []

    async def check(host: str, port: int) -> str:
        asked.append((host, port))
        if host == "allowed.test":
            return "127.0.0.1"  # the proxy connects here, and to nothing it resolves itself
        raise EgressRefused(f"{host} is not on alice's list")

    async def scenario() -> tuple[list[SandboxResult], list[bytes], int]:
        async with web_server() as (port, heads):
            proxy = EgressProxy(tmp_path / "egress-alice.sock", check)
            async with proxy:
                box = Sandbox(fleet.alice, egress_socket=proxy.path)
                results = [
                    await box.run(f"curl -sS http://allowed.test:{port}/via-proxy"),
                    await box.run(f"curl -sS -p http://allowed.test:{port}/via-connect"),
                    await box.run(f"curl -sS -i http://refused.test:{port}/"),
                    await box.run(
                        f"curl -sS --noproxy '*' http://127.0.0.1:{port}/direct; "
                        + probe_command(fleet.alice, port)
                    ),
                ]
            return results, heads, port

    (via_proxy, via_connect, refused, direct), heads, port = asyncio.run(scenario())
    assert via_proxy.output == "hello\n" and via_connect.output == "hello\n"
    assert refused.output.startswith("HTTP/1.1 403 Forbidden")
    assert refused.output.endswith("refused.test is not on alice's list\n")
    assert "hello" not in direct.output and "connected" not in direct.output
    assert asked == [("allowed.test", port), ("allowed.test", port), ("refused.test", port)]
    assert [h.split(b" ")[1] for h in heads] == [b"/via-proxy", b"/via-connect"]


def test_a_fork_loop_is_stopped_and_leaves_nothing_behind(fleet: FleetFolder) -> None:
    result = run(
        Sandbox(fleet.alice),
        "i=0; while [ $i -lt 400 ]; do sleep 3011 & i=$((i + 1)); done; echo all forked",
        processes=32,
    )
    assert result.process_limit_hit, result.output
    assert "Cannot fork" in result.output and "all forked" not in result.output
    assert processes_with("sleep 3011") == []
    assert run(Sandbox(fleet.alice), "echo still here").output == "still here\n"


def test_the_memory_limit_holds(fleet: FleetFolder) -> None:
    result = run(
        Sandbox(fleet.alice),
        "python3 -c 'b = bytes(range(256)) * (2 * 2**20); print(\"allocated\", len(b))'",
        memory_bytes=128 << 20,
    )
    assert "allocated" not in result.output
    assert result.memory_limit_hit and result.exit_status == 137, result.output


def test_without_a_cgroup_memory_falls_back_to_a_per_process_rlimit(
    fleet: FleetFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox_module, "cgroup_parents", lambda: ())
    result = run(
        Sandbox(fleet.alice),
        "python3 -c 'b = bytes(range(256)) * (2 * 2**20); print(\"allocated\", len(b))'",
        memory_bytes=128 << 20,
    )
    assert "MemoryError" in result.output and "allocated" not in result.output
    assert not result.memory_limit_hit, "no cgroup says so: the rlimit made malloc fail"


@pytest.mark.parametrize("cap", [4 * 1024, 64 * 1024])
def test_output_is_capped_and_the_command_killed(fleet: FleetFolder, cap: int) -> None:
    # Reading stops at the cap while `yes` still writes: the pipe it fills is never read to its
    # end, and the run must end anyway.
    result = run(
        Sandbox(fleet.alice), "echo first; yes mcos-line", output_bytes=cap, wall_seconds=60
    )
    assert result.output_limit_hit and not result.timed_out
    assert result.exit_status == 137
    assert result.output.startswith("first\nmcos-line\n")
    assert "bytes cut ...]" in result.output
    assert len(result.output.encode()) < cap + 100
    small = run(Sandbox(fleet.alice), "seq 1000", output_bytes=64 * 1024)
    assert small.output == "".join(f"{i}\n" for i in range(1, 1001)) and not small.output_limit_hit


def test_file_size_open_files_and_core_dumps_are_limited(fleet: FleetFolder) -> None:
    result = run(
        Sandbox(fleet.alice),
        "ulimit -n; ulimit -c; head -c 3000000 /dev/zero > big.bin; echo status $?",
        file_bytes=1 << 20,
        open_files=64,
    )
    assert result.output.splitlines()[:2] == ["64", "0"]
    assert result.output.endswith("status 153\n"), "SIGXFSZ stopped the writer"
    assert (fleet.alice / "big.bin").stat().st_size == 1 << 20


def test_a_timeout_kills_background_children_too(fleet: FleetFolder) -> None:
    result = run(
        Sandbox(fleet.alice),
        "sleep 3021 & (sleep 3022 &); setsid sleep 3023 & nohup sleep 3024 >/dev/null 2>&1 & "
        "echo started; sleep 3025",
        wall_seconds=1,
    )
    assert result.timed_out and result.output == "started\n"
    assert processes_with("sleep 302") == []
    finished = run(Sandbox(fleet.alice), "sleep 3026 & setsid sleep 3027 & echo done")
    assert finished.exit_status == 0 and not finished.timed_out
    assert processes_with("sleep 302") == [], "a command that ends takes its children along"
    ours = f"{CGROUP_PREFIX}{os.getpid()}-"
    assert not any(
        p.name.startswith(ours) for parent in cgroup_parents() for p in parent.path.iterdir()
    ), "each command's cgroups are removed"


def test_cancelling_a_command_kills_all_it_started(fleet: FleetFolder) -> None:
    async def scenario() -> None:
        task = asyncio.create_task(Sandbox(fleet.alice).run("sleep 3031 & sleep 3032"))
        # Only /proc shows when the sandbox's sleeps have started: nothing to await but that.
        while len(processes_with("sleep 303")) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert processes_with("sleep 303") == []


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ('echo "it\'s" \'a "test"\' $((1 + 2))', 'it\'s a "test" 3\n'),
        ("--bind / / echo", "/bin/sh: 1: --bind: not found"),
        ("'; touch {marker}; echo '", "not found"),
        ('"; touch {marker}; echo "', "not found"),
        ('echo "$#" "$@"', "0\n"),
    ],
)
def test_shell_quoting_in_the_command_changes_nothing(
    fleet: FleetFolder, command: str, expected: str
) -> None:
    marker = fleet.root / "escaped"
    result = run(Sandbox(fleet.alice), command.format(marker=marker))
    assert expected in result.output
    assert not marker.exists(), "the command ran inside the sandbox, as one argument to sh -c"


def test_a_path_that_cannot_be_bound_is_refused(fleet: FleetFolder) -> None:
    with pytest.raises(SandboxError, match="does not exist"):
        run(Sandbox(fleet.root / "workspaces" / "nobody"), "true")
    with pytest.raises(SandboxError, match="cannot be bound"):
        run(Sandbox(fleet.alice, read_only=(Path("/"),)), "true")
    with pytest.raises(SandboxError, match="no egress proxy is listening"):
        run(Sandbox(fleet.alice, egress_socket=fleet.root / "egress.sock"), "true")


@pytest.fixture
def fresh_detect() -> Iterator[None]:
    """detect() asked anew, and its real answer cached again for the tests after this one."""
    detect.cache_clear()
    yield
    detect.cache_clear()


def test_where_no_sandbox_can_run_it_says_why_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fresh_detect: None
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing installed
    assert str(detect()) == (
        "bwrap, socat, prlimit not installed\n  fix: apt install bubblewrap socat util-linux"
    )
    detect.cache_clear()
    monkeypatch.setattr(sys, "platform", "darwin")
    mac = detect()
    assert not mac.available and mac.reason == "no sandbox on macOS yet"
    assert mac.fix.startswith('set `sandbox = "none"` on this machine in fleet.toml')
    with pytest.raises(SandboxUnavailable, match="no sandbox on macOS yet"):
        run(Sandbox(Path.cwd()), "true")


def test_describe_says_how_each_limit_is_enforced_here() -> None:
    limits = Limits()
    lines = {e.limit: e for e in describe(limits)}
    assert list(lines) == [
        "wall time",
        "output",
        "memory",
        "processes",
        "file size",
        "open files",
        "core dumps",
    ]
    controllers = {p.controller for p in cgroup_parents()}
    assert lines["processes"].enforced == ("pids" in controllers or os.getuid() != 0)
    bare = {e.limit: e for e in enforcement(limits, ())}
    if os.getuid() == 0:
        assert str(bare["processes"]) == (
            "processes: not enforced (running as root and no writable pids cgroup)"
        )
    assert not bare["memory"].enforced and "RLIMIT_DATA" in bare["memory"].how
