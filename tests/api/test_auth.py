from __future__ import annotations

from sqlalchemy import create_engine, text

from tests.fixtures.server import ControlPlane, error_of


def _rows(database_url: str, table: str) -> list[str]:
    """Every row of ``table`` as one string of all its columns, read straight from the database."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [" ".join(map(str, row)) for row in conn.execute(text(f"SELECT * FROM {table}"))]
    finally:
        engine.dispose()


def test_tokens_are_stored_hashed_and_only_operators_issue_them(api: ControlPlane) -> None:
    with api.client() as operator:
        issued = operator.post("/api/v1/agents/donna/tokens", json={"label": "donna-laptop"})
        assert issued.status_code == 201, issued.text
        token = issued.json()["token"]
        assert issued.json()["agent"] == "donna"

        with api.client(token) as donna:
            assert donna.get("/api/v1/agents/donna").status_code == 200
            beat = donna.post("/api/v1/agents/donna/heartbeat", json={"note": "on the laptop"})
            assert beat.status_code == 200, beat.text
            for name in ("donna", "jarvis"):
                refused = donna.post(f"/api/v1/agents/{name}/tokens", json={})
                assert refused.status_code == 403
                assert error_of(refused)["code"] == "forbidden"
                assert "operator" in error_of(refused)["message"]
            impersonation = donna.post("/api/v1/agents/jarvis/heartbeat", json={})
            assert impersonation.status_code == 403
            assert "jarvis" in error_of(impersonation)["message"]

        unknown = operator.post("/api/v1/agents/nobody/tokens", json={})
        assert unknown.status_code == 404
        assert error_of(unknown)["code"] == "not_found"
        second = api.agent_token("donna")  # a second token for the same agent also works
        with api.client(second) as donna_again:
            assert donna_again.get("/api/v1/agents/donna").json()["note"] == "on the laptop"
        log = operator.get("/api/v1/events", params={"types": "token.issued"}).json()["events"]

    tokens = _rows(api.database_url, "tokens")
    events = _rows(api.database_url, "events")
    # The operator token (from `mcos init`) and the two agent tokens, none in plain text.
    assert len(tokens) == 3
    for plain in (token, second, api.operator_token):
        assert not any(plain in row for row in tokens + events)
    assert any("donna-laptop" in row for row in tokens)
    assert [(e["actor"], e["data"]["agent"]) for e in log] == [
        ("system", None),
        ("operator:operator", "donna"),
        ("operator:operator", "donna"),
    ]
