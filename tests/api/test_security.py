"""Security: every route refuses missing, wrong and revoked keys; each role reaches exactly its routes;
UI pages need a log-in; uploads reject oversized and malformed files with a coded error."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import ROLES, create_key, revoke_key
from api.ui import routes as ui
from search.store import Store
from tests.api.conftest import Served

ALL = set(ROLES)
# (method, path template) -> roles admitted; a new route without an entry fails the coverage test
MATRIX: dict[tuple[str, str], set[str]] = {
    ("POST", "/classify"): ALL,
    ("GET", "/search"): ALL,
    ("GET", "/search/export"): ALL,
    ("GET", "/searches"): ALL,
    ("POST", "/searches"): {"admin", "demand_manager", "labeler"},
    ("GET", "/records/{record_id}"): ALL,
    ("GET", "/customers/{customer_key}/history"): {"admin", "complaint_agent"},
    ("GET", "/proposals"): {"admin", "demand_manager", "viewer"},
    ("GET", "/proposals/{proposal_id}"): {"admin", "demand_manager", "viewer"},
    ("POST", "/proposals/{proposal_id}/status"): {"admin", "demand_manager"},
    ("GET", "/triage"): {"admin", "complaint_agent"},
    ("POST", "/triage/{record_id}/claim"): {"admin", "complaint_agent"},
    ("POST", "/triage/{record_id}/release"): {"admin", "complaint_agent"},
    ("GET", "/trends"): {"admin", "demand_manager", "viewer"},
    ("GET", "/reports/{period}"): {"admin", "demand_manager", "viewer"},
    ("POST", "/ingest/{source}"): {"admin", "labeler"},
    ("POST", "/ingest/pull/{name}"): {"admin", "labeler"},
    ("GET", "/taxonomy"): ALL,
    ("POST", "/taxonomy/validate"): {"admin", "labeler"},
    ("GET", "/taxonomy/versions"): {"admin", "labeler"},
    ("POST", "/taxonomy/versions"): {"admin"},
    ("POST", "/taxonomy/versions/{ref}/activate"): {"admin"},
    ("GET", "/taxonomy/diff"): {"admin", "labeler"},
    ("GET", "/models"): {"admin", "labeler"},
    ("GET", "/models/{model_id}"): {"admin", "labeler"},
    ("POST", "/models/{model_id}/promote"): {"admin"},
    ("POST", "/models/{model_id}/attach"): {"admin"},
    ("POST", "/jobs"): {"admin", "labeler"},
    ("GET", "/jobs"): {"admin", "labeler"},
    ("GET", "/jobs/{job_id}"): {"admin", "labeler"},
    ("POST", "/jobs/{job_id}/cancel"): {"admin", "labeler"},
}
PUBLIC = {("GET", "/health"), ("GET", "/metrics"), ("GET", "/")}
PARAMS = {"record_id": "tickets:nope", "customer_key": "c_nope", "proposal_id": "P-nope", "period": "2026-10", "source": "tickets"}
PARAMS |= {"name": "nope", "ref": "nope", "model_id": "987654", "job_id": "987654"}
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture()
def client(served_store: Served, tmp_path: Path) -> tuple[TestClient, Served]:
    db = tmp_path / "radar.db"
    shutil.copy(served_store.db, db)
    served = Served(db, served_store.keys, served_store.settings.model_copy(update={"db": db, "max_upload_mb": 0.01}))
    return TestClient(create_app(served.settings, rate=10_000, burst=10_000)), served


def _api_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document: the API's public contract."""
    paths = client.get("/openapi.json").json()["paths"]
    return [(m.upper(), p) for p, ops in paths.items() for m in ops if (m.upper(), p) not in PUBLIC]


def _url(template: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], template)


def test_the_matrix_covers_every_route(client: tuple[TestClient, Served]) -> None:
    assert set(_api_routes(client[0])) == set(MATRIX)


def test_every_route_refuses_missing_wrong_and_revoked_keys(client: tuple[TestClient, Served]) -> None:
    http, served = client
    with Store.open(served.db) as store:
        doomed = create_key(store, "leaver", "admin")
        revoke_key(store, doomed["id"])
    for method, template in MATRIX:
        for key in (None, "dr_wrong", doomed["key"]):
            response = http.request(method, _url(template), headers={"X-API-Key": key} if key else {}, json={"text": "x"})
            assert response.status_code == 401 and response.json()["code"] == "E502", (method, template, key)


def test_each_role_reaches_exactly_its_routes(client: tuple[TestClient, Served]) -> None:
    http, served = client
    for (method, template), admitted in MATRIX.items():
        for role in ROLES:
            response = http.request(method, _url(template), headers={"X-API-Key": served.keys[role]}, json={"text": "x"})
            if role in admitted:
                assert response.status_code not in (401, 403), (role, method, template, response.text[:200])
            else:
                assert response.status_code == 403 and response.json()["code"] == "E503", (role, method, template)


def test_only_complaint_teams_see_grades_and_raw_numbers(client: tuple[TestClient, Served]) -> None:
    http, served = client
    queue = http.get("/triage", headers={"X-API-Key": served.keys["complaint_agent"]}).json()
    assert queue["items"] and all("grade" in item for item in queue["items"])
    record_id = queue["items"][0]["record_id"]
    for role in ("demand_manager", "viewer", "labeler"):
        record = http.get(f"/records/{record_id}", headers={"X-API-Key": served.keys[role]})
        assert record.status_code == 200 and "customer_key" not in record.json() and "grade" not in record.text
        assert not PHONE.findall(record.text)
        revealed = http.get(f"/records/{record_id}", params={"reveal": True}, headers={"X-API-Key": served.keys[role]})
        assert revealed.status_code == 403


def test_ui_pages_need_a_log_in(client: tuple[TestClient, Served]) -> None:
    http, _ = client
    http.cookies.set("radar_key", "dr_wrong")
    pages = [r for r in ui.router.routes if isinstance(r, APIRoute) and r.path != "/ui/login"]
    assert len(pages) >= 10
    for route in pages:
        for method in route.methods:
            path = re.sub(r"\{(\w+)\}", lambda m: {"action": "claim"}.get(m.group(1), PARAMS.get(m.group(1), "1")), route.path)
            response = http.request(method, path, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"].startswith("/ui/login"), (method, path)


def test_login_redirect_stays_on_this_site(client: tuple[TestClient, Served]) -> None:
    http, served = client
    response = http.post("/ui/login", data={"key": served.keys["viewer"], "next": "//evil.example/x"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/"
    assert "httponly" in response.headers["set-cookie"].lower() and "samesite=strict" in response.headers["set-cookie"].lower()


@pytest.mark.parametrize(
    ("filename", "content", "status", "code"),
    [
        ("big.csv", b"a,b\n" + b"x" * 20_000, 413, "E508"),  # the client fixture allows 0.01 MB
        ("tickets.exe", b"MZ\x90\x00", 415, "E509"),
        ("tickets.xlsx", b"PK\x03\x04 this is no workbook", 422, "E512"),
        ("tickets.csv", b"", 400, "E101"),
        ("../../etc/passwd.csv", b"\xff\xfe\x00garbage\x00\x00", 422, "E512"),
    ],
)
def test_uploads_reject_oversized_and_malformed_files(
    client: tuple[TestClient, Served], filename: str, content: bytes, status: int, code: str
) -> None:
    http, served = client
    response = http.post("/ingest/tickets", files={"file": (filename, content)}, headers={"X-API-Key": served.keys["labeler"]})
    assert response.status_code == status and response.json()["code"] == code, response.text
    assert "radar-upload" not in response.text  # no server paths in errors
