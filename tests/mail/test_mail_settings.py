"""The runner's mail settings: documented, typed, read from MCOS_* variables."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError

from mcos.mail.message import MailboxError
from mcos.mail.settings import MailSettings


@pytest.mark.parametrize("name", sorted(MailSettings.model_fields))
def test_every_mail_setting_has_a_description(name: str) -> None:
    description = MailSettings.model_fields[name].description
    assert description and len(description) > 20, f"setting {name!r} is not documented"


@pytest.mark.parametrize("name", sorted(MailSettings.model_fields))
def test_every_mail_setting_is_in_the_readme(name: str) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert f"`MCOS_{name.upper()}`" in readme, f"MCOS_{name.upper()} is not in the README"


def test_the_defaults_are_microsofts_public_cloud() -> None:
    settings = MailSettings()
    assert settings.m365_login_url == "https://login.microsoftonline.com"
    assert settings.graph_url == "https://graph.microsoft.com/v1.0"
    assert settings.mail_ca_file is None


def test_mail_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MCOS_M365_LOGIN_URL", "https://login.microsoftonline.us")
    monkeypatch.setenv("MCOS_GRAPH_URL", "https://graph.microsoft.us/v1.0")
    monkeypatch.setenv("MCOS_MAIL_CA_FILE", str(tmp_path / "ca.pem"))
    settings = MailSettings()
    assert settings.m365_login_url == "https://login.microsoftonline.us"
    assert settings.graph_url == "https://graph.microsoft.us/v1.0"
    assert settings.mail_ca_file == tmp_path / "ca.pem"


def test_plain_http_is_refused_for_microsofts_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCOS_GRAPH_URL", "http://graph.example/v1.0")
    with pytest.raises(ValidationError, match="graph_url"):
        MailSettings()


def test_a_ca_file_is_trusted_besides_the_system(tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    system = ssl.create_default_context().cert_store_stats()["x509_ca"]
    context = MailSettings(mail_ca_file=ca_file).ssl_context()
    assert context.cert_store_stats()["x509_ca"] == system + 1


def test_an_unreadable_ca_file_is_a_config_error_naming_the_variable(tmp_path: Path) -> None:
    settings = MailSettings(mail_ca_file=tmp_path / "missing.pem")
    with pytest.raises(MailboxError, match="MCOS_MAIL_CA_FILE") as raised:
        settings.ssl_context()
    assert raised.value.kind == "config"
