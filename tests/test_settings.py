"""Every setting is documented, typed, and read from MCOS_* variables."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mcos.settings import Settings


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_has_a_description(name: str) -> None:
    description = Settings.model_fields[name].description
    assert description and len(description) > 20, f"setting {name!r} is not documented"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCOS_MAX_REQUEST_BYTES", "2048")
    monkeypatch.setenv("MCOS_SQLITE_SYNCHRONOUS", "NORMAL")
    settings = Settings()
    assert settings.max_request_bytes == 2048
    assert settings.sqlite_synchronous == "NORMAL"


def test_a_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCOS_PORT", "not-a-port")
    with pytest.raises(ValidationError, match="port"):
        Settings()
