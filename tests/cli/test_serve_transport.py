"""``mcos serve`` speaks plain HTTP on loopback only: beyond it, TLS of its own (``--tls-cert``,
``--tls-key``) or a proxy's in front (``--behind-proxy`` with an https ``MCOS_PUBLIC_URL``)."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from tests.fixtures.processes import stop
from tests.fixtures.server import free_port, mcos_env, run_mcos


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """One fleet on a SQLite file, its folder and the environment to run ``mcos`` in."""
    home = tmp_path_factory.mktemp("transport")
    env = mcos_env(home)
    run_mcos("init", str(home / "fleet"), env=env)
    return home / "fleet", env


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[trustme.CA, Path, Path]]:
    """A throwaway CA, and the certificate and key it issued for 127.0.0.1 as PEM files."""
    folder = tmp_path_factory.mktemp("tls")
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1", "localhost")
    cert, key = folder / "cert.pem", folder / "key.pem"
    issued.private_key_pem.write_to_path(str(key))
    issued.cert_chain_pems[0].write_to_path(str(cert))
    for extra in issued.cert_chain_pems[1:]:
        extra.write_to_path(str(cert), append=True)
    yield authority, cert, key


def refused(fleet: tuple[Path, dict[str, str]], *args: str, **env: str) -> str:
    """``mcos serve ARGS`` must exit at once with an error; its stderr."""
    folder, base = fleet
    result = run_mcos(
        "serve", "--fleet", str(folder), "--port", str(free_port()), *args,
        env=base | env, check=False,
    )  # fmt: skip
    assert result.returncode == 1, f"it started:\n{result.stdout}\n{result.stderr}"
    return result.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "mc.example.com"])
def test_plain_http_beyond_loopback_is_refused_naming_the_ways_out(
    fleet: tuple[Path, dict[str, str]], host: str
) -> None:
    said = refused(fleet, "--host", host)
    assert f"refusing to listen on {host!r} over plain HTTP" in said
    assert "--tls-cert and --tls-key" in said and "--behind-proxy" in said
    assert said.rstrip().endswith("(field: --host)")
    from_env = refused(fleet, MCOS_HOST=host)
    assert "(field: --host)" in from_env, "the address from MCOS_HOST is checked the same"


def test_behind_a_proxy_the_public_https_url_is_required(
    fleet: tuple[Path, dict[str, str]],
) -> None:
    said = refused(fleet, "--host", "0.0.0.0", "--behind-proxy")
    assert "MCOS_PUBLIC_URL must be the https URL operators open" in said
    assert said.rstrip().endswith("(field: MCOS_PUBLIC_URL)")
    plain = refused(
        fleet, MCOS_HOST="0.0.0.0", MCOS_BEHIND_PROXY="1", MCOS_PUBLIC_URL="http://mc.example.com"
    )
    assert "not 'http://mc.example.com'" in plain and "(field: MCOS_PUBLIC_URL)" in plain


def test_a_certificate_needs_its_key_and_both_must_be_usable(
    fleet: tuple[Path, dict[str, str]], ca: tuple[trustme.CA, Path, Path], tmp_path: Path
) -> None:
    _, cert, key = ca
    alone = refused(fleet, "--host", "0.0.0.0", "--tls-cert", str(cert))
    assert "give --tls-key (MCOS_TLS_KEY) too" in alone and "(field: --tls-key)" in alone
    key_only = refused(fleet, MCOS_TLS_KEY=str(key))
    assert "(field: --tls-cert)" in key_only
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    bad = refused(fleet, "--tls-cert", str(garbage), "--tls-key", str(key))
    assert f"cannot use the certificate {str(garbage)!r}" in bad and "(field: --tls-cert)" in bad
    missing = refused(fleet, "--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", str(key))
    assert "No such file" in missing and "(field: --tls-cert)" in missing


def start_serve(folder: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    log = (folder / "serve-transport.log").open("ab")
    with log:
        return subprocess.Popen(
            [sys.executable, "-m", "mcos", "serve", "--fleet", str(folder), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_healthy(process: subprocess.Popen[bytes], url: str, verify: ssl.SSLContext | bool) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "mcos serve exited"
        try:
            if httpx.get(url + "/api/v1/health", verify=verify, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("mcos serve did not answer")


def test_with_its_own_certificate_it_speaks_https_only(
    fleet: tuple[Path, dict[str, str]], ca: tuple[trustme.CA, Path, Path]
) -> None:
    authority, cert, key = ca
    folder, env = fleet
    port = free_port()
    process = start_serve(
        folder, env, "--host", "127.0.0.1", "--port", str(port),
        "--tls-cert", str(cert), "--tls-key", str(key),
    )  # fmt: skip
    try:
        trusted = ssl.create_default_context()
        authority.configure_trust(trusted)
        wait_healthy(process, f"https://127.0.0.1:{port}", trusted)
        health = httpx.get(f"https://127.0.0.1:{port}/api/v1/health", verify=trusted)
        assert health.headers["strict-transport-security"] == "max-age=31536000"
        with pytest.raises(httpx.TransportError):
            httpx.get(f"https://127.0.0.1:{port}/api/v1/health", timeout=5)  # CA not trusted
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5)  # no plain HTTP
    finally:
        stop(process)
    said = (folder / "serve-transport.log").read_text()
    assert f"dashboard  https://127.0.0.1:{port}/" in said


def test_behind_a_proxy_it_listens_beyond_loopback_in_the_clear(
    fleet: tuple[Path, dict[str, str]],
) -> None:
    folder, env = fleet
    port = free_port()
    proxied = env | {"MCOS_BEHIND_PROXY": "true", "MCOS_PUBLIC_URL": "https://mc.example.com"}
    process = start_serve(folder, proxied, "--host", "0.0.0.0", "--port", str(port))
    try:
        wait_healthy(process, f"http://127.0.0.1:{port}", verify=False)
        health = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=10)
        assert health.headers["strict-transport-security"] == "max-age=31536000", "public https"
    finally:
        stop(process)
