"""``mcos service install``: the systemd unit that ``systemd-analyze verify`` accepts, the
launchd job that plistlib reads back, and secrets kept in the environment file only."""

from __future__ import annotations

import os
import plistlib
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.server import mcos_env, run_mcos

MCOS = Path(sys.executable).parent / "mcos"
SECRET = "mcos_r_not-on-any-command-line"


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The seed's fleet (two machines) and an environment holding a token that must stay out
    of every unit."""
    home = tmp_path_factory.mktemp("service")
    env = mcos_env(home) | {"MCOS_TOKEN": SECRET}
    run_mcos("init", str(home / "fleet"), env=env)
    return home / "fleet", env


def verify(unit: Path) -> None:
    """``systemd-analyze verify``: it checks every key, and that ExecStart's program exists."""
    assert shutil.which("systemd-analyze"), "systemd-analyze is part of systemd (apt systemd)"
    checked = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, ""), checked.stderr


def service_lines(unit: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in unit.read_text().splitlines() if "=" in line[:40])


def test_the_control_planes_unit_is_hardened_and_verifies(
    seed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    fleet, env = seed
    out = tmp_path / "units"
    said = run_mcos(
        "service", "install", "--role", "control-plane", "--fleet", str(fleet),
        "--platform", "systemd", "--output", str(out), env=env,
    ).stdout  # fmt: skip
    unit = out / "mcos-serve.service"
    assert f"Wrote {unit}" in said and "systemctl enable --now mcos-serve" in said
    assert stat.S_IMODE(unit.stat().st_mode) == 0o644
    keys = service_lines(unit)
    assert keys["ExecStart"] == f"{MCOS} serve --fleet {fleet}"
    assert keys["Restart"] == "on-failure" and keys["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert keys["ProtectSystem"] == "strict" and keys["ReadWritePaths"] == str(fleet)
    assert keys["NoNewPrivileges"] == "yes" and keys["PrivateTmp"] == "yes"
    assert keys["RestrictNamespaces"] == "yes"
    assert keys["EnvironmentFile"] == f"-{fleet}/.mcos/mcos-serve.env"
    env_file = fleet / ".mcos" / "mcos-serve.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert "MCOS_PUBLIC_URL" in env_file.read_text()
    verify(unit)


def test_the_runners_unit_reads_its_token_from_the_environment_file_and_allows_the_sandbox(
    seed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    fleet, env = seed
    out = tmp_path / "units"
    args = ["service", "install", "--role", "runner", "--fleet", str(fleet),
            "--machine", "velo", "--platform", "systemd", "--output", str(out)]  # fmt: skip
    run_mcos(*args, env=env)
    unit = out / "mcos-run.service"
    text = unit.read_text()
    assert SECRET not in text, "the token is never in the unit"
    keys = service_lines(unit)
    assert keys["ExecStart"] == (
        f"{MCOS} --fleet {fleet} --url http://127.0.0.1:8750 run --machine velo"
    )
    assert keys["EnvironmentFile"] == f"{fleet}/.mcos/mcos-run.env", "required: no '-'"
    # bubblewrap builds the agents' sandboxes from namespaces, set up over netlink.
    assert "RestrictNamespaces" not in text and "SystemCallFilter" not in text
    assert "AF_NETLINK" in keys["RestrictAddressFamilies"]
    # Flow's sandbox read_write folder, which is also velo's deploy target: once, and "-" so a
    # folder not made yet does not stop the start.
    assert keys["ReadWritePaths"] == f"{fleet} -/srv/fibreflow/staging"
    verify(unit)

    env_file = fleet / ".mcos" / "mcos-run.env"
    written = env_file.read_text()
    assert "\nMCOS_TOKEN=\n" in written and SECRET not in written
    assert "MCOS_ELON_ANTHROPIC_KEY=" in written, "velo's agents' keys, to fill in"
    assert "MCOS_DONNA_ANTHROPIC_KEY" not in written, "donna runs on the Mac Mini"
    env_file.write_text(written.replace("MCOS_TOKEN=\n", f"MCOS_TOKEN={SECRET}\n"))
    again = run_mcos(*args, env=env).stdout
    assert f"Kept {env_file}" in again and SECRET in env_file.read_text(), "never overwritten"


def test_the_mac_minis_launchd_job_restarts_on_failure_and_logs_in_library_logs(
    seed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, env = seed
    home = tmp_path / "mac"
    home.mkdir()
    printed = subprocess.run(
        [sys.executable, "-m", "mcos", "service", "install", "--role", "runner",
         "--url", "https://mc.example.com", "--machine", "mac-mini",
         "--platform", "launchd", "--print"],
        env=env | {"HOME": str(home)}, cwd=home, capture_output=True, timeout=60,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    job = plistlib.loads(printed.stdout)
    assert plistlib.dumps(job, sort_keys=False) == printed.stdout, "a plist as launchd reads it"
    assert job["Label"] == "mcos.run" and job["RunAtLoad"] is True
    assert job["KeepAlive"] == {"SuccessfulExit": False}
    assert job["WorkingDirectory"] == str(home)
    log = f"{home}/Library/Logs/mcos/mcos-run.log"
    assert job["StandardOutPath"] == job["StandardErrorPath"] == log
    shell, flag, command = job["ProgramArguments"]
    assert (shell, flag) == ("/bin/sh", "-c")
    assert command == (
        f"set -a && . {home}/.mcos/mcos-run.env && set +a && exec {MCOS} "
        "--url https://mc.example.com run --machine mac-mini"
    )
    assert SECRET.encode() not in printed.stdout
    assert not (home / ".mcos").exists(), "--print writes nothing"

    # The job's shell line runs: the environment file's token reaches `mcos run`.
    (home / ".mcos").mkdir()
    (home / ".mcos" / "mcos-run.env").write_text(f"MCOS_TOKEN={SECRET}\n")
    probe = command.replace(f"exec {MCOS} --url https://mc.example.com run --machine mac-mini",
                            'printf %s "$MCOS_TOKEN"')  # fmt: skip
    ran = subprocess.run(["/bin/sh", "-c", probe], cwd=home, capture_output=True, text=True)
    assert ran.stdout == SECRET


@pytest.mark.parametrize(
    ("args", "field", "said"),
    [
        (["--role", "runner", "--machine", "mac-studio"], "--machine", "no 'mac-studio'"),
        (["--role", "runner"], "--machine", "machines are mac-mini, velo: say which"),
        (["--role", "gateway"], None, "'gateway' is not one of"),
    ],
)
def test_bad_choices_are_named(
    seed: tuple[Path, dict[str, str]], args: list[str], field: str | None, said: str
) -> None:
    fleet, env = seed
    result = run_mcos(
        "service", "install", "--fleet", str(fleet), *args, "--print", env=env, check=False
    )
    assert result.returncode != 0 and said in result.stderr, result.stderr
    if field:
        assert f"(field: {field})" in result.stderr


def test_a_runner_without_a_fleet_file_needs_the_url(tmp_path: Path) -> None:
    env = mcos_env(tmp_path)
    result = run_mcos(
        "service", "install", "--role", "runner", "--print", env=env, cwd=tmp_path, check=False
    )
    assert result.returncode == 1
    assert "needs the control plane's URL" in result.stderr and "(field: --url)" in result.stderr
    no_fleet = run_mcos(
        "service", "install", "--role", "control-plane", "--print",
        env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert no_fleet.returncode == 1 and "(field: --fleet)" in no_fleet.stderr


def test_a_folder_a_unit_would_misread_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "my runner"
    folder.mkdir()
    result = run_mcos(
        "service", "install", "--role", "runner", "--url", "https://mc.example.com",
        "--platform", "systemd", "--print", env=mcos_env(tmp_path), cwd=folder, check=False,
    )  # fmt: skip
    assert result.returncode == 1 and "has a space" in result.stderr, result.stderr
    assert str(folder) in result.stderr and "(field: --fleet)" in result.stderr


SANDBOX = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--hostname", "sandbox",
           "--cap-drop", "ALL", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
           "true"]  # fmt: skip
"""bubblewrap as mcos.runtime's sandbox starts an agent's command (_sandbox_mounts.bwrap_args)."""


def sandbox_under(mounts: str) -> subprocess.CompletedProcess[str]:
    """Start the sandbox in a mount namespace set up as ``mounts`` says, with no new privileges:
    what systemd does for a unit's file-system options, done by hand (no systemd runs here)."""
    assert os.geteuid() == 0, "this test makes mount namespaces (unshare --mount): run as root"
    run = f"exec setpriv --no-new-privs {shlex.join(SANDBOX)}"
    script = f"mount --make-rprivate / && {mounts} && {run}"
    return subprocess.run(
        ["unshare", "--mount", "sh", "-c", script], capture_output=True, text=True, timeout=60
    )


def test_the_runners_hardening_leaves_bubblewrap_what_it_needs(
    seed: tuple[Path, dict[str, str]],
) -> None:
    fleet, env = seed
    printed = run_mcos(
        "service", "install", "--role", "runner", "--fleet", str(fleet), "--machine", "velo",
        "--platform", "systemd", "--print", env=env,
    ).stdout  # fmt: skip
    for kept in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes"):
        assert f"\n{kept}\n" in printed, kept
    for left_out in ("ProtectKernelTunables", "ProtectKernelLogs", "ProtectHostname"):
        assert left_out not in printed, left_out
    # ProtectSystem=strict, PrivateTmp=yes and NoNewPrivileges=yes: the sandbox starts.
    hardened = sandbox_under("mount -o remount,bind,ro / && mount -t tmpfs tmpfs /tmp")
    assert hardened.returncode == 0, hardened.stderr
    # What ProtectKernelTunables= (the control plane's unit has it) would add: it cannot.
    tunables = sandbox_under(
        "mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys"
    )
    assert tunables.returncode != 0 and "Can't mount proc" in tunables.stderr
