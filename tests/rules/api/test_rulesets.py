"""GET /api/v1/rulesets[...]: rulesets, activation history, versions and their documents."""

from __future__ import annotations

from flask import Flask

from rules.store import versions
from tests.rules.api.conftest import NAME, Api, db_of, fields, mortgage, mortgage_v2


def _with_v2_active(app: Flask) -> None:
    with db_of(app).session() as s:
        versions.create_version(s, NAME, mortgage_v2(), base=1, actor="user:a", proposal_id=None)
    with db_of(app).session() as s:
        versions.activate(s, NAME, 2, "user:b", note="wider approval")


def test_rulesets_are_listed(api: Api) -> None:
    r = api.get("/api/v1/rulesets", key="read")
    assert r.status_code == 200
    assert [
        (x["name"], x["active_version"], x["latest_version"]) for x in r.get_json()["items"]
    ] == [(NAME, 1, 1)]


def test_a_ruleset_shows_its_activations_and_the_version_active_at_a_time(
    api: Api, app: Flask
) -> None:
    _with_v2_active(app)
    body = api.get(f"/api/v1/rulesets/{NAME}").get_json()
    assert (body["active_version"], body["latest_version"]) == (2, 2)
    history = body["activations"]
    assert [(a["version"], a["previous"], a["actor"]) for a in history] == [
        (1, None, "cli:test"),
        (2, 1, "user:b"),
    ]
    assert "active_at" not in body

    def active_at(at: str) -> int | None:
        r = api.get(f"/api/v1/rulesets/{NAME}", query_string={"at": at})
        assert r.status_code == 200, r.get_json()
        value: int | None = r.get_json()["active_at"]["version"]
        return value

    assert active_at(history[0]["activated_at"]) == 1
    assert active_at(history[1]["activated_at"]) == 2
    assert active_at("2000-01-01T00:00:00Z") is None


def test_a_time_without_a_timezone_or_not_a_time_is_a_422(api: Api) -> None:
    for at in ("2025-01-01T00:00:00", "yesterday"):
        r = api.get(f"/api/v1/rulesets/{NAME}", query_string={"at": at})
        assert r.status_code == 422
        assert "timezone" in fields(r)["at"]["message"]


def test_versions_are_listed_and_each_has_its_document_and_hash(api: Api, app: Flask) -> None:
    _with_v2_active(app)
    listed = api.get(f"/api/v1/rulesets/{NAME}/versions").get_json()["items"]
    assert [(v["version"], v["parent"], v["active"]) for v in listed] == [
        (1, None, False),
        (2, 1, True),
    ]
    assert all("document" not in v for v in listed)
    for number, doc in ((1, mortgage()), (2, mortgage_v2())):
        body = api.get(f"/api/v1/rulesets/{NAME}/versions/{number}").get_json()
        assert body["hash"] == doc.hash
        assert body["document"] == doc.to_dict()


def test_unknown_rulesets_and_versions_are_404_problems(api: Api) -> None:
    for path in (
        "/api/v1/rulesets/nope",
        "/api/v1/rulesets/nope/versions",
        f"/api/v1/rulesets/{NAME}/versions/3",
        f"/api/v1/rulesets/{NAME}/versions/{2**40}",
    ):
        r = api.get(path)
        assert r.status_code == 404, path
        fields(r)
