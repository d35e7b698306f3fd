"""Protected paths are matched on what the file system reads: ``..`` and case do not step around."""

from __future__ import annotations

import pytest

from mcos.domain.paths import is_within, literal_root, matches, normalise_path

PRODUCTION = "/srv/fibreflow/production/**"


@pytest.mark.parametrize(
    "path",
    [
        "/srv/fibreflow/production",
        "/srv/fibreflow/production/",
        "/srv/fibreflow/production/.env",
        "/srv/fibreflow/staging/../production",
        "/srv/fibreflow/staging/../production/app.js",
        "//srv/fibreflow/./production/app.js",
        "/SRV/FibreFlow/Production/app.js",
    ],
)
def test_every_way_into_production_matches(path: str) -> None:
    assert matches(path, PRODUCTION)
    assert matches(path, "/srv/fibreflow/production"), "a plain folder protects what is in it"


@pytest.mark.parametrize(
    "path",
    ["/srv/fibreflow/staging", "/srv/fibreflow/production-old/x", "srv/fibreflow/production"],
)
def test_neighbours_and_relative_paths_do_not(path: str) -> None:
    assert not matches(path, PRODUCTION)
    assert not matches(path, "/srv/fibreflow/production")


def test_normalise_root_and_within() -> None:
    assert normalise_path("/a/b/../c/") == "/a/c"
    assert normalise_path("a/b") is None
    assert literal_root(PRODUCTION) == "/srv/fibreflow/production"
    assert literal_root("/srv/*/secrets") == "/srv"
    assert literal_root("**/.env") == "/"
    assert is_within("/srv/fibreflow/production", "/srv/fibreflow")
    assert not is_within("/srv/fibreflow2", "/srv/fibreflow")
