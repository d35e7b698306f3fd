"""The entity registry over the API and the CLI: the sample `mcos init` writes, served read-only;
ID numbers in full to operators and agents with ``personal_data``, masked for the others; a bad
registry stops `mcos serve` with the file, the key and the fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcos.fleet.registry import registry_template_text
from tests.fixtures.server import Server, error_of, free_port, mcos_env, run_mcos, running_server

ALEX_ID = "8504125123086"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("registry")
    with running_server(folder, f"sqlite+pysqlite:///{folder / 'mcos.db'}") as server:
        yield server


def test_init_wrote_the_sample_registry_beside_the_fleet_file(srv: Server) -> None:
    assert (srv.fleet_dir / "registry.toml").read_text() == registry_template_text()


def test_an_operator_reads_the_whole_registry_with_id_numbers_in_full(srv: Server) -> None:
    with srv.client() as operator:
        body = operator.get("/api/v1/registry").json()
    assert body["personal_data"] == "full"
    assert [c["key"] for c in body["companies"]] == [
        "specter-holdings",
        "velocity-fibre",
        "mokoena-splicing",
    ]
    velocity = body["companies"][1]
    assert velocity["legal_name"] == "Velocity Fibre (Pty) Ltd"
    assert velocity["registration_number"] == "2019/407215/07"
    assert velocity["vat_number"] == "4620197384"
    assert velocity["bank_ref"] == "fnb-velocity-operating"
    assert velocity["directors"] == [
        {"person": "alex-specter", "full_name": "Alexander James Specter"},
        {"person": "lindiwe-dlamini", "full_name": "Lindiwe Precious Dlamini"},
    ]
    assert velocity["signatories"] == [
        {"person": "alex-specter", "full_name": "Alexander James Specter", "capacity": "Director"},
        {
            "person": "lindiwe-dlamini",
            "full_name": "Lindiwe Precious Dlamini",
            "capacity": "Director, duly authorised",
        },
    ]
    alex = body["people"][0]
    assert alex["key"] == "alex-specter" and alex["id_number"] == ALEX_ID
    assert [r["company"] for r in alex["companies"]] == ["specter-holdings", "velocity-fibre"]


def test_an_agent_reads_it_with_id_numbers_masked(srv: Server) -> None:
    with srv.agent("donna") as donna:
        body = donna.get("/api/v1/registry").json()
        person = donna.get("/api/v1/registry/people/alex-specter").json()
        company = donna.get("/api/v1/registry/companies/velocity-fibre").json()
    assert body["personal_data"] == "masked"
    alex = body["people"][0]
    assert alex["id_number"] == "*********3086"
    assert person["id_number"] == "*********3086"
    assert ALEX_ID not in json.dumps(body) + json.dumps(person)
    # The facts a document needs are all there.
    assert company["registration_number"] == "2019/407215/07"
    assert company["signatories"][0]["capacity"] == "Director"


def test_an_agent_with_personal_data_reads_id_numbers_in_full(srv: Server) -> None:
    with srv.agent("apex") as apex:  # the template gives Apex personal_data, for FICA packs
        body = apex.get("/api/v1/registry").json()
        person = apex.get("/api/v1/registry/people/alex-specter").json()
    assert body["personal_data"] == "full"
    assert body["people"][0]["id_number"] == ALEX_ID
    assert person["id_number"] == ALEX_ID


def test_a_query_returns_exact_matches_first_else_partial_ones(srv: Server) -> None:
    with srv.client() as operator:
        exact = operator.get("/api/v1/registry", params={"q": "VELOCITY FIBRE"}).json()
        partial = operator.get("/api/v1/registry", params={"q": "splic"}).json()
        nothing = operator.get("/api/v1/registry", params={"q": "Acme"}).json()
        blank = operator.get("/api/v1/registry", params={"q": ""})
    assert [c["key"] for c in exact["companies"]] == ["velocity-fibre"]
    assert exact["people"] == []
    assert [c["key"] for c in partial["companies"]] == ["mokoena-splicing"]
    assert nothing["companies"] == [] and nothing["people"] == []
    assert blank.status_code == 422 and error_of(blank)["field"] == "q"


def test_unknown_and_malformed_keys_answer_in_the_error_shape(srv: Server) -> None:
    with srv.client() as operator:
        company = operator.get("/api/v1/registry/companies/acme")
        person = operator.get("/api/v1/registry/people/nobody")
        malformed = operator.get("/api/v1/registry/companies/Not_A_Key")
    assert company.status_code == 404
    assert error_of(company) == {
        "code": "not_found",
        "message": "no company 'acme' in the entity registry (registry.toml)",
        "field": "key",
    }
    assert person.status_code == 404 and error_of(person)["field"] == "key"
    assert malformed.status_code == 422 and error_of(malformed)["field"] == "key"


def test_nothing_writes_the_registry_over_the_api(srv: Server) -> None:
    with srv.client() as operator:
        paths = operator.get("/openapi.json").json()["paths"]
        registry_paths = {p: set(ops) for p, ops in paths.items() if "/registry" in p}
        assert registry_paths == {
            "/api/v1/registry": {"get"},
            "/api/v1/registry/companies/{key}": {"get"},
            "/api/v1/registry/people/{key}": {"get"},
        }
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            answer = operator.request(method, "/api/v1/registry/companies/velocity-fibre", json={})
            assert answer.status_code == 405, method
            assert error_of(answer)["code"]


def test_mcos_registry_ls_and_show(srv: Server) -> None:
    listed = srv.mcos("registry", "ls").stdout
    assert "velocity-fibre" in listed and "2019/407215/07" in listed
    assert "alex-specter" in listed
    shown = srv.mcos("registry", "show", "velocity-fibre").stdout.splitlines()
    assert shown[0] == "company velocity-fibre"
    assert (
        "signatories:        Alexander James Specter as Director; Lindiwe Precious Dlamini "
        "as Director, duly authorised" in shown
    )
    as_json = json.loads(srv.mcos("registry", "show", "alex-specter", "--json").stdout)
    assert as_json["id_number"] == ALEX_ID
    missing = srv.mcos("registry", "show", "acme", check=False)
    assert missing.returncode != 0 and "no company or person with key 'acme'" in missing.stderr


def test_a_bad_registry_stops_mcos_serve_with_the_file_key_and_fix(tmp_path: Path) -> None:
    env = mcos_env(tmp_path)
    folder = tmp_path / "fleet"
    run_mcos("init", str(folder), env=env)
    registry = folder / "registry.toml"
    registry.write_text(registry.read_text().replace("2019/407215/07", "2019/407215/7"))
    result = run_mcos(
        "serve", "--fleet", str(folder), "--port", str(free_port()), env=env, check=False
    )
    assert result.returncode != 0
    assert f"1 problem(s) in {registry}" in result.stderr
    assert "companies[1].registration_number: company 'velocity-fibre': '2019/407215/7'" in (
        result.stderr
    )
    assert "fix: write it as YYYY/NNNNNN/NN" in result.stderr
